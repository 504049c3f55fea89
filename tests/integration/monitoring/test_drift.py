"""Drift on small Spark DataFrames: reference profiles, per-column verdicts, summary and report."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mlplatform.config.specs import DriftSpec
from mlplatform.monitoring.drift.profile import OTHER, build_reference_profile
from mlplatform.monitoring.drift.verdict import compute_drift, drift_summary
from mlplatform.reporting.drift_report import render_drift_report

N = 5000
NUMERIC = ["x", "y"]
CATEGORICAL = ["c"]


def _frame(seed: int, *, shift: float = 0.0, c_probs: tuple[float, ...] = (0.5, 0.3, 0.2)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, N)
    y = rng.uniform(0.0, 10.0, N).astype(object)
    y[rng.random(N) < 0.02] = None
    c = rng.choice(["a", "b", "c"], size=N, p=list(c_probs))
    score = 1.0 / (1.0 + np.exp(-(x + rng.normal(0.0, 0.5, N))))
    return pd.DataFrame({"x": x, "y": y.astype(float), "c": c, "score": score})


def _check(profile: dict, df, **spec):  # type: ignore[no-untyped-def]
    return compute_drift(profile, df, DriftSpec(**spec))


@pytest.fixture(scope="module")
def profile(spark) -> dict:  # type: ignore[no-untyped-def]
    return build_reference_profile(
        spark.createDataFrame(_frame(1)), NUMERIC, CATEGORICAL, score_col="score", bins=10
    )


@pytest.mark.spark
def test_profile_shape_and_json(profile: dict) -> None:
    json.dumps(profile, allow_nan=False)
    assert profile["row_count"] == N
    x = profile["features"]["x"]
    assert x["kind"] == "numeric"
    assert x["edges"][0] is None and x["edges"][-1] is None
    assert len(x["edges"]) == 11 and len(x["proportions"]) == 10
    assert sum(x["proportions"]) == pytest.approx(1.0)
    assert all(abs(p - 0.1) < 0.01 for p in x["proportions"])
    assert abs(x["mean"]) < 0.1 and abs(x["std"] - 1.0) < 0.1
    assert profile["features"]["y"]["null_rate"] == pytest.approx(0.02, abs=0.01)
    c = profile["features"]["c"]
    assert c["categories"] == ["a", "b", "c", OTHER]
    assert c["proportions"][-1] == 0.0
    assert profile["prediction"]["kind"] == "numeric"


@pytest.mark.spark
def test_same_distribution_does_not_drift(spark, profile: dict) -> None:  # type: ignore[no-untyped-def]
    drifts = _check(profile, spark.createDataFrame(_frame(2)))
    assert [d.feature for d in drifts] == ["x", "y", "c", "score"]
    assert not any(d.drifted for d in drifts), [(d.feature, d.value) for d in drifts]
    summary = drift_summary(drifts)
    assert summary["features_checked"] == 3
    assert summary["features_drifted"] == [] and summary["prediction_drifted"] is False


@pytest.mark.spark
def test_shift_drifts_exactly_x_and_c(spark, profile: dict) -> None:  # type: ignore[no-untyped-def]
    batch = spark.createDataFrame(_frame(3, shift=1.5, c_probs=(0.9, 0.05, 0.05)))
    drifts = _check(profile, batch, feature_thresholds={"y": 0.25})
    by_name = {d.feature: d for d in drifts}
    assert sorted(n for n, d in by_name.items() if d.drifted and d.feature_kind != "prediction") == ["c", "x"]
    assert by_name["y"].threshold == 0.25 and by_name["x"].threshold == 0.1
    assert by_name["x"].metric == "wasserstein" and by_name["c"].metric == "jensenshannon"
    assert by_name["score"].metric == "psi" and by_name["score"].threshold == 0.2
    assert by_name["score"].feature_kind == "prediction" and by_name["score"].drifted
    summary = drift_summary(drifts)
    assert sorted(summary["features_drifted"]) == ["c", "x"]
    assert summary["share_drifted"] == pytest.approx(2 / 3)
    assert summary["prediction_drifted"] is True

    html = render_drift_report(drifts, model_name="churn", model_version=3, ds="2024-01-02", summary=summary)
    assert "Drift report" in html and "DRIFTED" in html
    assert ">x<" in html and ">c<" in html
    assert html.count("data:image/png;base64,") >= 3


@pytest.mark.spark
def test_unseen_categories_and_nulls(spark, profile: dict) -> None:  # type: ignore[no-untyped-def]
    frame = _frame(4)
    frame.loc[:99, "c"] = "zzz"
    frame.loc[100:599, "x"] = math.nan
    frame.loc[600:1099, "y"] = None
    by_name = {d.feature: d for d in _check(profile, spark.createDataFrame(frame))}
    c = by_name["c"]
    assert c.bin_labels[-1] == OTHER and c.current_proportions[-1] == pytest.approx(100 / N)
    assert c.null_rate_current == 0.0
    x = by_name["x"]
    assert x.null_rate_current == pytest.approx(500 / N)
    assert sum(x.current_proportions) == pytest.approx(1.0)
    y = by_name["y"]
    assert y.null_rate_current >= 500 / N
    assert y.null_rate_reference == pytest.approx(0.02, abs=0.01)


@pytest.mark.spark
def test_batch_is_counted_in_the_profile_bins(spark) -> None:  # type: ignore[no-untyped-def]
    fp = {
        "kind": "numeric",
        "edges": [None, 1.0, 2.0, None],
        "proportions": [0.2, 0.4, 0.4],
        "null_rate": 0.0,
    }
    profile = {"row_count": 5, "features": {"v": fp}, "prediction": None}
    df = spark.createDataFrame(pd.DataFrame({"v": [0.5, 1.0, 1.5, 2.0, 3.0, None]}))
    (v,) = _check(profile, df)
    assert v.current_proportions == pytest.approx((0.2, 0.4, 0.4))
    assert v.null_rate_current == pytest.approx(1 / 6) and v.current_rows == 6
    assert v.bin_labels == ("(-inf, 1)", "[1, 2)", "[2, +inf)")
    assert (v.metric, v.value, v.drifted) == ("psi", 0.0, False)  # no quantile grid: PSI decides


@pytest.mark.spark
def test_empty_batch_raises(spark, profile: dict) -> None:  # type: ignore[no-untyped-def]
    empty = spark.createDataFrame(_frame(5)).limit(0)
    with pytest.raises(ValueError, match="empty"):
        _check(profile, empty)


@pytest.mark.spark
def test_small_reference_uses_p_value_tests(spark) -> None:  # type: ignore[no-untyped-def]
    small = build_reference_profile(spark.createDataFrame(_frame(1).head(800)), NUMERIC, CATEGORICAL)
    same = {d.feature: d for d in _check(small, spark.createDataFrame(_frame(2).head(800)))}
    assert same["x"].metric == "ks" and same["c"].metric == "chi2"
    assert not any(d.drifted for d in same.values()), same
    moved = _frame(3, shift=0.5, c_probs=(0.3, 0.3, 0.4)).head(800)
    shifted = {d.feature: d for d in _check(small, spark.createDataFrame(moved))}
    assert shifted["x"].drifted and shifted["x"].p_value < 0.05
    assert shifted["c"].drifted and not shifted["y"].drifted


@pytest.mark.spark
def test_quality_flags_for_nulls_and_unseen_categories(spark, profile: dict) -> None:  # type: ignore[no-untyped-def]
    frame = _frame(6)
    frame.loc[:299, "c"] = "new-category"
    frame.loc[300:899, "y"] = None
    by_name = {d.feature: d for d in _check(profile, spark.createDataFrame(frame))}
    assert by_name["c"].unseen_rate == pytest.approx(300 / N)
    assert by_name["c"].quality_flags == ("unseen_categories",)
    assert by_name["y"].quality_flags == ("null_rate",)
    assert by_name["x"].quality_flags == ()
    summary = drift_summary(list(by_name.values()))
    assert summary["quality_alerts"] == {"c": ["unseen_categories"], "y": ["null_rate"]}


@pytest.mark.spark
def test_skew_scope_and_report_history(spark, profile: dict) -> None:  # type: ignore[no-untyped-def]
    inputs = build_reference_profile(spark.createDataFrame(_frame(1)[["x"]]), ["x"], [])
    skew = compute_drift(
        inputs, spark.createDataFrame(_frame(8, shift=1.0)[["x"]]), DriftSpec(), scope="model_input"
    )
    assert [(d.feature, d.scope, d.drifted) for d in skew] == [("x", "model_input", True)]
    drifts = _check(profile, spark.createDataFrame(_frame(9))) + skew
    summary = drift_summary(drifts)
    assert summary["skewed_features"] == ["x"] and summary["features_drifted"] == []
    history = [
        {
            "score_date": f"2026-01-0{i}",
            "scope": "input",
            "feature": "x",
            "metric": "wasserstein",
            "value": 0.05 * i,
            "threshold": 0.1,
            "drifted": 0.05 * i >= 0.1,
        }
        for i in range(1, 4)
    ]
    performance = [
        {"score_date": "2026-01-01", "auc": 0.8, "precision": 0.6, "recall": 0.5, "labeled_rows": 100}
    ]
    html = render_drift_report(
        drifts,
        model_name="m",
        model_version=1,
        ds="2026-01-03",
        summary=summary,
        history=history,
        performance=performance,
    )
    assert "Drift over time" in html and "Performance over time" in html
    assert "Train-serve skew" in html
