"""Model cards: what a registered version is for, what it was trained on, how good it is, and
where it should not be trusted, as a JSON-serialisable dict and as Markdown.

Pure Python: the inputs are the spec (a ``ModelSpec`` or its dict), the version's metrics (flat,
or the full evaluation report with ``metrics``/``confidence_intervals``/``slices``), its top SHAP
features, training inputs (tables with their Delta versions), parameters and versions of code and
libraries. The limitations section is a standard list completed with what the spec's drift tests
are and what the metrics show (class imbalance, small holdout, wide intervals, weak slices). The
Markdown form is ``reporting/templates/model_card.md.j2``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from mlplatform.monitoring.drift.verdict import FeatureKind, choose_stattest
from mlplatform.reporting.render import render

if TYPE_CHECKING:
    from mlplatform.config.specs import DriftSpec, ModelSpec

CARD_FORMAT = 1
IMBALANCE_RATE = 0.2
SMALL_HOLDOUT_ROWS = 1000
WIDE_AUC_INTERVAL = 0.05
WEAK_SLICE_AUC_GAP = 0.05
SMALL_SLICE_ROWS = 30
METRIC_ORDER = (
    "auc",
    "pr_auc",
    "logloss",
    "brier",
    "precision_at_threshold",
    "recall_at_threshold",
    "positive_rate",
    "holdout_rows",
)


def _model_spec(spec: Any) -> ModelSpec:
    from mlplatform.config.specs import ModelSpec

    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, dict):
        return ModelSpec.model_validate(spec)
    raise TypeError(f"spec must be a ModelSpec or a dict, got {type(spec).__name__}")


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None


def _split_metrics(metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Point metrics, intervals and slices from a flat metrics dict or a full evaluation report."""
    if isinstance(metrics.get("metrics"), dict):
        point_source = metrics["metrics"]
    else:
        point_source = metrics
    point = {
        k: v
        for k, v in point_source.items()
        if k not in ("confidence_intervals", "slices") and (v is None or _number(v) is not None)
    }
    ordered = {k: point[k] for k in METRIC_ORDER if k in point}
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


def _fmt(value: Any, digits: int = 4) -> str:
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
) -> list[str]:
    source = data["details"].get("source_uri") or spec.source.training.path
    batch = data["details"].get("batch_id")
    target, positive = spec.columns.target, spec.columns.target_positive
    items = [
        f"Trained on the population in the training source ({source or 'unknown'}"
        f"{', batch ' + str(batch) if batch else ''}); rows from outside that population (new segments, "
        "markets, products or time periods) are extrapolations.",
        _drift_sentence(spec.drift),
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


def build_model_card(
    spec_dict_or_spec: Any,
    version: int,
    metrics: dict[str, Any],
    top_features: list[dict[str, Any]],
    training_inputs: dict[str, Any],
    params: dict[str, Any],
    code_version: str,
    library_versions: dict[str, Any],
) -> dict[str, Any]:
    """The card of one model version as a JSON-serialisable dict (deterministic for equal inputs)."""
    spec = _model_spec(spec_dict_or_spec)
    point, intervals, slices = _split_metrics(metrics or {})
    data = _data_section(training_inputs or {})
    features = [
        {
            "rank": int(row.get("rank", rank)),
            "feature": row.get("feature"),
            "mean_abs_shap": _number(row.get("mean_abs_shap")),
        }
        for rank, row in enumerate(top_features or [], start=1)
    ]
    return {
        "format": CARD_FORMAT,
        "model": spec.name,
        "version": int(version),
        "purpose": spec.description,
        "owner": spec.owner,
        "tags": list(spec.tags),
        "target": {"column": spec.columns.target, "positive": spec.columns.target_positive},
        "decision_threshold": spec.training.decision_threshold,
        "data": data,
        "metrics": point,
        "confidence_intervals": {k: v for k, v in intervals.items() if v},
        "slices": slices,
        "top_features": features,
        "limitations": _limitations(spec, point, intervals, slices, data),
        "promotion_gates": spec.promotion.model_dump(),
        "drift_monitoring": spec.drift.model_dump(),
        "params": params or {},
        "code_version": code_version,
        "library_versions": dict(library_versions or {}),
    }


def _cell(value: Any) -> str:
    """A value as one Markdown table cell: formatted like the card's numbers, pipes escaped."""
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _interval_header(intervals: dict[str, Any]) -> str:
    level = next((ci.get("level") for ci in intervals.values() if ci and ci.get("level")), None)
    return f"{level:.0%} interval" if level else "interval"


def render_model_card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown: purpose, owner, data, metrics, slices, top features, limitations,
    training parameters, library versions and code version."""
    return render(
        "model_card.md.j2",
        card=card,
        fmt=_fmt,
        cell=_cell,
        interval_header=_interval_header(card["confidence_intervals"]),
    )
