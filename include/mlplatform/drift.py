"""Data and prediction drift: a reference profile from training data, PSI per scoring batch.

The reference profile (bin edges, category lists, proportions, null rates) is computed once from
the training data and stored as JSON with the model version, so every later scoring batch is
compared with exactly the bins the model was trained on. All heavy lifting is Spark aggregation:
only per-bin counts ever reach the driver, never raw rows.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, Row

OTHER = "__other__"
QUANTILE_RELATIVE_ERROR = 0.001

FeatureKind = Literal["numeric", "categorical", "prediction"]


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature (or of the prediction) between the reference and one batch."""

    feature: str
    feature_kind: FeatureKind
    metric: str
    value: float
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    reference_proportions: tuple[float, ...]
    current_proportions: tuple[float, ...]
    bin_labels: tuple[str, ...]
    null_rate_reference: float
    null_rate_current: float

    def to_record(self) -> dict[str, Any]:
        """The fields that go into a ``drift_metrics`` row (the caller adds model, date, run)."""
        keys = (
            "feature",
            "feature_kind",
            "metric",
            "value",
            "threshold",
            "drifted",
            "reference_rows",
            "current_rows",
        )
        return {k: v for k, v in asdict(self).items() if k in keys}


def _col(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _check_columns(df: DataFrame, names: Sequence[str]) -> None:
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ValueError(f"columns missing from the DataFrame: {missing}")


def _edges(feature_profile: dict) -> list[float]:
    """Profile edges as floats; the JSON form stores the infinite outer edges as ``None``."""
    raw = feature_profile["edges"]
    last = len(raw) - 1
    out = []
    for i, e in enumerate(raw):
        if e is None:
            out.append(-math.inf if i == 0 else math.inf if i == last else math.nan)
        else:
            out.append(float(e))
    if any(math.isnan(e) for e in out):
        raise ValueError(f"malformed edges in feature profile: {raw}")
    return out


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "-inf" if x < 0 else "+inf"
    return f"{x:.4g}"


def bin_labels(feature_profile: dict) -> list[str]:
    """Human-readable names of a profile's bins: intervals for numeric, categories otherwise."""
    if feature_profile["kind"] == "categorical":
        return list(feature_profile["categories"])
    edges = _edges(feature_profile)
    return [
        f"{'(' if math.isinf(lo) else '['}{_fmt(lo)}, {_fmt(hi)})"
        for lo, hi in zip(edges, edges[1:], strict=False)
    ]


def _histogram_exprs(name: str, feature_profile: dict, prefix: str) -> list[Column]:
    """Aggregate expressions: non-null count, null count and one count per profile bin."""
    from pyspark.sql import functions as F

    exprs = []
    if feature_profile["kind"] == "categorical":
        value = _col(name).cast("string")
        exprs.append(F.count(value).alias(f"{prefix}_n"))
        exprs.append(F.count(F.when(value.isNull(), 1)).alias(f"{prefix}_z"))
        for j, cat in enumerate(feature_profile["categories"]):
            if cat != OTHER:
                exprs.append(F.count(F.when(value == F.lit(cat), 1)).alias(f"{prefix}_b{j}"))
        return exprs
    x = _col(name).cast("double")
    valid = x.isNotNull() & ~F.isnan(x)
    exprs.append(F.count(F.when(valid, 1)).alias(f"{prefix}_n"))
    exprs.append(F.count(F.when(~valid, 1)).alias(f"{prefix}_z"))
    edges = _edges(feature_profile)
    for j, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False)):
        cond = valid
        if not math.isinf(lo):
            cond = cond & (x >= F.lit(lo))
        if not math.isinf(hi):
            cond = cond & (x < F.lit(hi))
        exprs.append(F.count(F.when(cond, 1)).alias(f"{prefix}_b{j}"))
    return exprs


def _read_histogram(
    row: Row, feature_profile: dict, prefix: str, rows: int
) -> tuple[list[float], float, int]:
    nonnull = int(row[f"{prefix}_n"])
    nulls = int(row[f"{prefix}_z"])
    if feature_profile["kind"] == "categorical":
        counts = []
        for j, cat in enumerate(feature_profile["categories"]):
            counts.append(0 if cat == OTHER else int(row[f"{prefix}_b{j}"]))
        if OTHER in feature_profile["categories"]:
            counts[feature_profile["categories"].index(OTHER)] = nonnull - sum(counts)
    else:
        counts = [int(row[f"{prefix}_b{j}"]) for j in range(len(feature_profile["edges"]) - 1)]
    proportions = [c / nonnull if nonnull else 0.0 for c in counts]
    return proportions, (nulls / rows if rows else 0.0), nonnull


