"""The promotion steps of a training run: gate → (a human approval, in Airflow) → promote.

The gate computes every check (thresholds, training data quality, the challenger against the
champion on the same holdout rows); the rules themselves live in ``mlplatform.governance.promotion``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlplatform.core.context import RunContext
from mlplatform.lifecycle.handoff import ExplainedVersion, GateResult, PromotionResult
from mlplatform.lifecycle.runner import Platform, step

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pyspark.sql import DataFrame

    from mlplatform.registry import LoadedModel

log = logging.getLogger("mlplatform.lifecycle")


class ChampionNotComparable(Exception):
    """The champion cannot score this run's holdout rows (it was built for other columns)."""


def _holdout_scores(
    p: Platform, holdout: DataFrame, batch_id: str, model: LoadedModel
) -> tuple[pd.DataFrame, np.ndarray]:
    """The run's holdout rows (row key, label) and a version's predictions on them, made with its
    own feature state: scores, a class-probability matrix (multiclass) or values."""
    from pyspark.errors import AnalysisException

    from mlplatform.features import engineering as fe
    from mlplatform.modeling.booster import predict_scores

    try:
        frame = (
            fe.apply_features(holdout, p.spec, model.feature_state, with_split=False)
            .orderBy("_row_id")
            .toPandas()
        )
        predictions = predict_scores(model.booster(), frame)
    except (fe.FeatureStateMismatchError, AnalysisException, KeyError, ValueError) as exc:
        raise ChampionNotComparable(f"v{model.version} cannot score batch {batch_id}: {exc}") from exc
    if model.signature.get("task", "binary") != p.spec.task:
        raise ChampionNotComparable(
            f"v{model.version} is a {model.signature.get('task', 'binary')} model; this run trains {p.spec.task}"
        )
    return frame[["_row_id", "label"]], predictions


def _training_quality(p: Platform, batch_id: str) -> tuple[float, int]:
    """Bad-row share and failed table-level expectations recorded for a training batch's validation."""
    from pyspark.sql import functions as F

    results = p.read("validation_results").where(F.col("batch_id") == batch_id).collect()
    if not results:
        raise RuntimeError(f"no validation results for batch {batch_id} in {p.table('validation_results')}")
    quarantined = p.read("quarantine").where(F.col("batch_id") == batch_id).count()
    total = max(int(results[0]["element_count"] or 0), 1)
    failures = sum(1 for r in results if not r["success"] and r["expectation"].startswith("expect_table"))
    return quarantined / total, failures


@step("gate", reads=("model_registry", "validation_results", "quarantine", "validated", "labels"))
def gate(p: Platform, ctx: RunContext, *, explained: ExplainedVersion | dict[str, Any]) -> GateResult:
    """The automatic promotion checks: thresholds, training data quality, the champion on the same rows."""
    from pyspark.sql import functions as F

    from mlplatform.data.training_window import holdout_period
    from mlplatform.governance import promotion
    from mlplatform.lifecycle.shared import training_rows
    from mlplatform.modeling.task_evaluation import paired_difference

    explained = ExplainedVersion.of(explained)
    rules, version, task = p.spec.promotion, explained.version, p.spec.task
    current = p.registry.champion_version(p.model)
    _, checks = promotion.decide_promotion(explained.metrics, rules, None, task)
    bad_share, table_failures = _training_quality(p, explained.batch_id)
    checks.append(
        promotion.training_quality_check(bad_share, table_failures, p.spec.validation.max_bad_row_fraction)
    )
    if current is not None and current != version:
        challenger = p.registry.load_version(p.model, version)
        champion = p.registry.load_version(p.model, current)
        checks.append(
            promotion.differs_from_champion_check(
                hashlib.sha256(challenger.booster_raw).hexdigest(),
                hashlib.sha256(champion.booster_raw).hexdigest(),
                current,
            )
        )
        rows = training_rows(p, explained.batch_id, explained.window)
        holdout = rows.where(F.col("_split") == "holdout").cache()
        try:
            rows_new, new = _holdout_scores(p, holdout, explained.batch_id, challenger)
            _, old = _holdout_scores(p, holdout, explained.batch_id, champion)
        except ChampionNotComparable as exc:
            recorded = promotion.recorded_comparison_check(explained.metrics, champion.metrics, rules, task)
            note = f"champion not comparable on the same rows ({exc}); recorded holdout metrics used"
            checks.append({**recorded, "champion_version": current, "note": note})
        else:
            diff = paired_difference(
                task,
                rows_new["label"].to_numpy(),
                new,
                old,
                n_bootstrap=rules.bootstrap_samples,
                seed=p.spec.training.seed,
            )
            check = promotion.champion_comparison_check(diff, rules, current, len(rows_new), task)
            check["holdout"] = holdout_period(explained.window)
            checks.append(check)
            log.info(
                "on the same %s holdout rows (%s): challenger v%s %s %.4f, champion v%s %.4f",
                len(rows_new),
                check["holdout"]["dates"] or "hash split",
                version,
                diff["metric"].upper(),
                diff["challenger"],
                current,
                diff["champion"],
            )
        holdout.unpersist()
    passed = all(c["passed"] for c in checks)
    failed = [c["check"] for c in checks if not c["passed"]]
    for c in checks:
        log.info(
            "check %s: value %s, threshold %s, passed %s",
            c["check"],
            c.get("value"),
            c.get("threshold"),
            c["passed"],
        )
    return GateResult(
        version=version,
        passed=passed,
        checks=checks,
        champion_version=current,
        reason="all checks passed" if passed else f"failed: {', '.join(failed)}",
        require_approval=rules.require_approval,
    )


