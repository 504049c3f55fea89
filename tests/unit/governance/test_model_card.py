"""Model cards: fields from the spec, metrics (with intervals and slices), data and versions;
Markdown sections; derived limitations. Pure Python, no Spark."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlplatform.governance.model_card import build_model_card, render_model_card_markdown

REPORT: dict[str, Any] = {
    "metrics": {
        "auc": 0.84,
        "pr_auc": 0.41,
        "logloss": 0.38,
        "brier": 0.11,
        "precision_at_threshold": 0.55,
        "recall_at_threshold": 0.47,
        "positive_rate": 0.12,
        "holdout_rows": 600,
    },
    "confidence_intervals": {
        "auc": {"low": 0.79, "high": 0.88, "level": 0.95},
        "pr_auc": {"low": 0.33, "high": 0.49, "level": 0.95},
        "logloss": None,
    },
    "confusion_matrix": {"threshold": 0.5, "tn": 1, "fp": 2, "fn": 3, "tp": 4},
    "slices": {
        "contract": [
            {
                "value": "Month-to-month",
                "rows": 400,
                "positive_rate": 0.2,
                "auc": 0.70,
                "pr_auc": 0.4,
                "logloss": 0.5,
            },
            {
                "value": "Two year",
                "rows": 12,
                "positive_rate": 0.0,
                "auc": None,
                "pr_auc": None,
                "logloss": 0.1,
            },
            {
                "value": "One year",
                "rows": 188,
                "positive_rate": 0.05,
                "auc": None,
                "pr_auc": None,
                "logloss": 0.2,
            },
        ]
    },
}
TOP = [
    {"feature": "tenure_months", "mean_abs_shap": 0.61, "rank": 1},
    {"feature": "contract", "mean_abs_shap": 0.42, "rank": 2},
]
INPUTS = {
    "bronze": {"uri": "/lake/delta/models/churn_demo/bronze", "version": 3},
    "validated": {"uri": "/lake/delta/models/churn_demo/validated", "version": 4},
    "features": {"uri": "/lake/delta/models/churn_demo/features", "version": 7},
    "batch_id": "training_2024-01-01",
    "source_uri": "/lake/landing/churn_demo/training.csv",
}
PARAMS = {"xgb": {"max_depth": 5}, "conf": {}}
LIBS = {"xgboost": "3.2.0", "pyspark": "4.0.0", "python": "3.11.7"}


@pytest.fixture()
def card(churn_spec) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return build_model_card(churn_spec, 3, REPORT, TOP, INPUTS, PARAMS, "abc123-dirty", LIBS)


def test_card_fields(card, churn_spec) -> None:  # type: ignore[no-untyped-def]
    assert (card["model"], card["version"]) == ("churn_demo", 3)
    assert card["purpose"] == churn_spec.description
    assert card["owner"] == "ml-platform"
    assert card["target"] == {"column": "churned", "positive": "1"}
    assert card["decision_threshold"] == 0.5
    assert card["data"]["tables"] == [
        {"name": "bronze", "uri": "/lake/delta/models/churn_demo/bronze", "delta_version": 3},
        {"name": "validated", "uri": "/lake/delta/models/churn_demo/validated", "delta_version": 4},
        {"name": "features", "uri": "/lake/delta/models/churn_demo/features", "delta_version": 7},
    ]
    assert card["data"]["details"] == {
        "batch_id": "training_2024-01-01",
        "source_uri": "/lake/landing/churn_demo/training.csv",
    }
    assert list(card["metrics"])[:3] == ["auc", "pr_auc", "logloss"]
    assert card["metrics"]["holdout_rows"] == 600
    assert "confusion_matrix" not in card["metrics"]
    assert card["confidence_intervals"]["auc"] == {"low": 0.79, "high": 0.88, "level": 0.95}
    assert "logloss" not in card["confidence_intervals"]  # None intervals are dropped
    assert [s["value"] for s in card["slices"]["contract"]] == ["Month-to-month", "Two year", "One year"]
    assert card["top_features"] == [
        {"rank": 1, "feature": "tenure_months", "mean_abs_shap": 0.61},
        {"rank": 2, "feature": "contract", "mean_abs_shap": 0.42},
    ]
    other_tasks = {"min_macro_f1", "max_rmse", "max_mae", "min_r2", "min_rmse_improvement"}
    gates = {k: v for k, v in churn_spec.promotion.model_dump().items() if k not in other_tasks}
    assert card["promotion_gates"] == gates and gates["min_pr_auc"] == 0.3
    assert card["task"] == "binary" and "per_class" not in card and "residuals" not in card
    assert card["drift_monitoring"] == churn_spec.drift.model_dump()
    assert (card["code_version"], card["library_versions"], card["params"]) == ("abc123-dirty", LIBS, PARAMS)
    json.dumps(card, allow_nan=False)  # JSON-serialisable as is


def test_spec_as_dict_and_flat_metrics_give_the_same_card(card, churn_spec) -> None:  # type: ignore[no-untyped-def]
    flat = {
        **REPORT["metrics"],
        "confidence_intervals": REPORT["confidence_intervals"],
        "slices": REPORT["slices"],
    }
    again = build_model_card(churn_spec.model_dump(), 3, flat, TOP, INPUTS, PARAMS, "abc123-dirty", LIBS)
    assert again == card


def test_limitations_are_derived_from_metrics(card) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(card["limitations"])
    assert "Trained on the population in the training source" in text
    assert "(/lake/landing/churn_demo/training.csv, batch" in text and "training_2024-01-01" in text
    assert "fixed threshold of 0.50" in text and "precision 0.5500" in text
    assert "Class imbalance" in text and "12.0%" in text
    assert "only 600 rows" in text
    assert "AUC interval is wide (0.7900 to 0.8800" in text
    assert "weaker on slice contract = Month-to-month: AUC 0.7000 against 0.8400" in text
    assert "contract = Two year has only 12 holdout rows" in text
    assert "contract = One year has a single class" in text


def _drift_limitation(card: dict[str, Any]) -> str:
    return next(item for item in card["limitations"] if item.startswith("Input drift"))


def test_drift_limitation_names_the_automatic_tests(churn_spec) -> None:  # type: ignore[no-untyped-def]
    spec = {**churn_spec.model_dump(), "drift": {"prediction_stattest": "psi"}}  # defaults otherwise
    text = _drift_limitation(build_model_card(spec, 1, {}, [], {}, {}, "v", {}))
    assert "numeric features by the Wasserstein distance normed by the reference's standard deviation" in text
    assert "(drift at 0.10 or more) above 1000 reference rows" in text
    assert "by the Kolmogorov-Smirnov test (drift when its p-value is below 0.05) at or below" in text
    assert "categorical features by the Jensen-Shannon distance (drift at 0.10 or more)" in text
    assert "by the chi-squared test" in text
    assert "the score by PSI (drift at 0.20 or more)" in text
    assert "PSI on each feature" not in text


def test_drift_limitation_follows_the_configured_tests(churn_spec) -> None:  # type: ignore[no-untyped-def]
    drift = {
        "numeric_stattest": "psi",
        "categorical_stattest": "jensenshannon",
        "prediction_stattest": "ks",
        "psi_threshold": 0.25,
        "jensenshannon_threshold": 0.2,
        "p_value_threshold": 0.01,
        "feature_thresholds": {"tenure_months": 0.3},
    }
    spec = {**churn_spec.model_dump(), "drift": {**churn_spec.drift.model_dump(), **drift}}
    text = _drift_limitation(build_model_card(spec, 1, {}, [], {}, {}, "v", {}))
    assert "numeric features by PSI (drift at 0.25 or more);" in text
    assert "categorical features by the Jensen-Shannon distance (drift at 0.20 or more);" in text
    assert "the score by the Kolmogorov-Smirnov test (drift when its p-value is below 0.01)" in text
    assert "with per-feature thresholds tenure_months 0.30" in text
    assert "reference rows" not in text and "Wasserstein" not in text


def test_balanced_large_holdout_has_only_the_standard_limitations(churn_spec) -> None:  # type: ignore[no-untyped-def]
    metrics = {"auc": 0.8, "pr_auc": 0.7, "logloss": 0.4, "positive_rate": 0.45, "holdout_rows": 50_000}
    card = build_model_card(churn_spec, 1, metrics, [], {}, {}, "v", {})
    text = "\n".join(card["limitations"])
    assert "reasonably balanced" in text and "Class imbalance" not in text
    assert "only" not in text and "interval is wide" not in text and "slice" not in text.lower()
    assert card["slices"] == {} and card["confidence_intervals"] == {}


def _sections(markdown: str) -> list[str]:
    return re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE)


def test_markdown_sections(card) -> None:  # type: ignore[no-untyped-def]
    md = render_model_card_markdown(card)
    assert md.startswith("# Model card: churn_demo v3\n")
    assert _sections(md) == [
        "Purpose",
        "Owner",
        "Data",
        "Metrics",
        "Slices",
        "Top features (SHAP)",
        "Limitations",
        "Training parameters",
        "Library versions",
        "Code version",
    ]
    assert "Predicts which subscription customers will cancel" in md
    assert "| features | /lake/delta/models/churn_demo/features | 7 |" in md
    assert "- batch_id: training_2024-01-01" in md
    assert "| metric | holdout value | 95% interval |" in md
    assert "| auc | 0.8400 | 0.7900 to 0.8800 |" in md
    assert "| logloss | 0.3800 |  |" in md
    assert "### contract" in md and "| Two year | 12 | 0.0000 | n/a | n/a | 0.1000 |" in md
    assert "| rank | feature | mean abs SHAP |" in md and "| 1 | tenure_months | 0.6100 |" in md
    assert "Target: `churned` = `1`; decision threshold 0.50." in md
    assert "- Class imbalance" in md
    assert "| xgboost | 3.2.0 |" in md
    assert "`abc123-dirty`" in md
    assert '- xgb: {"max_depth": 5}' in md


def test_markdown_of_a_sparse_card(churn_spec) -> None:  # type: ignore[no-untyped-def]
    spec = {**churn_spec.model_dump(), "description": "", "name": "bare"}
    md = render_model_card_markdown(build_model_card(spec, 1, {}, [], {}, {}, "", {}))
    assert "_No description in the model spec._" in md
    assert "_No training inputs recorded._" in md and "_No metrics recorded._" in md
    assert "_No slices configured._" in md and "_No SHAP report._" in md
    assert "Training parameters" not in md
    assert "`unknown`" in md


def test_cells_are_escaped(churn_spec) -> None:  # type: ignore[no-untyped-def]
    card = build_model_card(churn_spec, 1, {}, [{"feature": "a|b", "mean_abs_shap": 1.0}], {}, {}, "v", {})
    assert "| 1 | a\\|b | 1.0000 |" in render_model_card_markdown(card)


def test_rejects_other_spec_types() -> None:
    with pytest.raises(TypeError, match="ModelSpec or a dict"):
        build_model_card("churn_demo", 1, {}, [], {}, {}, "v", {})
