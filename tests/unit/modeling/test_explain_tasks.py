"""SHAP per class for multiclass boosters (XGBoost's (rows, classes, features + 1) contributions),
regression SHAP, importance rows with class labels, and the report per task with human labels."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xgboost

from mlplatform.modeling.explain import ShapResult, compute_shap_values, shap_importance_rows
from mlplatform.reporting.shap_report import render_shap_report

CLASSES = ["low", "mid", "high"]


def _images(html: str) -> list[str]:
    return re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)


@pytest.fixture(scope="module")
def multiclass() -> tuple[xgboost.Booster, pd.DataFrame]:
    """Class 0 when a is low, class 2 when a is high, and b decides class 1 in the middle."""
    rng = np.random.default_rng(3)
    n = 600
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "noise": rng.normal(size=n)})
    label = np.where(frame["a"] < -0.5, 0, np.where(frame["a"] > 0.5, 2, np.where(frame["b"] > 0, 1, 0)))
    booster = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0},
        xgboost.DMatrix(frame, label=label),
        num_boost_round=15,
    )
    return booster, frame


@pytest.fixture(scope="module")
def mc_result(multiclass) -> ShapResult:  # type: ignore[no-untyped-def]
    booster, frame = multiclass
    return compute_shap_values(booster, frame, class_names=CLASSES)


def test_installed_xgboost_gives_rows_classes_features_plus_one(multiclass) -> None:  # type: ignore[no-untyped-def]
    booster, frame = multiclass
    contribs = booster.predict(xgboost.DMatrix(frame), pred_contribs=True)
    assert contribs.shape == (len(frame), 3, frame.shape[1] + 1)


def test_multiclass_values_sum_to_each_class_margin(multiclass, mc_result) -> None:  # type: ignore[no-untyped-def]
    booster, frame = multiclass
    margin = booster.predict(xgboost.DMatrix(frame), output_margin=True)
    assert mc_result.multiclass and mc_result.class_names == CLASSES
    assert mc_result.values.shape == (len(frame), 3, 3)
    assert mc_result.base_values.shape == (len(frame), 3)
    np.testing.assert_allclose(mc_result.margins(), margin, atol=1e-4)
    np.testing.assert_allclose(mc_result.for_class(2).margins(), margin[:, 2], atol=1e-4)


def test_multiclass_importance_overall_and_per_class(mc_result) -> None:  # type: ignore[no-untyped-def]
    expected = np.abs(mc_result.values).mean(axis=0).mean(axis=0)
    overall = mc_result.global_importance()
    assert overall[0][0] == "a" and overall[-1][0] == "noise"
    assert dict(overall) == pytest.approx(dict(zip(["a", "b", "noise"], expected, strict=True)))
    per_class = mc_result.class_importance()
    assert list(per_class) == CLASSES
    mid = dict(per_class["mid"])
    assert mid["b"] == pytest.approx(np.abs(mc_result.values[:, 1, 1]).mean())
    assert per_class["low"][0][0] == "a"


def test_importance_rows_have_overall_then_class_rows(mc_result) -> None:  # type: ignore[no-untyped-def]
    rows = shap_importance_rows(mc_result)
    assert len(rows) == 3 + 3 * 3
    assert [r["class_label"] for r in rows[:3]] == [None, None, None]
    assert [r["rank"] for r in rows[:3]] == [1, 2, 3]
    for klass in CLASSES:
        mine = [r for r in rows if r["class_label"] == klass]
        assert [r["rank"] for r in mine] == [1, 2, 3]
        values = [r["mean_abs_shap"] for r in mine]
        assert values == sorted(values, reverse=True)
    assert all(set(r) == {"feature", "mean_abs_shap", "rank", "class_label"} for r in rows)


def test_class_names_must_match_the_model(multiclass) -> None:  # type: ignore[no-untyped-def]
    booster, frame = multiclass
    with pytest.raises(ValueError, match="2 class names for a model with 3 classes"):
        compute_shap_values(booster, frame, class_names=["x", "y"])
    default = compute_shap_values(booster, frame.head(5))
    assert default.class_names == ["0", "1", "2"]


@pytest.fixture(scope="module")
def regression() -> tuple[xgboost.Booster, pd.DataFrame]:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.normal(size=400), "status__lt_0": rng.integers(0, 2, 400).astype(float)})
    target = 3 * frame["x"] + 5 * frame["status__lt_0"] + rng.normal(scale=0.2, size=400)
    booster = xgboost.train(
        {"objective": "reg:squarederror", "max_depth": 3, "nthread": 1, "seed": 0},
        xgboost.DMatrix(frame, label=target),
        num_boost_round=20,
    )
    return booster, frame


def test_regression_values_sum_to_the_prediction(regression) -> None:  # type: ignore[no-untyped-def]
    booster, frame = regression
    result = compute_shap_values(booster, frame)
    assert not result.multiclass and result.class_names is None
    np.testing.assert_allclose(result.margins(), booster.predict(xgboost.DMatrix(frame)), atol=1e-4)
    assert all(r["class_label"] is None for r in shap_importance_rows(result))
    with pytest.raises(ValueError, match="single-output"):
        compute_shap_values(booster, frame, class_names=["a", "b"])
    with pytest.raises(ValueError, match="multiclass models only"):
        result.class_importance()


def test_multiclass_report_has_a_section_per_class(multiclass, mc_result) -> None:  # type: ignore[no-untyped-def]
    booster, frame = multiclass
    probabilities = booster.predict(xgboost.DMatrix(frame))
    open_before = len(plt.get_fignums())
    html = render_shap_report(
        mc_result,
        model_name="tiers",
        model_version=2,
        metrics={"auc": 0.93, "macro_f1": 0.8, "holdout_rows": 600, "missing": None},
        scores=probabilities,
        top_k_dependence=1,
        n_local=2,
        task="multiclass",
        feature_labels={"a": "Account <age>", "b": "b"},
    )
    for klass in CLASSES:
        assert f"<h2>Class {klass}</h2>" in html
    # stacked global bar + (bar + beeswarm) per class + 1 dependence + 2 waterfalls
    images = _images(html)
    assert len(images) == 1 + 2 * 3 + 1 + 2 and all(len(i) > 1000 for i in images)
    assert "<td>a</td><td>Account &lt;age&gt;</td>" in html and "Account <age>" not in html
    assert "<td>b</td><td></td>" in html  # a label equal to the name is not repeated
    assert "most likely class <b>" in html and "softmax logit" in html
    assert '<td>missing</td><td class="num">n/a</td>' in html
    assert "Beeswarm</h2>" not in html  # a global beeswarm mixes classes; each class has its own
    assert len(plt.get_fignums()) == open_before


def test_many_classes_plot_the_first_ten_only() -> None:
    rng = np.random.default_rng(5)
    n, k = 240, 12
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    values = rng.normal(size=(n, k, 2))
    result = ShapResult(values, np.zeros((n, k)), frame, ["a", "b"], [f"c{i}" for i in range(k)])
    html = render_shap_report(
        result, model_name="m", model_version=1, metrics={}, task="multiclass", top_k_dependence=0, n_local=0
    )
    assert html.count("<h2>Class c") == 12
    assert len(_images(html)) == 1 + 2 * 10
    assert html.count("Plots are drawn for the first 10 classes only.") == 2


def test_regression_report_says_it_explains_the_value(regression) -> None:  # type: ignore[no-untyped-def]
    booster, frame = regression
    result = compute_shap_values(booster, frame)
    html = render_shap_report(
        result,
        model_name="price",
        model_version=1,
        metrics={"rmse": 0.3},
        scores=booster.predict(xgboost.DMatrix(frame)),
        top_k_dependence=1,
        n_local=1,
        task="regression",
        feature_labels={"status__lt_0": "status = <0"},
    )
    assert "explain the predicted value itself" in html and "not a probability" in html
    assert "<td>status__lt_0</td><td>status = &lt;0</td>" in html
    assert len(_images(html)) == 1 + 1 + 1 + 1


def test_report_refuses_a_task_that_does_not_match_the_values(mc_result) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="per-class"):
        render_shap_report(
            mc_result.for_class(0), model_name="m", model_version=1, metrics={}, task="multiclass"
        )
    with pytest.raises(ValueError, match="single-output"):
        render_shap_report(mc_result, model_name="m", model_version=1, metrics={}, task="binary")
    with pytest.raises(ValueError, match=r"scores must have shape \(600, 3\)"):
        render_shap_report(
            mc_result, model_name="m", model_version=1, metrics={}, task="multiclass", scores=np.zeros(600)
        )