@step("promote", reads=("model_registry",), writes=("promotion_decisions", "model_registry", "audit"))
def promote(
    p: Platform,
    ctx: RunContext,
    *,
    gate: GateResult | dict[str, Any],
    approval: dict[str, Any] | None = None,
) -> PromotionResult:
    """Record the decision (checks and human approval); make the version champion only when it passed."""
    from mlplatform.governance import promotion
    from mlplatform.registry import PromotionConflictError

    gate = GateResult.of(gate)
    current = p.registry.champion_version(p.model)
    if current == gate.version:
        return PromotionResult(
            version=gate.version,
            promoted=True,
            champion_version=current,
            reason="already champion",
            approval="not_required",
            already=True,
        )
    if current != gate.champion_version:
        raise PromotionConflictError(
            f"model '{p.model}': the champion changed from v{gate.champion_version} to v{current} "
            f"after the gate compared v{gate.version} with it; rerun the gate"
        )
    decided = promotion.parse_approval(
        approval, require_approval=gate.require_approval, gate_passed=gate.passed
    )
    promoted, reason = promotion.promotion_outcome(gate.passed, gate.reason, decided)

    def record(promoted: bool, reason: str) -> None:
        p.append(
            "promotion_decisions",
            [
                {
                    "model_name": p.model,
                    "version": gate.version,
                    "run_id": ctx.run_id,
                    "champion_version": current,
                    "checks": json.dumps(gate.checks, default=str),
                    "promoted": promoted,
                    "reason": reason,
                    "approval": decided.status,
                    "approver": decided.approver,
                    "approval_comment": decided.comment,
                    "decided_at": datetime.now(UTC),
                }
            ],
        )

    # The registry commits first: the decision row then says what happened, also when another
    # promotion of the model won the race (that run records promoted=false and fails).
    if promoted:
        try:
            p.registry.promote(
                model=p.model,
                version=gate.version,
                demote=gate.champion_version,
                alias="champion",
                run_id=ctx.run_id,
                dag_id=ctx.dag_id,
                actor=decided.approver or ctx.actor,
                reason=reason,
            )
        except PromotionConflictError as exc:
            record(False, f"{reason}; not promoted: another promotion committed first ({exc})")
            raise
    record(promoted, reason)
    p.audit(_audit_rows(p, ctx, gate, decided, promoted, reason))
    log.info("v%s %s: %s", gate.version, "promoted to champion" if promoted else "not promoted", reason)
    return PromotionResult(
        version=gate.version,
        promoted=promoted,
        champion_version=gate.version if promoted else current,
        reason=reason,
        approval=decided.status,
    )


def _audit_rows(
    p: Platform, ctx: RunContext, gate: GateResult, decided: Any, promoted: bool, reason: str
) -> list[dict[str, Any]]:
    """The human decision (approval or rejection), the promotion, and the champion it replaced."""
    from mlplatform.governance.audit import AuditAction, run_row

    rows = []
    if decided.status in ("approved", "rejected"):
        action = AuditAction.APPROVAL if decided.status == "approved" else AuditAction.REJECTION
        rows.append(
            run_row(
                action,
                ctx,
                p.model,
                version=gate.version,
                actor=decided.approver or ctx.actor,
                reason=decided.comment or "",
                details={"gate_passed": gate.passed},
            )
        )
    if promoted:
        actor = decided.approver or ctx.actor
        rows.append(
            run_row(AuditAction.PROMOTION, ctx, p.model, version=gate.version, actor=actor, reason=reason)
        )
        if gate.champion_version is not None:
            rows.append(
                run_row(
                    AuditAction.DEMOTION,
                    ctx,
                    p.model,
                    version=gate.champion_version,
                    actor=actor,
                    reason=f"replaced as champion by v{gate.version}",
                )
            )
    return rows
