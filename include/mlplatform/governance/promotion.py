"""The promotion gate's rules, as pure functions of metrics, checks and the human approval.

Each check is a dict ``{"check", "value", "threshold", "passed", ...}`` that is recorded with
the decision. No Spark here: the lifecycle steps gather the numbers and call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlplatform.config.specs import PromotionSpec


def decide_promotion(
    metrics: dict[str, float], rules: PromotionSpec, champion_metrics: dict[str, float] | None
) -> tuple[bool, list[dict[str, Any]]]:
    """Absolute thresholds, then (given the champion's recorded metrics) beating its AUC by more
    than the margin: a tie is not an improvement."""
    checks = [
        {
            "check": "min_auc",
            "value": metrics["auc"],
            "threshold": rules.min_auc,
            "passed": metrics["auc"] >= rules.min_auc,
        },
        {
            "check": "min_pr_auc",
            "value": metrics["pr_auc"],
            "threshold": rules.min_pr_auc,
            "passed": metrics["pr_auc"] >= rules.min_pr_auc,
        },
        {
            "check": "max_logloss",
            "value": metrics["logloss"],
            "threshold": rules.max_logloss,
            "passed": metrics["logloss"] <= rules.max_logloss,
        },
    ]
    if champion_metrics is not None:
        needed = champion_metrics["auc"] + rules.min_auc_improvement
        checks.append(
            {
                "check": "beats_champion_auc",
                "value": metrics["auc"],
                "threshold": needed,
                "passed": metrics["auc"] > needed,
            }
        )
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
    diff: dict[str, Any], rules: PromotionSpec, champion_version: int, same_rows: int
) -> dict[str, Any]:
    """The challenger against the champion on the same holdout rows (``diff`` is the paired AUC
    difference with its bootstrap interval): the difference must exceed ``min_auc_improvement``
    (a tie does not move the champion) or, with ``require_significant_improvement``, the
    interval's low end must."""
    if rules.require_significant_improvement:
        passed = diff["low"] > rules.min_auc_improvement
    else:
        passed = diff["difference"] > rules.min_auc_improvement
    return {
        "check": "beats_champion_auc",
        "value": diff["difference"],
        "threshold": rules.min_auc_improvement,
        "passed": bool(passed),
        "champion_version": champion_version,
        "challenger_auc": diff["challenger_auc"],
        "champion_auc": diff["champion_auc"],
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
