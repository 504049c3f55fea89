"""The promotion gate's rules, as pure functions of metrics, checks and the human approval.

Each check is a dict ``{"check", "value", "threshold", "passed", ...}`` that is recorded with
the decision. No Spark here: the lifecycle steps gather the numbers and call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlplatform.config.specs import PromotionSpec
from mlplatform.config.tasks import task_named


def _threshold(check: str, value: float | None, threshold: float, *, at_least: bool) -> dict[str, Any]:
    passed = value is not None and (value >= threshold if at_least else value <= threshold)
    out = {"check": check, "value": value, "threshold": threshold, "passed": bool(passed)}
    if value is None:
        out["note"] = "undefined on this holdout"
    return out


def threshold_checks(
    metrics: dict[str, Any], rules: PromotionSpec, task: str = "binary"
) -> list[dict[str, Any]]:
    """The absolute gates of the task: AUC, PR-AUC and logloss (binary); macro AUC, macro-F1 and
    logloss (multiclass); RMSE and MAE when set and R² (at least 0 unless set: no worse than
    predicting the mean) for regression."""
    if task == "regression":
        checks = [
            _threshold(
                "min_r2", metrics.get("r2"), 0.0 if rules.min_r2 is None else rules.min_r2, at_least=True
            )
        ]
        if rules.max_rmse is not None:
            checks.append(_threshold("max_rmse", metrics.get("rmse"), rules.max_rmse, at_least=False))
        if rules.max_mae is not None:
            checks.append(_threshold("max_mae", metrics.get("mae"), rules.max_mae, at_least=False))
        return checks
    checks = [_threshold("min_auc", metrics.get("auc"), rules.min_auc, at_least=True)]
    if task == "multiclass":
        checks.append(_threshold("min_macro_f1", metrics.get("macro_f1"), rules.min_macro_f1, at_least=True))
    else:
        checks.append(_threshold("min_pr_auc", metrics.get("pr_auc"), rules.min_pr_auc, at_least=True))
    checks.append(_threshold("max_logloss", metrics.get("logloss"), rules.max_logloss, at_least=False))
    return checks


def improvement_margin(rules: PromotionSpec, task: str = "binary") -> float:
    """How much better than the champion a challenger must be, in the primary metric's units."""
    return rules.min_rmse_improvement if task == "regression" else rules.min_auc_improvement


def recorded_comparison_check(
    metrics: dict[str, Any], champion_metrics: dict[str, Any], rules: PromotionSpec, task: str = "binary"
) -> dict[str, Any]:
    """The challenger's recorded primary metric against the champion's recorded one (used only when
    the champion cannot score the challenger's holdout rows): better by more than the margin."""
    t = task_named(task)
    mine, theirs = metrics.get(t.primary_metric), champion_metrics.get(t.primary_metric)
    margin = improvement_margin(rules, task)
    passed = mine is not None and theirs is not None and t.better(float(mine), float(theirs), margin)
    needed = None if theirs is None else float(theirs) + (margin if t.higher_is_better else -margin)
    return {
        "check": f"beats_champion_{t.primary_metric}",
        "value": mine,
        "threshold": needed,
        "passed": bool(passed),
    }


def decide_promotion(
    metrics: dict[str, Any],
    rules: PromotionSpec,
    champion_metrics: dict[str, Any] | None,
    task: str = "binary",
) -> tuple[bool, list[dict[str, Any]]]:
    """Absolute thresholds, then (given the champion's recorded metrics) beating its primary metric
    by more than the margin: a tie is not an improvement."""
    checks = threshold_checks(metrics, rules, task)
    if champion_metrics is not None:
        checks.append(recorded_comparison_check(metrics, champion_metrics, rules, task))
    return all(c["passed"] for c in checks), checks


def training_quality_check(
    bad_share: float, table_failures: int, max_bad_row_fraction: float
) -> dict[str, Any]:
    """The training batch's validation: no failed table-level expectation, few quarantined rows."""
    return {
        "check": "training_data_quality",
        "value": bad_share,
        "threshold": max_bad_row_fraction,
        "passed": table_failures == 0 and bad_share <= max_bad_row_fraction,
    }


def champion_comparison_check(
    diff: dict[str, Any], rules: PromotionSpec, champion_version: int, same_rows: int, task: str = "binary"
) -> dict[str, Any]:
    """The challenger against the champion on the same holdout rows (``diff`` is the paired
    improvement of the primary metric with its bootstrap interval, positive when the challenger is
    better): it must exceed the margin (a tie does not move the champion) or, with
    ``require_significant_improvement``, the interval's low end must."""
    margin = improvement_margin(rules, task)
    if rules.require_significant_improvement:
        passed = diff["low"] is not None and diff["low"] > margin
    else:
        passed = diff["difference"] > margin
    metric = task_named(task).primary_metric
    return {
        "check": f"beats_champion_{metric}",
        "metric": metric,
        "value": diff["difference"],
        "threshold": margin,
        "passed": bool(passed),
        "champion_version": champion_version,
        f"challenger_{metric}": diff["challenger"],
        f"champion_{metric}": diff["champion"],
        "interval": [diff["low"], diff["high"]],
        "level": diff["level"],
        "same_holdout_rows": same_rows,
    }


def differs_from_champion_check(
    challenger_sha256: str, champion_sha256: str, champion_version: int
) -> dict[str, Any]:
    """A challenger whose booster is byte-identical to the champion's (a rerun on the same data)
    is registered but never promoted: moving the champion to a copy of itself is churn."""
    same = challenger_sha256 == champion_sha256
    return {
        "check": "differs_from_champion",
        "value": challenger_sha256,
        "threshold": f"!= {champion_sha256}",
        "passed": not same,
        "champion_version": champion_version,
        "note": f"booster identical to champion v{champion_version}'s" if same else "booster differs",
    }


@dataclass(frozen=True)
class Approval:
    """The human decision on a promotion: ``status`` is not_required, not_requested (the gate
    failed), missing, approved or rejected."""

    status: str
    approver: str | None
    comment: str | None


def parse_approval(approval: dict[str, Any] | None, *, require_approval: bool, gate_passed: bool) -> Approval:
    """Read the approval task's response (chosen option, responding user, comment)."""
    if not require_approval:
        return Approval("not_required", None, None)
    if not gate_passed:
        return Approval("not_requested", None, None)
    if approval is None:
        return Approval("missing", None, None)
    chosen = (approval.get("chosen_options") or [""])[0]
    status = "approved" if chosen.lower().startswith("approve") else "rejected"
    user = approval.get("responded_by_user") or {}
    approver = (user.get("name") or user.get("id")) if isinstance(user, dict) else str(user)
    comment = (approval.get("params_input") or {}).get("comment")
    return Approval(status, approver, comment)


def promotion_outcome(gate_passed: bool, gate_reason: str, approval: Approval) -> tuple[bool, str]:
    """Whether to promote, and the reason recorded: the gate's, plus the approval when one was asked."""
    promoted = gate_passed and approval.status in ("not_required", "approved")
    if approval.status in ("not_required", "not_requested"):
        return promoted, gate_reason
    by = f" by {approval.approver}" if approval.approver else ""
    return promoted, f"{gate_reason}; approval {approval.status}{by}"
