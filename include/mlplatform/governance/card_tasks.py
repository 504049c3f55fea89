"""What a model card says differently per task type: the target, the order of the metrics, the
slice columns, the gates that applied, the per-class and residual sections and the limitations
of multiclass and regression models (``model_card`` keeps the binary card's own).

Pure Python on the evaluation report's JSON (``modeling.task_evaluation``) and the spec.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from mlplatform.config.tasks import TASK_SPECIFIC_PROMOTION_FIELDS, task_named

if TYPE_CHECKING:
    from mlplatform.config.specs import ModelSpec

SMALL_HOLDOUT_ROWS = 1000
SMALL_SLICE_ROWS = 30
WIDE_AUC_INTERVAL = 0.05
WEAK_SLICE_AUC_GAP = 0.05
WEAK_CLASS_F1_GAP = 0.1
RARE_CLASS_SHARE = 0.5  # of an even share (1/k): a class this rare is called imbalanced
WIDE_RMSE_INTERVAL = 0.2  # relative to the RMSE
WEAK_SLICE_RMSE_RATIO = 1.2
RESIDUAL_BIAS_SHARE = 0.1  # of the RMSE
CLASS_TOP_FEATURES = 5

METRIC_ORDER = {
    "binary": (
        "auc",
        "pr_auc",
        "logloss",
        "brier",
        "precision_at_threshold",
        "recall_at_threshold",
        "positive_rate",
        "holdout_rows",
    ),
    "multiclass": ("auc", "logloss", "macro_f1", "accuracy", "classes_present", "holdout_rows"),
    "regression": ("rmse", "mae", "r2", "label_mean", "holdout_rows"),
}
# (header, key) of the slice table per task, as the evaluation reports them.
SLICE_COLUMNS = {
    "binary": (
        ("value", "value"),
        ("rows", "rows"),
        ("positive rate", "positive_rate"),
        ("AUC", "auc"),
        ("PR-AUC", "pr_auc"),
        ("logloss", "logloss"),
    ),
    "multiclass": (
        ("value", "value"),
        ("rows", "rows"),
        ("macro AUC", "auc"),
        ("macro-F1", "macro_f1"),
        ("accuracy", "accuracy"),
        ("logloss", "logloss"),
    ),
    "regression": (("value", "value"), ("rows", "rows"), ("RMSE", "rmse"), ("MAE", "mae"), ("R²", "r2")),
}


def number(value: Any) -> float | int | None:
    """A finite int or float as itself; anything else (bool, None, NaN, text) as None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None


def fmt(value: Any, digits: int = 4) -> str:
    """A value as the card writes it: floats to ``digits`` places, None as n/a, containers as JSON."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def target(spec: ModelSpec) -> dict[str, Any]:
    """What the model predicts: binary, the column and its positive class; multiclass, the column
    and its classes in index order; regression, the column's value."""
    column = spec.columns.target
    if spec.task == "binary":
        return {"column": column, "positive": spec.columns.target_positive}
    if spec.task == "multiclass":
        return {"column": column, "classes": list(spec.columns.classes or [])}
    return {"column": column, "kind": "value"}


def applied_gates(spec: ModelSpec) -> dict[str, Any]:
    """The promotion settings that apply to the model's task (another task's fields left out)."""
    other = TASK_SPECIFIC_PROMOTION_FIELDS - set(task_named(spec.task).promotion_fields)
    return {k: v for k, v in spec.promotion.model_dump().items() if k not in other}


def task_sections(task: str, report: dict[str, Any]) -> dict[str, Any]:
    """The task's extra sections from a full evaluation report: multiclass ``per_class`` and
    ``confusion_matrix``, regression ``residuals`` (empty when the report lacks them)."""
    if task == "multiclass":
        return {
            "per_class": list(report.get("per_class") or []),
            "confusion_matrix": report.get("confusion_matrix") or None,
        }
    if task == "regression":
        return {"residuals": report.get("residuals") or None}
    return {}


def human_label(feature: Any, labels: dict[str, str]) -> str | None:
    """The feature's human label, or None when it has none or the label is the name itself."""
    label = labels.get(str(feature))
    return label if label and label != feature else None


