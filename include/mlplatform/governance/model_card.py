"""Model cards: what a registered version is for, what it was trained on, how good it is, and
where it should not be trusted, as a JSON-serialisable dict and as Markdown.

Pure Python: the inputs are the spec (a ``ModelSpec`` or its dict), the version's metrics (flat,
or the full evaluation report with ``metrics``/``confidence_intervals``/``slices``), its top SHAP
features, training inputs (tables with their Delta versions), parameters and versions of code and
libraries. The limitations section is a standard list completed with what the spec's drift tests
are and what the metrics show (class imbalance, small holdout, wide intervals, weak slices). The
task type (``spec.task``) decides the target, the metrics and the extra sections: multiclass
cards carry the per-class table and the confusion matrix, regression cards the residual summary
(``governance.card_tasks``). The Markdown form is ``reporting/templates/model_card.md.j2``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplatform.governance import card_tasks
from mlplatform.governance.card_tasks import fmt as _fmt
from mlplatform.governance.card_tasks import number as _number
from mlplatform.monitoring.drift.verdict import FeatureKind, choose_stattest
from mlplatform.reporting.render import render

if TYPE_CHECKING:
    from mlplatform.config.specs import DriftSpec, ModelSpec

CARD_FORMAT = 1
TOP_FEATURES = 10
IMBALANCE_RATE = 0.2
SMALL_HOLDOUT_ROWS = card_tasks.SMALL_HOLDOUT_ROWS
WIDE_AUC_INTERVAL = card_tasks.WIDE_AUC_INTERVAL
WEAK_SLICE_AUC_GAP = card_tasks.WEAK_SLICE_AUC_GAP
SMALL_SLICE_ROWS = card_tasks.SMALL_SLICE_ROWS
METRIC_ORDER = card_tasks.METRIC_ORDER["binary"]


def _model_spec(spec: Any) -> ModelSpec:
    from mlplatform.config.specs import ModelSpec

    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, dict):
        return ModelSpec.model_validate(spec)
    raise TypeError(f"spec must be a ModelSpec or a dict, got {type(spec).__name__}")


def _split_metrics(
    metrics: dict[str, Any], order: tuple[str, ...] = METRIC_ORDER
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Point metrics (in the task's ``order``), intervals and slices from a flat metrics dict or a
    full evaluation report."""
    if isinstance(metrics.get("metrics"), dict):
        point_source = metrics["metrics"]
    else:
        point_source = metrics
    point = {
        k: v
        for k, v in point_source.items()
        if k not in ("confidence_intervals", "slices", "per_class", "confusion_matrix", "residuals")
        and (v is None or _number(v) is not None)
    }
    ordered = {k: point[k] for k in order if k in point}
    ordered.update({k: v for k, v in sorted(point.items()) if k not in ordered})
    intervals = metrics.get("confidence_intervals") or point_source.get("confidence_intervals") or {}
    slices = metrics.get("slices") or point_source.get("slices") or {}
    return ordered, dict(intervals), dict(slices)


def _data_section(training_inputs: dict[str, Any]) -> dict[str, Any]:
    tables = []
    details = {}
    for name, value in training_inputs.items():
        if isinstance(value, dict) and "uri" in value:
            tables.append(
                {
                    "name": name,
                    "uri": value["uri"],
                    "delta_version": value.get("version", value.get("delta_version")),
                }
            )
        else:
            details[name] = value
    return {"tables": tables, "details": details}


_TEST_NAMES = {
    "wasserstein": "the Wasserstein distance normed by the reference's standard deviation",
    "jensenshannon": "the Jensen-Shannon distance",
    "psi": "PSI",
    "ks": "the Kolmogorov-Smirnov test",
    "chi2": "the chi-squared test",
}
_DRIFT_TARGETS: tuple[tuple[FeatureKind, str], ...] = (
    ("numeric", "numeric features"),
    ("categorical", "categorical features"),
    ("prediction", "the score"),
)


def _stattest_text(method: str, threshold: float) -> str:
    if method in ("ks", "chi2"):
        return f"{_TEST_NAMES[method]} (drift when its p-value is below {_fmt(threshold, 2)})"
    return f"{_TEST_NAMES[method]} (drift at {_fmt(threshold, 2)} or more)"


