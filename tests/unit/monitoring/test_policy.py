"""The retraining policy: streaks, restarts, cooldown, performance drops (pure Python)."""

from __future__ import annotations

from datetime import date

from mlplatform.config.monitoring_sections import RetrainingPolicy
from mlplatform.monitoring.policy import Signals, decide_retraining

DRIFTED = Signals(share_drifted=0.4, drifted_features=["a", "b"], prediction_drifted=True)
CALM = Signals(share_drifted=0.0, drifted_features=[], prediction_drifted=False)


def _day(d: int) -> str:
    return f"2026-11-{d:02d}"


def test_one_degraded_run_waits_for_the_streak() -> None:
    policy = RetrainingPolicy(max_share_drifted=0.3, consecutive_runs=2)
    first = decide_retraining(policy, DRIFTED, [], _day(3))
    assert first.degraded and not first.retrain and first.consecutive_degraded == 1
    assert "1 of 2 runs in a row" in first.reason
    earlier = [{"score_date": _day(3), "degraded": True, "retrain": False}]
    second = decide_retraining(policy, DRIFTED, earlier, _day(4))
    assert second.retrain and second.consecutive_degraded == 2
    assert second.reason.startswith("retraining policy on 2026-11-04:")
    assert "40% of input features drifted (a, b)" in second.reason
    assert "prediction distribution drifted" in second.reason


def test_a_calm_run_breaks_the_streak_and_a_trigger_restarts_it() -> None:
    policy = RetrainingPolicy(max_share_drifted=0.3, consecutive_runs=2)
    broken = [
        {"score_date": _day(2), "degraded": True, "retrain": False},
        {"score_date": _day(3), "degraded": False, "retrain": False},
    ]
    assert not decide_retraining(policy, DRIFTED, broken, _day(4)).retrain
    after_trigger = [
        {"score_date": _day(2), "degraded": True, "retrain": False},
        {"score_date": _day(3), "degraded": True, "retrain": True},
    ]
    again = decide_retraining(policy, DRIFTED, after_trigger, _day(4))
    assert again.consecutive_degraded == 1 and not again.retrain
    calm = decide_retraining(policy, CALM, after_trigger, _day(4))
    assert not calm.degraded and calm.reason == "no degradation" and calm.consecutive_degraded == 0


def test_later_dates_and_a_rerun_of_the_same_date_do_not_count() -> None:
    policy = RetrainingPolicy(max_share_drifted=0.3, consecutive_runs=2)
    future = [{"score_date": date(2026, 11, 9), "degraded": True, "retrain": False}]
    assert decide_retraining(policy, DRIFTED, future, _day(4)).consecutive_degraded == 1
    same_day = [{"score_date": _day(4), "degraded": True, "retrain": False}]
    assert not decide_retraining(policy, DRIFTED, same_day, _day(4)).retrain


def test_performance_drop_cooldown_and_disabled_policy() -> None:
    drop = Signals(0.0, [], False, auc=0.70, reference_auc=0.80, performance_date=_day(2))
    policy = RetrainingPolicy(max_auc_drop=0.05, consecutive_runs=1)
    decision = decide_retraining(policy, drop, [], _day(3))
    assert decision.retrain and "0.100 below the holdout AUC 0.800" in decision.reason
    small = Signals(0.0, [], False, auc=0.78, reference_auc=0.80)
    assert not decide_retraining(policy, small, [], _day(3)).degraded
    cooling = RetrainingPolicy(max_auc_drop=0.05, consecutive_runs=1, cooldown_days=7)
    recent = [{"score_date": _day(1), "degraded": True, "retrain": True}]
    held = decide_retraining(cooling, drop, recent, _day(3))
    assert held.degraded and not held.retrain and "cooldown 7 days" in held.reason
    off = decide_retraining(RetrainingPolicy(enabled=False, consecutive_runs=1), DRIFTED, [], _day(3))
    assert off.degraded and not off.retrain and "disabled" in off.reason
    no_pred = RetrainingPolicy(on_prediction_drift=False, max_share_drifted=0.9, consecutive_runs=1)
    assert not decide_retraining(no_pred, DRIFTED, [], _day(3)).degraded


def test_no_new_labels_since_the_champion_holds_retraining_and_says_why() -> None:
    from mlplatform.monitoring.policy import NewLabels

    policy = RetrainingPolicy(max_share_drifted=0.3, consecutive_runs=2)
    earlier = [{"score_date": _day(3), "degraded": True, "retrain": False}]
    none_new = NewLabels(champion_version=1, cutoff=_day(1), rows=0)
    held = decide_retraining(policy, DRIFTED, earlier, _day(4), none_new)
    assert held.degraded and held.held and not held.retrain
    assert held.reason.startswith(
        "degraded, but no new labelled data since v1 (trained on labels through 2026-11-01)"
    )
    assert "40% of input features drifted" in held.reason
    assert held.details["new_labels"] == {"champion_version": 1, "cutoff": _day(1), "rows": 0}
    # the streak goes on: the next degraded day with labels that arrived since the cut-off retrains
    earlier.append({"score_date": _day(4), "degraded": True, "retrain": False})
    arrived = decide_retraining(policy, DRIFTED, earlier, _day(5), NewLabels(1, _day(1), 1200))
    assert arrived.retrain and not arrived.held and arrived.consecutive_degraded == 3


def test_new_labels_do_not_matter_when_the_run_is_not_due_anyway() -> None:
    from mlplatform.monitoring.policy import NewLabels

    policy = RetrainingPolicy(max_share_drifted=0.3, consecutive_runs=2)
    first = decide_retraining(policy, DRIFTED, [], _day(3), NewLabels(1, _day(1), 0))
    assert not first.retrain and not first.held and "1 of 2 runs in a row" in first.reason
    calm = decide_retraining(policy, CALM, [], _day(3), NewLabels(1, _day(1), 0))
    assert not calm.held and calm.reason == "no degradation"


def test_a_regression_model_degrades_when_labelled_rmse_rises_past_the_share() -> None:
    policy = RetrainingPolicy(max_rmse_increase=0.15, consecutive_runs=1, on_prediction_drift=False)
    worse = Signals(0.0, [], False, rmse=11.6, reference_rmse=10.0, performance_date=_day(2))
    decision = decide_retraining(policy, worse, [], _day(3))
    assert (
        decision.retrain
        and "RMSE on labels of 2026-11-02 is 11.6, 16% above the holdout RMSE 10" in decision.reason
    )
    within = Signals(0.0, [], False, rmse=11.4, reference_rmse=10.0, performance_date=_day(2))
    assert decide_retraining(policy, within, [], _day(3)).degraded is False
