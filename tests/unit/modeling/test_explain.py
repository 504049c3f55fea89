"""SHAP values from XGBoost add up to the model's margin, and the HTML report is self-contained."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xgboost

from mlplatform.modeling.explain import ShapResult, compute_shap_values, shap_importance_rows
from mlplatform.reporting.shap_report import render_shap_report


@pytest.fixture(scope="module")
def model_and_frame() -> tuple[xgboost.Booster, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n = 500
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.uniform(size=n),
            "d": rng.normal(size=n),
        }
    )
    frame.loc[rng.choice(n, 40, replace=False), "c"] = np.nan
    label = (2.5 * frame["a"] + 0.3 * frame["b"] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    dtrain = xgboost.DMatrix(frame, label=label, missing=float("nan"))
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1},
        dtrain,
        num_boost_round=20,
    )
    return booster, frame


@pytest.fixture(scope="module")
def result(model_and_frame: tuple[xgboost.Booster, pd.DataFrame]) -> ShapResult:
    booster, frame = model_and_frame
    return compute_shap_values(booster, frame)


def test_shap_values_sum_to_margin(model_and_frame, result: ShapResult) -> None:
    booster, frame = model_and_frame
    margin = booster.predict(xgboost.DMatrix(frame, missing=float("nan")), output_margin=True)
    assert result.values.shape == (len(frame), 4)
    assert result.base_values.shape == (len(frame),)
    assert result.feature_names == ["a", "b", "c", "d"]
    np.testing.assert_allclose(result.values.sum(axis=1) + result.base_values, margin, atol=1e-4)


def test_signal_feature_ranks_first(result: ShapResult) -> None:
    importance = result.global_importance()
    assert importance[0][0] == "a"
    values = [v for _, v in importance]
    assert values == sorted(values, reverse=True)


def test_importance_rows(result: ShapResult) -> None:
    rows = shap_importance_rows(result)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["feature"] == "a"
    assert sorted(r["feature"] for r in rows) == ["a", "b", "c", "d"]
    assert all(isinstance(r["mean_abs_shap"], float) for r in rows)


def test_report_is_self_contained_html(model_and_frame, result: ShapResult) -> None:
    booster, frame = model_and_frame
    scores = booster.predict(xgboost.DMatrix(frame, missing=float("nan")))
    open_before = len(plt.get_fignums())
    html = render_shap_report(
        result,
        model_name="churn<model>",
        model_version=7,
        metrics={"auc": 0.91234, "logloss": 0.3},
        scores=scores,
        top_k_dependence=2,
        n_local=3,
    )
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "SHAP" in html
    assert "churn&lt;model&gt;" in html and "churn<model>" not in html
    assert "v7" in html
    assert "auc" in html and "0.91234" in html
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 1 + 1 + 2 + 3
    assert all(len(img) > 1000 for img in images)
    assert "http://" not in html and "https://" not in html
    assert len(plt.get_fignums()) == open_before


def test_report_without_scores_uses_margin(result: ShapResult) -> None:
    html = render_shap_report(
        result, model_name="m", model_version=1, metrics={}, top_k_dependence=1, n_local=2
    )
    assert html.count('src="data:image/png;base64,') == 1 + 1 + 1 + 2
    assert "top score #1" in html and "random row" in html
