"""The retirement step: archive every version, clear the champion alias, write the archive manifest.

After it, the model's scoring and training runs skip at their first task (``ingest`` checks the
registry), and promotion is refused.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from mlplatform.core.context import RunContext
from mlplatform.io import files
from mlplatform.lifecycle.handoff import RetirementResult
from mlplatform.lifecycle.runner import Platform, step

log = logging.getLogger("mlplatform.lifecycle")


@step("retire", reads=("model_registry",), writes=("model_registry", "audit"))
def retire(
    p: Platform, ctx: RunContext, *, reason: str, final_scoring: dict[str, Any] | None = None
) -> RetirementResult:
    """Retire the model: a retirement event, every version archived, and a manifest of its artifacts."""
    before = p.registry.model_state(p.model)
    common = {"actor": ctx.actor, "reason": reason, "run_id": ctx.run_id, "dag_id": ctx.dag_id}
    newly_retired = p.registry.retire_model(model=p.model, **common)
    registered = p.registry.versions(p.model)
    for v in registered:
        p.registry.archive_version(model=p.model, version=int(v["version"]), force=True, **common)
    manifest = {
        "model": p.model,
        "retired_at": datetime.now(UTC).isoformat(),
        "retired_by": ctx.actor,
        "reason": reason,
        "run_id": ctx.run_id,
        "champion_before": before["aliases"].get("champion"),
        "final_scoring": final_scoring,
        "versions": [
            {
                "version": int(v["version"]),
                "artifact_uri": v["artifact_uri"],
                "booster_sha256": v["booster_sha256"],
                "manifest_sha256": v["manifest_sha256"],
            }
            for v in registered
        ],
    }
    manifest_uri = p.layout.retirement_manifest(p.model)
    files.write_text(manifest_uri, json.dumps(manifest, indent=2, sort_keys=True))
    p.wrote_file("retirement_manifest", manifest_uri)
    after = p.registry.model_state(p.model)
    if newly_retired:
        from mlplatform.governance.audit import AuditAction, run_row

        details = {
            "archived_versions": sorted(after["archived"]),
            "champion_before": manifest["champion_before"],
        }
        p.audit([run_row(AuditAction.RETIREMENT, ctx, p.model, reason=reason, details=details)])
    log.info("retired %s (%s); archived versions %s", p.model, reason, sorted(after["archived"]))
    return RetirementResult(
        model=p.model,
        retired=after["retired"],
        newly_retired=newly_retired,
        champion_before=before["aliases"].get("champion"),
        aliases_after=after["aliases"],
        archived_versions=sorted(after["archived"]),
        manifest=manifest_uri,
    )