def _drift_sentence(drift: DriftSpec) -> str:
    """What the scoring runs test, as ``choose_stattest`` picks it on each side of ``small_sample_rows``."""
    rows = drift.small_sample_rows
    parts = []
    for kind, what in _DRIFT_TARGETS:
        large = choose_stattest(kind, rows + 1, drift)
        small = choose_stattest(kind, rows, drift)
        text = f"{what} by {_stattest_text(*large)}"
        if small != large:
            text += f" above {rows} reference rows and by {_stattest_text(*small)} at or below"
        parts.append(text)
    overrides = ", ".join(
        f"{name} {_fmt(value, 2)}" for name, value in sorted(drift.feature_thresholds.items())
    )
    return (
        "Input drift is checked on every scoring batch against the training data: "
        + "; ".join(parts)
        + (f"; with per-feature thresholds {overrides}" if overrides else "")
        + ". These tests detect shifts in distributions, not losses of accuracy, which need outcomes "
        "joined back to the predictions."
    )


def _limitations(
    spec: ModelSpec,
    point: dict[str, Any],
    intervals: dict[str, Any],
    slices: dict[str, Any],
    data: dict[str, Any],
    report: dict[str, Any],
) -> list[str]:
    source = data["details"].get("source_uri") or spec.source.training.path
    batch = data["details"].get("batch_id")
    target, positive = spec.columns.target, spec.columns.target_positive
    items = [
        f"Trained on the population in the training source ({source or 'unknown'}"
        f"{', batch ' + str(batch) if batch else ''}); rows from outside that population (new segments, "
        "markets, products or time periods) are extrapolations.",
        _drift_sentence(spec.drift),
    ]
    if spec.task == "multiclass":
        return items + card_tasks.multiclass_limitations(spec, point, intervals, slices, report)
    if spec.task == "regression":
        return items + card_tasks.regression_limitations(spec, point, intervals, slices, report)
    items += [
        f"Decisions use a fixed threshold of {_fmt(spec.training.decision_threshold, 2)} on the score"
        + (
            f" (holdout precision {_fmt(point.get('precision_at_threshold'))}, "
            f"recall {_fmt(point.get('recall_at_threshold'))})"
            if point.get("precision_at_threshold") is not None or point.get("recall_at_threshold") is not None
            else ""
        )
        + "; another threshold gives another precision/recall trade-off.",
        "Scores are XGBoost probabilities without recalibration; check the calibration plot before "
        "reading them as probabilities rather than as a ranking.",
        "SHAP values explain the model's use of its features, not causal effects in the world.",
    ]
    rate = _number(point.get("positive_rate"))
    if rate is not None:
        if rate < IMBALANCE_RATE or rate > 1 - IMBALANCE_RATE:
            pr_auc = point.get("pr_auc")
            items.append(
                f"Class imbalance: {target} = {positive} in {rate:.1%} of holdout rows; accuracy is not "
                f"informative, read PR-AUC ({_fmt(pr_auc)}) against the base rate ({rate:.3f})."
            )
        else:
            items.append(
                f"Classes are reasonably balanced ({target} = {positive} in {rate:.1%} of holdout rows)."
            )
    rows = _number(point.get("holdout_rows"))
    if rows is not None and rows < SMALL_HOLDOUT_ROWS:
        items.append(f"The holdout has only {int(rows)} rows; the metrics carry sampling noise.")
    auc_ci = intervals.get("auc") or {}
    low, high = _number(auc_ci.get("low")), _number(auc_ci.get("high"))
    if low is not None and high is not None and high - low > WIDE_AUC_INTERVAL:
        items.append(
            f"The AUC interval is wide ({_fmt(low)} to {_fmt(high)} at {auc_ci.get('level', 0.95):.0%}); "
            "small differences between versions are not meaningful."
        )
    overall_auc = _number(point.get("auc"))
    for name, groups in slices.items():
        for group in groups or []:
            slice_rows = _number(group.get("rows"))
            slice_auc = _number(group.get("auc"))
            label = f"{name} = {group.get('value')}"
            if slice_rows is not None and slice_rows < SMALL_SLICE_ROWS:
                items.append(
                    f"Slice {label} has only {int(slice_rows)} holdout rows; its metrics are unreliable."
                )
            elif slice_auc is None and slice_rows:
                items.append(f"Slice {label} has a single class in the holdout; its AUC is undefined.")
            elif (
                overall_auc is not None
                and slice_auc is not None
                and overall_auc - slice_auc > WEAK_SLICE_AUC_GAP
            ):
                items.append(
                    f"The model is weaker on slice {label}: AUC {_fmt(slice_auc)} against {_fmt(overall_auc)} overall."
                )
    return items