def histogram(df: DataFrame, name: str, feature_profile: dict) -> tuple[list[float], float, int]:
    """Proportions of ``df[name]`` in the profile's bins, its null rate and its non-null count.

    Unseen categories count towards ``__other__``; NaN counts as null for numeric columns.
    """
    from pyspark.sql import functions as F

    _check_columns(df, [name])
    row = df.agg(F.count(F.lit(1)).alias("__rows"), *_histogram_exprs(name, feature_profile, "h")).first()
    return _read_histogram(row, feature_profile, "h", int(row["__rows"]))


def build_reference_profile(
    df: DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    score_col: str | None = None,
    bins: int = 10,
    max_categories: int = 50,
) -> dict:
    """Reference distributions of the training data, as a JSON-safe dict stored with the model.

    Runs three Spark jobs over ``df`` (quantiles, per-bin counts, top categories); cache it first
    if it is expensive to recompute.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    if max_categories < 1:
        raise ValueError(f"max_categories must be at least 1, got {max_categories}")
    numeric_cols = [*numeric, *([score_col] if score_col else [])]
    overlap = set(numeric_cols) & set(categorical)
    if overlap:
        raise ValueError(f"columns both numeric and categorical: {sorted(overlap)}")
    _check_columns(df, [*numeric_cols, *categorical])

    edges: dict[str, list[float | None]] = {}
    if numeric_cols:
        probs = [i / bins for i in range(1, bins)]
        casted = df.select([_col(c).cast("double").alias(f"q{i}") for i, c in enumerate(numeric_cols)])
        quantiles = casted.approxQuantile(
            [f"q{i}" for i in range(len(numeric_cols))], probs, QUANTILE_RELATIVE_ERROR
        )
        for name, qs in zip(numeric_cols, quantiles, strict=True):
            interior = sorted({float(q) for q in qs if q is not None and math.isfinite(q)})
            edges[name] = [None, *interior, None]

    exprs: list[Column] = [F.count(F.lit(1)).alias("__rows")]
    for i, name in enumerate(numeric_cols):
        x = _col(name).cast("double")
        x_valid = F.when(~F.isnan(x), x)
        exprs += _histogram_exprs(name, {"kind": "numeric", "edges": edges[name]}, f"f{i}")
        exprs += [F.mean(x_valid).alias(f"f{i}_mean"), F.stddev(x_valid).alias(f"f{i}_std")]
    for i, name in enumerate(categorical):
        value = _col(name).cast("string")
        exprs += [F.count(value).alias(f"c{i}_n"), F.count(F.when(value.isNull(), 1)).alias(f"c{i}_z")]
    stats = df.agg(*exprs).first()
    rows = int(stats["__rows"])
    if rows == 0:
        raise ValueError("cannot build a reference profile: the reference data is empty")

    def numeric_profile(i: int, name: str) -> dict:
        fp: dict[str, Any] = {"kind": "numeric", "edges": edges[name]}
        proportions, null_rate, _ = _read_histogram(stats, fp, f"f{i}", rows)
        std = _finite(stats[f"f{i}_std"])
        return {
            **fp,
            "proportions": proportions,
            "null_rate": null_rate,
            "mean": _finite(stats[f"f{i}_mean"]),
            "std": std if std is not None else 0.0,
        }

    features: dict[str, dict] = {name: numeric_profile(i, name) for i, name in enumerate(numeric)}

    top: dict[int, list[tuple[str, int]]] = {i: [] for i in range(len(categorical))}
    if categorical:
        pairs = F.array(
            *[
                F.struct(F.lit(i).alias("f"), _col(c).cast("string").alias("v"))
                for i, c in enumerate(categorical)
            ]
        )
        counts = (
            df.select(F.explode(pairs).alias("p"))
            .select("p.f", "p.v")
            .where(F.col("v").isNotNull() & (F.col("v") != OTHER))
            .groupBy("f", "v")
            .count()
        )
        rank = F.row_number().over(Window.partitionBy("f").orderBy(F.desc("count"), F.asc("v")))
        for r in counts.withColumn("rk", rank).where(F.col("rk") <= max_categories).collect():
            top[int(r["f"])].append((r["v"], int(r["count"])))
    for i, name in enumerate(categorical):
        ranked = sorted(top[i], key=lambda kv: (-kv[1], kv[0]))
        nonnull = int(stats[f"c{i}_n"])
        cats = [v for v, _ in ranked] + [OTHER]
        cnts = [n for _, n in ranked]
        cnts.append(nonnull - sum(cnts))
        features[name] = {
            "kind": "categorical",
            "categories": cats,
            "proportions": [c / nonnull if nonnull else 0.0 for c in cnts],
            "null_rate": int(stats[f"c{i}_z"]) / rows,
        }

    prediction = numeric_profile(len(numeric), score_col) if score_col else None
    return {
        "row_count": rows,
        "bins": bins,
        "score_col": score_col,
        "features": features,
        "prediction": prediction,
    }


def psi(expected: Sequence[float], actual: Sequence[float], eps: float = 1e-4) -> float:
    """Population stability index, sum((a - e) * ln(a / e)), with proportions clipped at ``eps``."""
    if len(expected) != len(actual):
        raise ValueError(f"psi needs equally many bins, got {len(expected)} and {len(actual)}")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(float(e), eps), max(float(a), eps)
        total += (a - e) * math.log(a / e)
    return total


def compute_drift(
    profile: dict,
    df: DataFrame,
    *,
    psi_threshold: float,
    prediction_psi_threshold: float,
    feature_thresholds: dict[str, float] | None = None,
    score_col: str | None = None,
) -> list[FeatureDrift]:
    """PSI of every profiled feature (and of the prediction) for one batch, in one Spark job.

    ``score_col`` defaults to the one recorded in the profile, used only when ``df`` has it.
    """
    from pyspark.sql import functions as F

    feature_thresholds = feature_thresholds or {}
    targets: list[tuple[str, FeatureKind, dict, float]] = [
        (name, fp["kind"], fp, feature_thresholds.get(name, psi_threshold))
        for name, fp in profile["features"].items()
    ]
    if profile.get("prediction"):
        if score_col is None and profile.get("score_col") in df.columns:
            score_col = profile["score_col"]
        if score_col is not None:
            targets.append((score_col, "prediction", profile["prediction"], prediction_psi_threshold))
    _check_columns(df, [t[0] for t in targets])

    exprs = [F.count(F.lit(1)).alias("__rows")]
    for i, (name, _, fp, _) in enumerate(targets):
        exprs += _histogram_exprs(name, fp, f"t{i}")
    row = df.agg(*exprs).first()
    rows = int(row["__rows"])
    if rows == 0:
        raise ValueError("the scoring batch is empty: there are no rows to compare with the reference")

    out = []
    for i, (name, kind, fp, threshold) in enumerate(targets):
        current, null_rate, _ = _read_histogram(row, fp, f"t{i}", rows)
        value = psi(fp["proportions"], current)
        out.append(
            FeatureDrift(
                feature=name,
                feature_kind=kind,
                metric="psi",
                value=value,
                threshold=float(threshold),
                drifted=value > threshold,
                reference_rows=int(profile["row_count"]),
                current_rows=rows,
                reference_proportions=tuple(fp["proportions"]),
                current_proportions=tuple(current),
                bin_labels=tuple(bin_labels(fp)),
                null_rate_reference=float(fp["null_rate"]),
                null_rate_current=null_rate,
            )
        )
    return out


def drift_summary(drifts: list[FeatureDrift]) -> dict:
    """Counts and names of drifted features, and the prediction's PSI and verdict."""
    features = [d for d in drifts if d.feature_kind != "prediction"]
    prediction = next((d for d in drifts if d.feature_kind == "prediction"), None)
    drifted = [d.feature for d in features if d.drifted]
    return {
        "features_checked": len(features),
        "features_drifted": drifted,
        "share_drifted": len(drifted) / len(features) if features else 0.0,
        "prediction_drifted": bool(prediction and prediction.drifted),
        "prediction_psi": prediction.value if prediction else None,
    }


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _psi_chart(drifts: list[FeatureDrift]) -> str:
    fig = _new_figure(max(6.0, 0.5 * len(drifts) + 2), 3.8)
    try:
        ax = fig.add_subplot()
        xs = range(len(drifts))
        colors = ["#d62728" if d.drifted else "#1f77b4" for d in drifts]
        ax.bar(xs, [d.value for d in drifts], color=colors)
        for i, d in enumerate(drifts):
            ax.hlines(d.threshold, i - 0.45, i + 0.45, colors="black", linestyles="--", linewidth=1.2)
        ax.plot([], [], "k--", label="threshold")
        ax.set_xticks(list(xs), [d.feature for d in drifts], rotation=45, ha="right")
        ax.set_ylabel("PSI")
        ax.set_title("Population stability index per feature (red: drifted)")
        ax.legend()
        return _png(fig)
    finally:
        fig.clear()