def class_features(top_features: list[dict[str, Any]], labels: dict[str, str] | None) -> dict[str, list]:
    """Per class, its first ``CLASS_TOP_FEATURES`` SHAP rows (rows with a ``class_label``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in top_features:
        klass = row.get("class_label")
        if klass is None:
            continue
        rows = out.setdefault(str(klass), [])
        if len(rows) < CLASS_TOP_FEATURES:
            item = {"rank": int(row.get("rank", len(rows) + 1)), "feature": row.get("feature")}
            item["mean_abs_shap"] = number(row.get("mean_abs_shap"))
            if labels is not None:
                item["label"] = human_label(row.get("feature"), labels)
            rows.append(item)
    return out


def _slice_items(slices: dict[str, Any], weaker: Any) -> list[str]:
    items = []
    for name, groups in slices.items():
        for group in groups or []:
            rows = number(group.get("rows"))
            label = f"{name} = {group.get('value')}"
            if rows is not None and rows < SMALL_SLICE_ROWS:
                items.append(f"Slice {label} has only {int(rows)} holdout rows; its metrics are unreliable.")
            elif (text := weaker(label, group)) is not None:
                items.append(text)
    return items


def _common_tail(point: dict[str, Any], intervals: dict[str, Any], metric: str, name: str) -> list[str]:
    items = []
    rows = number(point.get("holdout_rows"))
    if rows is not None and rows < SMALL_HOLDOUT_ROWS:
        items.append(f"The holdout has only {int(rows)} rows; the metrics carry sampling noise.")
    ci = intervals.get(metric) or {}
    low, high, value = number(ci.get("low")), number(ci.get("high")), number(point.get(metric))
    if low is not None and high is not None:
        wide = (
            high - low > WIDE_AUC_INTERVAL
            if metric == "auc"
            else value is not None and value > 0 and (high - low) / value > WIDE_RMSE_INTERVAL
        )
        if wide:
            items.append(
                f"The {name} interval is wide ({fmt(low)} to {fmt(high)} at {ci.get('level', 0.95):.0%}); "
                "small differences between versions are not meaningful."
            )
    return items


def multiclass_limitations(
    spec: ModelSpec, point: dict[str, Any], intervals: dict[str, Any], slices: dict[str, Any], report: dict
) -> list[str]:
    """Limitations of a multiclass model: argmax decisions, uncalibrated softmax, class balance,
    absent and weak classes, holdout size, interval width and weak slices."""
    column = spec.columns.target
    items = [
        "Decisions take the most probable class (no per-class thresholds); per-class precision and "
        "recall are in the class table"
        + (f"; holdout macro-F1 {fmt(point.get('macro_f1'))}" if point.get("macro_f1") is not None else "")
        + ".",
        "Class probabilities are XGBoost softmax outputs without recalibration; read them as a ranking "
        "of the classes for a row rather than as calibrated probabilities.",
        "SHAP values explain the model's use of its features for each class's margin, not causal "
        "effects in the world.",
    ]
    per_class = [c for c in report.get("per_class") or [] if number(c.get("support")) is not None]
    total = sum(int(c["support"]) for c in per_class)
    if per_class and total:
        absent = [c["class"] for c in per_class if c["support"] == 0]
        for klass in absent:
            items.append(
                f"Class {klass} has no holdout rows; its metrics are undefined and the macro AUC averages "
                "the other classes."
            )
        present = [c for c in per_class if c["support"] > 0]
        rarest = min(present, key=lambda c: c["support"])
        share = rarest["support"] / total
        if share < RARE_CLASS_SHARE / len(per_class):
            items.append(
                f"Class imbalance: {column} = {rarest['class']} in only {share:.1%} of holdout rows "
                f"({rarest['support']}); accuracy is dominated by the common classes, read macro-F1 "
                f"({fmt(point.get('macro_f1'))}) and the per-class table."
            )
        else:
            items.append(
                f"Classes are reasonably balanced (the rarest, {column} = {rarest['class']}, "
                f"in {share:.1%} of holdout rows)."
            )
        macro_f1 = number(point.get("macro_f1"))
        for c in present:
            f1 = number(c.get("f1"))
            if macro_f1 is not None and f1 is not None and macro_f1 - f1 > WEAK_CLASS_F1_GAP:
                items.append(
                    f"The model is weaker on class {c['class']}: F1 {fmt(f1)} against macro-F1 {fmt(macro_f1)}."
                )
    items += _common_tail(point, intervals, "auc", "macro AUC")
    overall = number(point.get("auc"))

    def weaker(label: str, group: dict[str, Any]) -> str | None:
        auc = number(group.get("auc"))
        if auc is None and group.get("rows"):
            return f"Slice {label} has fewer than two classes in the holdout; its macro AUC is undefined."
        if overall is not None and auc is not None and overall - auc > WEAK_SLICE_AUC_GAP:
            return (
                f"The model is weaker on slice {label}: macro AUC {fmt(auc)} against {fmt(overall)} overall."
            )
        return None

    return items + _slice_items(slices, weaker)


def regression_limitations(
    spec: ModelSpec, point: dict[str, Any], intervals: dict[str, Any], slices: dict[str, Any], report: dict
) -> list[str]:
    """Limitations of a regression model: point predictions, the residual spread and bias, R²,
    holdout size, interval width and weak slices."""
    column = spec.columns.target
    residuals = report.get("residuals") or {}
    quantiles = residuals.get("quantiles") or {}
    spread = ""
    if number(quantiles.get("p05")) is not None and number(quantiles.get("p95")) is not None:
        spread = (
            f"; 90% of holdout residuals (actual - predicted) lie between {fmt(quantiles['p05'])} "
            f"and {fmt(quantiles['p95'])}"
        )
    items = [
        f"Predictions are point estimates of {column} (squared-error objective: the conditional mean), "
        f"without an interval per prediction{spread}.",
        "SHAP values explain the model's use of its features for the predicted value (in the target's "
        "units), not causal effects in the world.",
    ]
    rmse, bias = number(point.get("rmse")), number(residuals.get("mean"))
    if rmse and bias is not None and abs(bias) > RESIDUAL_BIAS_SHARE * rmse:
        direction = "low" if bias > 0 else "high"
        items.append(
            f"Predictions are biased: on the holdout they are too {direction} by {fmt(abs(bias))} on average."
        )
    if "r2" in point and point.get("r2") is None:
        items.append(f"R² is undefined: {column} is constant on the holdout.")
    items += _common_tail(point, intervals, "rmse", "RMSE")

    def weaker(label: str, group: dict[str, Any]) -> str | None:
        value = number(group.get("rmse"))
        if rmse and value is not None and value > WEAK_SLICE_RMSE_RATIO * rmse:
            return f"The model is weaker on slice {label}: RMSE {fmt(value)} against {fmt(rmse)} overall."
        return None

    return items + _slice_items(slices, weaker)
