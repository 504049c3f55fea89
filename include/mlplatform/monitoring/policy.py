"""The retraining policy: is today's scoring run degraded, and has it been long enough to retrain?

Pure Python: today's signals plus the earlier decisions give the verdict, so the policy is
unit-tested without Spark or Airflow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from mlplatform.config.monitoring_sections import RetrainingPolicy


@dataclass(frozen=True)
class Signals:
    """What one scoring run measured that the policy judges."""

    share_drifted: float
    drifted_features: list[str]
    prediction_drifted: bool
    auc: float | None = None
    reference_auc: float | None = None
    performance_date: str | None = None
    rmse: float | None = None
    reference_rmse: float | None = None


@dataclass(frozen=True)
class NewLabels:
    """Labelled data that arrived after the champion's training cut-off (its ``as_of`` date)."""

    champion_version: int
    cutoff: str
    rows: int


@dataclass(frozen=True)
class PolicyDecision:
    degraded: bool
    signals: list[str]
    consecutive_degraded: int
    retrain: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    held: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def degradation_signals(policy: RetrainingPolicy, signals: Signals) -> list[str]:
    """The policy's conditions that today's run meets, each as a readable sentence."""
    met = []
    if signals.share_drifted >= policy.max_share_drifted:
        met.append(
            f"{signals.share_drifted:.0%} of input features drifted "
            f"({', '.join(signals.drifted_features)}) >= {policy.max_share_drifted:.0%}"
        )
    if policy.on_prediction_drift and signals.prediction_drifted:
        met.append("the prediction distribution drifted")
    if (
        policy.max_auc_drop is not None
        and signals.auc is not None
        and signals.reference_auc is not None
        and signals.reference_auc - signals.auc >= policy.max_auc_drop
    ):
        met.append(
            f"AUC on labels of {signals.performance_date} is {signals.auc:.3f}, "
            f"{signals.reference_auc - signals.auc:.3f} below the holdout AUC {signals.reference_auc:.3f}"
        )
    if (
        policy.max_rmse_increase is not None
        and signals.rmse is not None
        and signals.reference_rmse
        and signals.rmse / signals.reference_rmse - 1.0 >= policy.max_rmse_increase
    ):
        rise = signals.rmse / signals.reference_rmse - 1.0
        met.append(
            f"RMSE on labels of {signals.performance_date} is {signals.rmse:.4g}, {rise:.0%} above the "
            f"holdout RMSE {signals.reference_rmse:.4g} (limit {policy.max_rmse_increase:.0%})"
        )
    return met


def decide_retraining(
    policy: RetrainingPolicy,
    signals: Signals,
    earlier: list[dict[str, Any]],
    score_date: str,
    new_labels: NewLabels | None = None,
) -> PolicyDecision:
    """Today's verdict from today's signals and the decisions of earlier scoring dates.

    ``earlier`` holds one decision per earlier date (``score_date``, ``degraded``, ``retrain``),
    any order. The streak counts today and the degraded dates right before it, and restarts after
    a date that triggered retraining, so one episode of drift asks for one retraining.

    ``new_labels`` (given for a model with a training window and ``require_new_labels``) holds a
    retraining back when no labelled row arrived since the champion's cut-off: the decision is
    ``held``, not ``retrain``, and the streak goes on until new labels come.
    """
    met = degradation_signals(policy, signals)
    degraded = bool(met)
    today = date.fromisoformat(score_date)
    previous = sorted(
        (d for d in earlier if _as_date(d["score_date"]) < today), key=lambda d: _as_date(d["score_date"])
    )
    streak = 0
    if degraded:
        streak = 1
        for d in reversed(previous):
            if not d["degraded"] or d["retrain"]:
                break
            streak += 1
    last_retrain = max((_as_date(d["score_date"]) for d in previous if d["retrain"]), default=None)
    cooling = (
        last_retrain is not None
        and policy.cooldown_days > 0
        and today - last_retrain < timedelta(days=policy.cooldown_days)
    )
    retrain = policy.enabled and degraded and streak >= policy.consecutive_runs and not cooling
    held = retrain and new_labels is not None and new_labels.rows == 0
    details = asdict(signals) | ({"new_labels": asdict(new_labels)} if new_labels is not None else {})
    if held:
        assert new_labels is not None
        reason = (
            f"degraded, but no new labelled data since v{new_labels.champion_version} "
            f"(trained on labels through {new_labels.cutoff}); retraining waits for new labels: "
            + "; ".join(met)
        )
        return PolicyDecision(degraded, met, streak, False, reason, details, held=True)
    if retrain:
        reason = f"retraining policy on {score_date}: " + "; ".join(met)
        if policy.consecutive_runs > 1:
            reason += f" ({streak} degraded runs in a row)"
    elif not degraded:
        reason = "no degradation"
    elif not policy.enabled:
        reason = "degraded, but the retraining policy is disabled: " + "; ".join(met)
    elif cooling:
        reason = f"degraded, but retraining ran on {last_retrain} (cooldown {policy.cooldown_days} days)"
    else:
        reason = f"degraded {streak} of {policy.consecutive_runs} runs in a row: " + "; ".join(met)
    return PolicyDecision(degraded, met, streak, retrain, reason, details)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
