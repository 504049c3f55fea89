"""Model cards of multiclass and regression models: the target, the task's metrics with intervals,
per-class table and confusion matrix, residual summary, the gates that applied, task limitations
and human feature labels. Built from real evaluation reports (``evaluate_task``)."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from mlplatform.governance.model_card import build_model_card, render_model_card_markdown
from mlplatform.modeling.task_evaluation import evaluate_task

CLASSES = ["basic", "plus", "premium"]
LABELS = {"contract__one_year": "contract = One year", "tenure_months": "tenure_months"}


def _spec(churn_spec, task: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    spec = churn_spec.model_dump()
    if task == "multiclass":
        columns = {**spec["columns"], "target": "plan", "classes": CLASSES}
        return {**spec, "task": task, "columns": columns, "promotion": {"min_auc": 0.7, "min_macro_f1": 0.5}}
    columns = {**spec["columns"], "target": "monthly_spend"}
    return {**spec, "task": task, "columns": columns, "promotion": {"max_rmse": 12.0, "min_r2": 0.3}}


def _multiclass_report(n: int = 3_000) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=1.5, size=(n, 3)) + np.array([1.0, 0.0, -1.5])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = (rng.random(n)[:, None] > probs.cumsum(axis=1)).sum(axis=1).astype(float)
    region = np.where(np.arange(n) % 2 == 0, "north", "south")
    return evaluate_task(
        "multiclass", labels, probs, classes=CLASSES, n_bootstrap=100, slices={"region": region}
    )


def _importance() -> list[dict[str, Any]]:
    overall = [
        {"feature": "tenure_months", "mean_abs_shap": 0.5, "rank": 1, "class_label": None},
        {"feature": "contract__one_year", "mean_abs_shap": 0.3, "rank": 2, "class_label": None},
    ]
    per_class = [
        {"feature": f, "mean_abs_shap": v, "rank": r, "class_label": c}
        for c in CLASSES
        for r, (f, v) in enumerate([("contract__one_year", 0.4), ("tenure_months", 0.2)], start=1)
    ]
    return overall + per_class


@pytest.fixture(scope="module")
def mc_report() -> dict[str, Any]:
    return _multiclass_report()


@pytest.fixture()
def mc_card(churn_spec, mc_report) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return build_model_card(
        _spec(churn_spec, "multiclass"), 2, mc_report, _importance(), {}, {}, "v", {}, feature_labels=LABELS
    )


def test_multiclass_card_fields(mc_card, mc_report) -> None:  # type: ignore[no-untyped-def]
    assert mc_card["task"] == "multiclass"
    assert mc_card["target"] == {"column": "plan", "classes": CLASSES}
    assert mc_card["decision_threshold"] is None
    assert list(mc_card["metrics"]) == [
        "auc",
        "logloss",
        "macro_f1",
        "accuracy",
        "classes_present",
        "holdout_rows",
    ]
    assert mc_card["metrics"]["auc"] == mc_report["metrics"]["auc"]
    assert set(mc_card["confidence_intervals"]) == {"auc", "logloss", "macro_f1", "accuracy"}
    assert mc_card["per_class"] == mc_report["per_class"]
    assert mc_card["confusion_matrix"] == mc_report["confusion_matrix"]
    assert [r["feature"] for r in mc_card["top_features"]] == ["tenure_months", "contract__one_year"]
    assert mc_card["top_features"][1]["label"] == "contract = One year"
    assert list(mc_card["class_features"]) == CLASSES
    assert mc_card["class_features"]["plus"][0]["feature"] == "contract__one_year"
    assert mc_card["promotion_gates"]["min_macro_f1"] == 0.5
    assert "min_pr_auc" not in mc_card["promotion_gates"] and "max_rmse" not in mc_card["promotion_gates"]
    json.dumps(mc_card, allow_nan=False)


def test_multiclass_markdown(mc_card, mc_report) -> None:  # type: ignore[no-untyped-def]
    md = render_model_card_markdown(mc_card)
    sections = re.findall(r"^## (.+)$", md, flags=re.MULTILINE)
    assert sections[:5] == ["Purpose", "Owner", "Data", "Metrics", "Classes"]
    assert "Promotion gates" in sections and sections.index("Promotion gates") < sections.index("Limitations")
    assert "Target: `plan`, one of 3 classes in class-index order: `basic`, `plus`, `premium`" in md
    auc, ci = mc_report["metrics"]["auc"], mc_report["confidence_intervals"]["auc"]
    assert f"| auc | {auc:.4f} | {ci['low']:.4f} to {ci['high']:.4f} |" in md
    assert "| macro_f1 |" in md and "| accuracy |" in md
    premium = mc_report["per_class"][2]
    assert f"| premium | {premium['support']} | {premium['auc']:.4f} |" in md
    assert "| actual / predicted | basic | plus | premium |" in md
    first = mc_report["confusion_matrix"]["matrix"][0]
    assert f"| basic | {first[0]} | {first[1]} | {first[2]} |" in md
    assert "| value | rows | macro AUC | macro-F1 | accuracy | logloss |" in md
    assert "| rank | feature | label | mean abs SHAP |" in md
    assert "| 2 | contract__one_year | contract = One year | 0.3000 |" in md
    assert "### Class premium" in md
    assert "- min_macro_f1: 0.5000" in md and "decision threshold" not in md


def test_multiclass_limitations(churn_spec, mc_report) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(
        build_model_card(_spec(churn_spec, "multiclass"), 1, mc_report, [], {}, {}, "v", {})["limitations"]
    )
    assert "most probable class" in text and "softmax outputs without recalibration" in text
    assert "fixed threshold" not in text and "PR-AUC" not in text
    share = mc_report["per_class"][2]["support"] / 3_000
    assert f"plan = premium in only {share:.1%} of holdout rows" in text  # the rare class
    report = {**mc_report, "per_class": [dict(c) for c in mc_report["per_class"]]}
    report["per_class"][1].update(support=0, auc=None, f1=0.0)
    text = "\n".join(
        build_model_card(_spec(churn_spec, "multiclass"), 1, report, [], {}, {}, "v", {})["limitations"]
    )
    assert "Class plus has no holdout rows" in text


def test_multiclass_weak_slice_and_small_holdout(churn_spec, mc_report) -> None:  # type: ignore[no-untyped-def]
    report = json.loads(json.dumps(mc_report))
    report["metrics"]["holdout_rows"] = 400
    report["slices"]["region"][0]["auc"] = report["metrics"]["auc"] - 0.2
    report["slices"]["region"][1]["rows"] = 10
    text = "\n".join(
        build_model_card(_spec(churn_spec, "multiclass"), 1, report, [], {}, {}, "v", {})["limitations"]
    )
    assert "weaker on slice region = north: macro AUC" in text
    assert "region = south has only 10 holdout rows" in text
    assert "only 400 rows" in text


@pytest.fixture(scope="module")
def reg_report() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    predicted = rng.normal(loc=60, scale=15, size=2_000)
    labels = predicted + rng.normal(scale=5, size=2_000)
    tier = np.where(np.arange(2_000) < 1_000, "small", "large")
    labels[tier == "large"] += rng.normal(scale=12, size=1_000)
    return evaluate_task("regression", labels, predicted, n_bootstrap=100, slices={"tier": tier})


def test_regression_card_and_markdown(churn_spec, reg_report) -> None:  # type: ignore[no-untyped-def]
    card = build_model_card(
        _spec(churn_spec, "regression"), 4, reg_report, _importance()[:2], {}, {}, "v", {}
    )
    assert card["target"] == {"column": "monthly_spend", "kind": "value"}
    assert list(card["metrics"]) == ["rmse", "mae", "r2", "label_mean", "holdout_rows"]
    assert card["residuals"] == reg_report["residuals"]
    assert set(card["promotion_gates"]) >= {"max_rmse", "max_mae", "min_r2", "min_rmse_improvement"}
    assert not {"min_auc", "max_logloss", "min_pr_auc", "min_macro_f1"} & set(card["promotion_gates"])
    assert "label" not in card["top_features"][0]  # no labels given: the binary card's rows
    md = render_model_card_markdown(card)
    sections = re.findall(r"^## (.+)$", md, flags=re.MULTILINE)
    assert sections[3:5] == ["Metrics", "Residuals"]
    assert "Target: the value of `monthly_spend` (regression, squared error); judged by RMSE." in md
    rmse, ci = reg_report["metrics"]["rmse"], reg_report["confidence_intervals"]["rmse"]
    assert f"| rmse | {rmse:.4f} | {ci['low']:.4f} to {ci['high']:.4f} |" in md
    assert f"| p95 | {reg_report['residuals']['quantiles']['p95']:.4f} |" in md
    assert "| value | rows | RMSE | MAE | R² |" in md
    assert "- max_rmse: 12.0000" in md
    text = "\n".join(card["limitations"])
    assert "point estimates of monthly_spend" in text and "90% of holdout residuals" in text
    assert "weaker on slice tier = large: RMSE" in text and "tier = small" not in text
    assert "calibration" not in text and "threshold" not in text


def test_regression_bias_and_undefined_r2(churn_spec) -> None:  # type: ignore[no-untyped-def]
    labels = np.full(50, 10.0)
    report = evaluate_task("regression", labels, labels - 3 + np.linspace(-1, 1, 50), n_bootstrap=20)
    text = "\n".join(
        build_model_card(_spec(churn_spec, "regression"), 1, report, [], {}, {}, "v", {})["limitations"]
    )
    assert "too low by 3.0000 on average" in text
    assert "R² is undefined" in text and "only 50 rows" in text


def test_binary_card_shows_labels_beside_names(churn_spec) -> None:  # type: ignore[no-untyped-def]
    card = build_model_card(churn_spec, 1, {}, _importance()[:2], {}, {}, "v", {}, feature_labels=LABELS)
    md = render_model_card_markdown(card)
    assert "| 2 | contract__one_year | contract = One year | 0.3000 |" in md
    assert "Promotion gates" not in md and "Classes" not in md


def test_card_keeps_the_first_ten_overall_features(churn_spec) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"feature": f"f{i}", "mean_abs_shap": 1.0 / (i + 1), "rank": i + 1, "class_label": None}
        for i in range(15)
    ]
    card = build_model_card(churn_spec, 1, {}, rows + _importance()[2:], {}, {}, "v", {})
    assert [r["feature"] for r in card["top_features"]] == [f"f{i}" for i in range(10)]
    assert "class_features" not in card  # binary: per-class rows are not a binary card's
