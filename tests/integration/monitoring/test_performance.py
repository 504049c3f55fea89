"""Monitoring: the retraining policy (pure), late labels and performance per scoring date (Spark)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from mlplatform.config.specs import RetrainingPolicy
from mlplatform.monitoring.performance import (
    LabelsError,
    Signals,
    decide_retraining,
    performance_by_date,
    read_labels,
)

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


@pytest.mark.spark
def test_performance_by_date_matches_sklearn(spark) -> None:  # type: ignore[no-untyped-def]
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    rng = np.random.default_rng(4)
    rows = []
    truth = {}
    for day, noise in ((date(2026, 11, 2), 0.3), (date(2026, 11, 3), 1.5)):
        for i in range(400):
            label = int(rng.random() < 0.3)
            score = float(1 / (1 + np.exp(-(2 * label - 1 + rng.normal(0, noise)))))
            score = round(score, 2)  # ties, which AUC must count as half
            rid = f"{day.day}-{i}"
            rows.append((day, rid, score, int(score >= 0.5), 1))
            if i % 4:  # a quarter of the predictions never get a label
                truth[rid] = label
    predictions = spark.createDataFrame(
        rows, "score_date date, row_id string, score double, prediction int, model_version int"
    )
    labels = spark.createDataFrame(list(truth.items()), "row_id string, label int")
    out = {r["score_date"]: r for r in performance_by_date(predictions, labels, {1: 0.5}).collect()}
    assert set(out) == {date(2026, 11, 2), date(2026, 11, 3)}
    frame = pd.DataFrame(rows, columns=["score_date", "row_id", "score", "prediction", "model_version"])
    frame["label"] = frame["row_id"].map(truth)
    for day, r in out.items():
        sub = frame[(frame["score_date"] == day) & frame["label"].notna()]
        assert r["predicted_rows"] == 400 and r["labeled_rows"] == len(sub) == 300
        assert r["auc"] == pytest.approx(roc_auc_score(sub["label"], sub["score"]), abs=1e-9)
        assert r["precision"] == pytest.approx(precision_score(sub["label"], sub["prediction"]))
        assert r["recall"] == pytest.approx(recall_score(sub["label"], sub["prediction"]))
        assert r["threshold"] == 0.5
    assert out[date(2026, 11, 2)]["auc"] > out[date(2026, 11, 3)]["auc"]


@pytest.mark.spark
def test_labels_file_keeps_bad_rows_and_names_missing_columns(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.config.specs import load_spec
    from tests.support import PROJECT_ROOT

    spec = load_spec(PROJECT_ROOT / "include" / "specs" / "churn_demo.yaml")
    good = tmp_path / "labels.csv"
    good.write_text("customer_id,churned\nC1,1\nC2,0\n,1\nC4,\nC5,yes\n")
    ok, bad = read_labels(spark, spec, str(good), "2026-11-03")
    assert sorted((r["row_id"], r["label"]) for r in ok.collect()) == [("C1", 1), ("C2", 0), ("C5", 0)]
    reasons = sorted(r["reason"] for r in bad.collect())
    assert reasons == ["missing churned", "missing customer_id"]
    assert ok.count() + bad.count() == 5  # nothing dropped silently
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,outcome\nC1,1\n")
    with pytest.raises(LabelsError, match=r"lacks column\(s\) \['customer_id', 'churned'\]"):
        read_labels(spark, spec, str(wrong), "2026-11-03")
