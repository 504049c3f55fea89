"""The audit trail: who triggered, approved, promoted, demoted, retired or read what, and when.

One append-only Delta table (``audit`` in the catalog). Spark steps append through the platform
(``Platform.audit``); the web catalog appends the reads of model artifacts without a JVM
(``record_read``). Rows are never updated: Delta refuses it (``delta.appendOnly``).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mlplatform.core.context import RunContext, TriggerType

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("mlplatform.audit")


class AuditAction(StrEnum):
    TRIGGER = "trigger"
    APPROVAL = "approval"
    REJECTION = "rejection"
    PROMOTION = "promotion"
    DEMOTION = "demotion"
    RETIREMENT = "retirement"
    READ = "read"


#: Where an action came from, by the run's trigger type: a manual run is started in the web UI.
SOURCE_OF_TRIGGER = {
    TriggerType.MANUAL.value: "ui",
    TriggerType.API.value: "api",
    TriggerType.SCHEDULED.value: "schedule",
    TriggerType.ASSET.value: "asset",
    TriggerType.BACKFILL.value: "backfill",
    TriggerType.POLICY.value: "policy",
    TriggerType.CLI.value: "cli",
    TriggerType.TEST.value: "test",
}


def source_of(ctx: RunContext) -> str:
    return SOURCE_OF_TRIGGER.get(str(ctx.trigger_type), str(ctx.trigger_type))


def audit_row(
    action: AuditAction | str,
    *,
    actor: str,
    source: str,
    model: str | None,
    version: int | None = None,
    artifact: str | None = None,
    reason: str | None = None,
    run_id: str | None = None,
    dag_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit row as the catalog declares it."""
    return {
        "audit_id": str(uuid.uuid4()),
        "action": str(action),
        "actor": actor,
        "source": source,
        "model_name": model,
        "version": None if version is None else int(version),
        "artifact": artifact,
        "reason": reason or None,
        "run_id": run_id,
        "dag_id": dag_id,
        "details": json.dumps(details, default=str, sort_keys=True) if details else None,
        "event_time": datetime.now(UTC),
    }


def run_row(
    action: AuditAction | str,
    ctx: RunContext,
    model: str,
    *,
    version: int | None = None,
    actor: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An audit row for an action a run took: its actor, source, run and DAG."""
    return audit_row(
        action,
        actor=actor or ctx.actor,
        source=source_of(ctx),
        model=model,
        version=version,
        reason=reason if reason is not None else ctx.reason,
        run_id=ctx.run_id,
        dag_id=ctx.dag_id,
        details=details,
    )


def trigger_row(ctx: RunContext, model: str) -> dict[str, Any]:
    """The row saying who or what started a run (its first task writes it)."""
    details = {"trigger_type": str(ctx.trigger_type), "logical_date": ctx.ds}
    return run_row(AuditAction.TRIGGER, ctx, model, details=details)


def record_read(
    storage_root: str,
    *,
    actor: str,
    model: str,
    version: int | None,
    artifact: str,
    source: str = "ui",
) -> None:
    """Note that ``actor`` read a model artifact (through the catalog or a serving endpoint)."""
    from mlplatform.io.table_reader import append_table_rows

    row = audit_row(
        AuditAction.READ, actor=actor, source=source, model=model, version=version, artifact=artifact
    )
    append_table_rows(storage_root, "audit", [row])
    log.info("audit: %s read %s of %s v%s (%s)", actor, artifact, model, version, source)


def read_audit(
    storage_root: str,
    *,
    model: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: date | datetime | str | None = None,
    until: date | datetime | str | None = None,
) -> pd.DataFrame:
    """Audit rows, newest first, filtered by model, actor, action and a date range (inclusive)."""
    import pandas as pd

    from mlplatform.io.table_reader import read_table

    rows = read_table(storage_root, "audit", model=model)
    if actor:
        rows = rows[rows["actor"] == actor]
    if action:
        rows = rows[rows["action"] == action]
    times = pd.to_datetime(rows["event_time"], utc=True)
    if since:
        rows = rows[times >= pd.Timestamp(str(since), tz="UTC")]
        times = times[rows.index]
    if until:
        end = pd.Timestamp(str(until), tz="UTC")
        if len(str(until)) <= 10:
            end += pd.Timedelta(days=1)
            rows = rows[times < end]
        else:
            rows = rows[times <= end]
    return rows.sort_values("event_time", ascending=False).reset_index(drop=True)