def _distribution_chart(d: FeatureDrift) -> str:
    n = len(d.bin_labels)
    fig = _new_figure(max(6.0, 0.45 * n + 2), 3.4)
    try:
        ax = fig.add_subplot()
        xs = list(range(n))
        ax.bar([x - 0.2 for x in xs], d.reference_proportions, width=0.4, label="reference", color="#7f7f7f")
        ax.bar(
            [x + 0.2 for x in xs],
            d.current_proportions,
            width=0.4,
            label="current",
            color="#d62728" if d.drifted else "#1f77b4",
        )
        ax.set_xticks(xs, list(d.bin_labels), rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("share of non-null rows")
        ax.set_title(f"{d.feature} ({d.feature_kind}) PSI={d.value:.3f}")
        ax.legend()
        return _png(fig)
    finally:
        fig.clear()


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Drift report: {{ model_name }} v{{ model_version }} ({{ ds }})</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.drifted { color: #b00; font-weight: bold; }
.ok { color: #070; }
img { max-width: 100%; }
</style></head><body>
<h1>Drift report: {{ model_name }} v{{ model_version }} ({{ ds }})</h1>
<p>Features checked: {{ summary.features_checked }};
drifted: {{ summary.features_drifted | length }}
({{ "%.1f" | format(100 * summary.share_drifted) }}%){% if summary.features_drifted %}:
<span class="drifted">{{ summary.features_drifted | join(", ") }}</span>{% endif %}.
Prediction PSI: {% if summary.prediction_psi is not none %}{{ "%.4f" | format(summary.prediction_psi) }}
({% if summary.prediction_drifted %}<span class="drifted">DRIFTED</span>{% else %}<span class="ok">ok</span>{% endif %})
{% else %}not measured{% endif %}.</p>
<img alt="PSI per feature" src="data:image/png;base64,{{ psi_png }}">
<h2>Metrics</h2>
<table><thead><tr><th>feature</th><th>kind</th><th>metric</th><th>value</th><th>threshold</th>
<th>verdict</th><th>null rate (ref)</th><th>null rate (cur)</th><th>rows (ref)</th><th>rows (cur)</th>
</tr></thead><tbody>
{% for d in drifts %}<tr><td>{{ d.feature }}</td><td>{{ d.feature_kind }}</td><td>{{ d.metric }}</td>
<td>{{ "%.4f" | format(d.value) }}</td><td>{{ "%.4f" | format(d.threshold) }}</td>
<td class="{{ 'drifted' if d.drifted else 'ok' }}">{{ "DRIFTED" if d.drifted else "ok" }}</td>
<td>{{ "%.2f%%" | format(100 * d.null_rate_reference) }}</td><td>{{ "%.2f%%" | format(100 * d.null_rate_current) }}</td>
<td>{{ d.reference_rows }}</td><td>{{ d.current_rows }}</td></tr>
{% endfor %}</tbody></table>
<h2>Distributions (drifted first)</h2>
{% for d, png in sections %}<h3 class="{{ 'drifted' if d.drifted else 'ok' }}">{{ d.feature }}:
{{ "DRIFTED" if d.drifted else "ok" }}</h3>
<img alt="{{ d.feature }} distribution" src="data:image/png;base64,{{ png }}">
{% endfor %}</body></html>
"""


def render_drift_report(
    drifts: list[FeatureDrift], *, model_name: str, model_version: int, ds: str, summary: dict
) -> str:
    """One self-contained HTML page: PSI chart, metrics table and per-feature distributions."""
    import jinja2

    ordered = sorted(drifts, key=lambda d: (not d.drifted, -d.value))
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        model_name=model_name,
        model_version=model_version,
        ds=ds,
        summary=summary,
        drifts=ordered,
        psi_png=_psi_chart(drifts),
        sections=[(d, _distribution_chart(d)) for d in ordered],
    )