def _top_features(top_features: list[dict[str, Any]], labels: dict[str, str] | None) -> list[dict[str, Any]]:
    """The overall SHAP rows (no ``class_label``), with each feature's human label when labels are given."""
    out = []
    overall = [row for row in top_features if row.get("class_label") is None][:TOP_FEATURES]
    for rank, row in enumerate(overall, start=1):
        item = {
            "rank": int(row.get("rank", rank)),
            "feature": row.get("feature"),
            "mean_abs_shap": _number(row.get("mean_abs_shap")),
        }
        if labels is not None:
            item["label"] = card_tasks.human_label(row.get("feature"), labels)
        out.append(item)
    return out


def build_model_card(
    spec_dict_or_spec: Any,
    version: int,
    metrics: dict[str, Any],
    top_features: list[dict[str, Any]],
    training_inputs: dict[str, Any],
    params: dict[str, Any],
    code_version: str,
    library_versions: dict[str, Any],
    *,
    feature_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The card of one model version as a JSON-serialisable dict (deterministic for equal inputs).

    The task is the spec's. ``metrics`` is the evaluation report (or flat metrics);
    ``top_features`` the SHAP importance rows (``shap_importance_rows``; the card keeps the first
    ``TOP_FEATURES`` overall rows, and rows with a ``class_label`` fill the multiclass
    ``class_features``); with ``feature_labels`` each feature row carries its human ``label``
    (None where the feature has none).
    """
    spec = _model_spec(spec_dict_or_spec)
    report = metrics or {}
    point, intervals, slices = _split_metrics(report, card_tasks.METRIC_ORDER[spec.task])
    data = _data_section(training_inputs or {})
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "model": spec.name,
        "version": int(version),
        "task": spec.task,
        "purpose": spec.description,
        "owner": spec.owner,
        "tags": list(spec.tags),
        "target": card_tasks.target(spec),
        "decision_threshold": spec.training.decision_threshold if spec.task == "binary" else None,
        "data": data,
        "metrics": point,
        "confidence_intervals": {k: v for k, v in intervals.items() if v},
        "slices": slices,
        **card_tasks.task_sections(spec.task, report),
        "top_features": _top_features(top_features or [], feature_labels),
        "limitations": _limitations(spec, point, intervals, slices, data, report),
        "promotion_gates": card_tasks.applied_gates(spec),
        "drift_monitoring": spec.drift.model_dump(),
        "params": params or {},
        "code_version": code_version,
        "library_versions": dict(library_versions or {}),
    }
    if spec.task == "multiclass":
        card["class_features"] = card_tasks.class_features(top_features or [], feature_labels)
    return card


def _cell(value: Any) -> str:
    """A value as one Markdown table cell: formatted like the card's numbers, pipes escaped."""
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _interval_header(intervals: dict[str, Any]) -> str:
    level = next((ci.get("level") for ci in intervals.values() if ci and ci.get("level")), None)
    return f"{level:.0%} interval" if level else "interval"


def _confusion_table(confusion: dict[str, Any] | None) -> dict[str, Any] | None:
    """The confusion matrix as a Markdown table's header and rows (actual class first)."""
    if not confusion or not confusion.get("classes"):
        return None
    classes = [str(c) for c in confusion["classes"]]
    rows = [[name, *counts] for name, counts in zip(classes, confusion["matrix"], strict=True)]
    return {
        "header": ["actual / predicted", *classes],
        "rows": rows,
        "columns": list(range(len(classes) + 1)),
    }


def render_model_card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown: purpose, owner, data, metrics (with the classes and confusion matrix
    of a multiclass model, the residuals of a regression), slices, top features, the gates of a
    multiclass or regression model, limitations, training parameters, library and code versions."""
    task = card.get("task", "binary")
    return render(
        "model_card.md.j2",
        card=card,
        fmt=_fmt,
        cell=_cell,
        interval_header=_interval_header(card["confidence_intervals"]),
        task=task,
        slice_columns=card_tasks.SLICE_COLUMNS[task],
        labelled=any(row.get("label") for row in card["top_features"]),
        confusion=_confusion_table(card.get("confusion_matrix")),
    )
