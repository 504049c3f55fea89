"""Model cards: what a registered version is for, what it was trained on, how good it is, and
where it should not be trusted, as a JSON-serialisable dict and as Markdown.

Pure Python: the inputs are the spec (a ``ModelSpec`` or its dict), the version's metrics (flat,
or the full evaluation report with ``metrics``/``confidence_intervals``/``slices``), its top SHAP
features, training inputs (tables with their Delta versions), parameters and versions of code and
libraries. The limitations section is a standard list completed with what the metrics show
(class imbalance, small holdout, wide intervals, weak slices).
"""

from __future__ import annotations

import json
import math
from typing import Any

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


def _spec_dict(spec: Any) -> dict[str, Any]:
    if hasattr(spec, "model_dump"):
        return spec.model_dump()
    if isinstance(spec, dict):
        return spec
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


def _limitations(
    spec: dict[str, Any],
    point: dict[str, Any],
    intervals: dict[str, Any],
    slices: dict[str, Any],
    data: dict[str, Any],
) -> list[str]:
    columns = spec.get("columns", {})
    training = spec.get("training", {})
    drift = spec.get("drift", {})
    source = data["details"].get("source_uri") or spec.get("source", {}).get("training", {}).get("path")
    batch = data["details"].get("batch_id")
    threshold = training.get("decision_threshold", 0.5)
    target = columns.get("target", "the target")
    positive = columns.get("target_positive", "1")
    items = [
        f"Trained on the population in the training source ({source or 'unknown'}"
        f"{', batch ' + str(batch) if batch else ''}); rows from outside that population (new segments, "
        "markets, products or time periods) are extrapolations.",
        f"Input drift is monitored by PSI on each feature (threshold {_fmt(drift.get('psi_threshold'), 2)}) "
        f"and on the score (threshold {_fmt(drift.get('prediction_psi_threshold'), 2)}); PSI detects shifts "
        "in distributions, not losses of accuracy, which need outcomes joined back to the predictions.",
        f"Decisions use a fixed threshold of {_fmt(float(threshold), 2)} on the score"
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
    spec = _spec_dict(spec_dict_or_spec)
    point, intervals, slices = _split_metrics(metrics or {})
    data = _data_section(training_inputs or {})
    features = []
    for rank, row in enumerate(top_features or [], start=1):
        features.append(
            {
                "rank": int(row.get("rank", rank)),
                "feature": row.get("feature"),
                "mean_abs_shap": _number(row.get("mean_abs_shap")),
            }
        )
    columns = spec.get("columns", {})
    return {
        "format": CARD_FORMAT,
        "model": spec.get("name"),
        "version": int(version),
        "purpose": spec.get("description") or "",
        "owner": spec.get("owner") or "",
        "tags": list(spec.get("tags") or []),
        "target": {"column": columns.get("target"), "positive": columns.get("target_positive")},
        "decision_threshold": spec.get("training", {}).get("decision_threshold"),
        "data": data,
        "metrics": point,
        "confidence_intervals": {k: v for k, v in intervals.items() if v},
        "slices": slices,
        "top_features": features,
        "limitations": _limitations(spec, point, intervals, slices, data),
        "promotion_gates": dict(spec.get("promotion") or {}),
        "drift_monitoring": dict(spec.get("drift") or {}),
        "params": params or {},
        "code_version": code_version,
        "library_versions": dict(library_versions or {}),
    }


def _cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def render_model_card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown: purpose, owner, data, metrics, slices, top features, limitations,
    library versions and code version."""
    out = [f"# Model card: {card['model']} v{card['version']}", ""]
    out += ["## Purpose", "", card.get("purpose") or "_No description in the model spec._", ""]
    target = card.get("target") or {}
    if target.get("column"):
        out += [
            f"Target: `{target['column']}` = `{target.get('positive')}`; decision threshold "
            f"{_fmt(card.get('decision_threshold'), 2)}.",
            "",
        ]
    out += ["## Owner", "", card.get("owner") or "_unknown_", ""]
    if card.get("tags"):
        out += ["Tags: " + ", ".join(card["tags"]), ""]

    data = card.get("data") or {}
    out += ["## Data", ""]
    if data.get("tables"):
        out += _table(
            ["input", "uri", "Delta version"],
            [[t["name"], t["uri"], t.get("delta_version")] for t in data["tables"]],
        )
        out.append("")
    for key, value in sorted((data.get("details") or {}).items()):
        out.append(f"- {key}: {_cell(value)}")
    if not data.get("tables") and not data.get("details"):
        out.append("_No training inputs recorded._")
    out.append("")

    out += ["## Metrics", ""]
    metrics = card.get("metrics") or {}
    intervals = card.get("confidence_intervals") or {}
    if metrics:
        rows = []
        for name, value in metrics.items():
            ci = intervals.get(name)
            ci_text = f"{_fmt(ci.get('low'))} to {_fmt(ci.get('high'))}" if ci else ""
            rows.append([name, value, ci_text])
        level = next((ci.get("level") for ci in intervals.values() if ci and ci.get("level")), None)
        ci_header = f"{level:.0%} interval" if level else "interval"
        out += _table(["metric", "holdout value", ci_header], rows)
    else:
        out.append("_No metrics recorded._")
    out.append("")

    slices = card.get("slices") or {}
    out += ["## Slices", ""]
    if slices:
        for name, groups in slices.items():
            out += [f"### {name}", ""]
            out += _table(
                ["value", "rows", "positive rate", "AUC", "PR-AUC", "logloss"],
                [
                    [
                        g.get("value"),
                        g.get("rows"),
                        g.get("positive_rate"),
                        g.get("auc"),
                        g.get("pr_auc"),
                        g.get("logloss"),
                    ]
                    for g in groups or []
                ],
            )
            out.append("")
    else:
        out += ["_No slices configured._", ""]

    out += ["## Top features (SHAP)", ""]
    if card.get("top_features"):
        out += _table(
            ["rank", "feature", "mean abs SHAP"],
            [[f["rank"], f["feature"], f["mean_abs_shap"]] for f in card["top_features"]],
        )
    else:
        out.append("_No SHAP report._")
    out.append("")

    out += ["## Limitations", ""]
    out += [f"- {item}" for item in card.get("limitations") or []]
    out.append("")

    if card.get("params"):
        out += ["## Training parameters", ""]
        out += [f"- {key}: {_cell(value)}" for key, value in sorted(card["params"].items())]
        out.append("")

    out += ["## Library versions", ""]
    out += _table(
        ["library", "version"], [[k, v] for k, v in sorted((card.get("library_versions") or {}).items())]
    )
    out.append("")
    out += ["## Code version", "", f"`{card.get('code_version') or 'unknown'}`", ""]
    return "\n".join(out)
