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

    from mlplatform.config.specs import DriftSpec

OTHER = "__other__"
QUANTILE_RELATIVE_ERROR = 0.001
QUANTILE_GRID = 100
WASSERSTEIN_STD_FLOOR = 1e-3
P_VALUE_TESTS = frozenset({"ks", "chi2"})

FeatureKind = Literal["numeric", "categorical", "prediction"]
Scope = Literal["input", "model_input", "prediction"]


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one column between the reference and one batch, with every statistic computed.

    ``metric``/``value``/``threshold``/``drifted`` are the verdict of the column's chosen test;
    ``psi``, ``wasserstein``, ``jensenshannon``, ``ks_statistic`` and ``p_value`` are recorded
    whenever they apply to the column's kind, so a later threshold change can be replayed.
    """

    feature: str
    feature_kind: FeatureKind
    scope: Scope
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
    psi: float
    wasserstein: float | None = None
    jensenshannon: float | None = None
    ks_statistic: float | None = None
    p_value: float | None = None
    unseen_rate: float | None = None
    quality_flags: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The fields that go into a ``drift_metrics`` row (the caller adds model, date, run)."""
        drop = {"reference_proportions", "current_proportions", "bin_labels"}
        record = {k: v for k, v in asdict(self).items() if k not in drop}
        record["quality_flags"] = list(self.quality_flags)
        return record


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


def quantile_grid(k: int) -> list[float]:
    """Midpoint probabilities ``(j + 0.5) / k``: the grid both sides' quantile functions use."""
    return [(j + 0.5) / k for j in range(k)]


def _quantiles(df: DataFrame, names: Sequence[str], probs: Sequence[float]) -> list[list[float | None]]:
    """Approximate quantiles of each column in one Spark pass; NaN counts as missing."""
    from pyspark.sql import functions as F

    if not names:
        return []
    cols = []
    for i, name in enumerate(names):
        x = _col(name).cast("double")
        cols.append(F.when(~F.isnan(x), x).alias(f"q{i}"))
    sketches = df.select(cols).approxQuantile(
        [f"q{i}" for i in range(len(names))], list(probs), QUANTILE_RELATIVE_ERROR
    )
    return [[_finite(q) for q in qs] if qs else [None] * len(probs) for qs in sketches]


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
    grids: dict[str, list[float]] = {}
    if numeric_cols:
        probs = [i / bins for i in range(1, bins)]
        sketches = _quantiles(df, numeric_cols, [*probs, *quantile_grid(QUANTILE_GRID)])
        for name, qs in zip(numeric_cols, sketches, strict=True):
            interior = sorted({q for q in qs[: len(probs)] if q is not None})
            edges[name] = [None, *interior, None]
            grid = qs[len(probs) :]
            grids[name] = [q for q in grid if q is not None] if all(q is not None for q in grid) else []

    exprs: list[Column] = [F.count(F.lit(1)).alias("__rows")]
    for i, name in enumerate(numeric_cols):
        x = _col(name).cast("double")
        x_valid = F.when(~F.isnan(x), x)
        exprs += _histogram_exprs(name, {"kind": "numeric", "edges": edges[name]}, f"f{i}")
        exprs += [
            F.mean(x_valid).alias(f"f{i}_mean"),
            F.stddev(x_valid).alias(f"f{i}_std"),
            F.stddev_pop(x_valid).alias(f"f{i}_std_pop"),
        ]
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
        std_pop = _finite(stats[f"f{i}_std_pop"])
        return {
            **fp,
            "proportions": proportions,
            "null_rate": null_rate,
            "mean": _finite(stats[f"f{i}_mean"]),
            "std": std if std is not None else 0.0,
            "std_pop": std_pop if std_pop is not None else 0.0,
            "quantiles": grids[name],
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


def wasserstein_normed(
    reference_quantiles: Sequence[float], current_quantiles: Sequence[float], std: float
) -> float:
    """Wasserstein-1 distance divided by the reference's standard deviation (Evidently's ``wasserstein``).

    W1 is the integral of |Q_ref(p) - Q_cur(p)| over p in [0, 1]; both quantile functions are
    sampled on the same midpoint grid, so this is the midpoint rule of that integral.
    """
    if len(reference_quantiles) != len(current_quantiles) or len(reference_quantiles) == 0:
        raise ValueError("wasserstein needs two quantile grids of the same, non-zero length")
    w1 = sum(abs(r - c) for r, c in zip(reference_quantiles, current_quantiles, strict=True)) / len(
        reference_quantiles
    )
    return w1 / max(float(std), WASSERSTEIN_STD_FLOOR)


def ks_from_quantiles(
    reference_quantiles: Sequence[float], current_quantiles: Sequence[float], n_reference: int, n_current: int
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic p-value from the two quantile grids.

    The statistic is exact up to the grid's resolution (1/K for K grid points).
    """
    import bisect

    from scipy.stats import kstwobign

    ref, cur = sorted(reference_quantiles), sorted(current_quantiles)
    k_ref, k_cur = len(ref), len(cur)
    statistic = 0.0
    for x in ref + cur:
        f_ref = bisect.bisect_right(ref, x) / k_ref
        f_cur = bisect.bisect_right(cur, x) / k_cur
        statistic = max(statistic, abs(f_ref - f_cur))
    n_eff = n_reference * n_current / (n_reference + n_current)
    return statistic, float(kstwobign.sf(statistic * math.sqrt(n_eff)))


def jensenshannon_distance(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Jensen-Shannon distance (natural log, as scipy and Evidently compute it) of two distributions."""
    from scipy.spatial.distance import jensenshannon

    if sum(expected) <= 0 or sum(actual) <= 0:
        return 0.0
    return float(jensenshannon(list(expected), list(actual)))


def chi2_p_value(expected: Sequence[float], actual_counts: Sequence[float]) -> float:
    """Chi-squared goodness-of-fit p-value of the batch's category counts against the reference shares."""
    from scipy.stats import chisquare

    n = float(sum(actual_counts))
    if n == 0:
        return 1.0
    floored = [max(float(e), 1e-4) for e in expected]
    total = sum(floored)
    exp_counts = [n * e / total for e in floored]
    return float(chisquare(list(actual_counts), exp_counts).pvalue)


def choose_stattest(kind: FeatureKind, reference_rows: int, spec: DriftSpec) -> tuple[str, float]:
    """The test and threshold for a column: the spec's choice, or Evidently's rule for ``auto``.

    ``auto``: p-value tests (KS numeric, chi-squared categorical, p < 0.05) when the reference has at
    most ``small_sample_rows`` rows; distances (Wasserstein normed, Jensen-Shannon, >= 0.1) above,
    where p-values flag every negligible shift.
    """
    if kind == "prediction":
        method = spec.prediction_stattest
        small = reference_rows <= spec.small_sample_rows
        if method == "auto":
            method = "ks" if small else "wasserstein"
    elif kind == "numeric":
        method = spec.numeric_stattest
        if method == "auto":
            method = "ks" if reference_rows <= spec.small_sample_rows else "wasserstein"
    else:
        method = spec.categorical_stattest
        if method == "auto":
            method = "chi2" if reference_rows <= spec.small_sample_rows else "jensenshannon"
    if kind == "prediction" and method == "psi":
        return method, spec.prediction_psi_threshold
    thresholds = {
        "psi": spec.psi_threshold,
        "wasserstein": spec.wasserstein_threshold,
        "jensenshannon": spec.jensenshannon_threshold,
        "ks": spec.p_value_threshold,
        "chi2": spec.p_value_threshold,
    }
    return method, thresholds[method]


def compute_drift(
    profile: dict,
    df: DataFrame,
    spec: DriftSpec,
    *,
    score_col: str | None = None,
    scope: Scope = "input",
) -> list[FeatureDrift]:
    """Every profiled column of one batch against the reference, in two Spark jobs (counts, quantiles).

    ``profile`` is a reference profile (or its ``model_inputs`` part, with ``scope="model_input"``
    for train-serve skew). ``score_col`` defaults to the one recorded in the profile, used only when
    ``df`` has it. Verdicts use the spec's tests and thresholds; ``feature_thresholds`` overrides a
    column's threshold.
    """
    from pyspark.sql import functions as F

    targets: list[tuple[str, FeatureKind, Scope, dict]] = [
        (name, fp["kind"], scope, fp) for name, fp in profile["features"].items()
    ]
    if profile.get("prediction"):
        if score_col is None and profile.get("score_col") in df.columns:
            score_col = profile["score_col"]
        if score_col is not None:
            targets.append((score_col, "prediction", "prediction", profile["prediction"]))
    _check_columns(df, [t[0] for t in targets])

    exprs = [F.count(F.lit(1)).alias("__rows")]
    for i, (name, _, _, fp) in enumerate(targets):
        exprs += _histogram_exprs(name, fp, f"t{i}")
    row = df.agg(*exprs).first()
    rows = int(row["__rows"])
    if rows == 0:
        raise ValueError("the scoring batch is empty: there are no rows to compare with the reference")
    graded = [t for t in targets if t[3]["kind"] == "numeric" and t[3].get("quantiles")]
    grid = quantile_grid(len(graded[0][3]["quantiles"])) if graded else []
    sketches = dict(zip([t[0] for t in graded], _quantiles(df, [t[0] for t in graded], grid), strict=True))

    reference_rows = int(profile["row_count"])
    out = []
    for i, (name, kind, target_scope, fp) in enumerate(targets):
        current, null_rate, nonnull = _read_histogram(row, fp, f"t{i}", rows)
        stats: dict[str, float | None] = {"psi": psi(fp["proportions"], current)}
        unseen = None
        if kind == "categorical":
            stats["jensenshannon"] = jensenshannon_distance(fp["proportions"], current)
            stats["chi2"] = chi2_p_value(fp["proportions"], [p * nonnull for p in current])
            other = fp["categories"].index(OTHER) if OTHER in fp["categories"] else None
            if other is not None:
                unseen = max(0.0, current[other] - fp["proportions"][other])
        else:
            ref_q, cur_q = fp.get("quantiles") or [], sketches.get(name) or []
            if ref_q and cur_q and all(q is not None for q in cur_q) and nonnull:
                std = fp.get("std_pop", fp.get("std", 0.0))
                stats["wasserstein"] = wasserstein_normed(ref_q, cur_q, std)
                ks_stat, ks_p = ks_from_quantiles(ref_q, cur_q, reference_rows, nonnull)
                stats["ks_statistic"], stats["ks"] = ks_stat, ks_p
        metric, threshold = choose_stattest(kind, reference_rows, spec)
        threshold = float(spec.feature_thresholds.get(name, threshold))
        value = stats.get(metric)
        if value is None:  # no quantile grid (an older profile, or an all-null batch): fall back to PSI
            metric, value = "psi", stats["psi"]
            threshold = float(spec.feature_thresholds.get(name, spec.psi_threshold))
        drifted = value < threshold if metric in P_VALUE_TESTS else value >= threshold
        flags = []
        if null_rate - float(fp["null_rate"]) > spec.max_null_rate_increase:
            flags.append("null_rate")
        if unseen is not None and unseen > spec.max_unseen_category_rate:
            flags.append("unseen_categories")
        out.append(
            FeatureDrift(
                feature=name,
                feature_kind=kind,
                scope=target_scope,
                metric=metric,
                value=float(value),
                threshold=threshold,
                drifted=bool(drifted),
                reference_rows=reference_rows,
                current_rows=rows,
                reference_proportions=tuple(fp["proportions"]),
                current_proportions=tuple(current),
                bin_labels=tuple(bin_labels(fp)),
                null_rate_reference=float(fp["null_rate"]),
                null_rate_current=null_rate,
                psi=float(stats["psi"]),
                wasserstein=stats.get("wasserstein"),
                jensenshannon=stats.get("jensenshannon"),
                ks_statistic=stats.get("ks_statistic"),
                p_value=stats.get("ks") if kind != "categorical" else stats.get("chi2"),
                unseen_rate=unseen,
                quality_flags=tuple(flags),
            )
        )
    return out


def drift_summary(drifts: list[FeatureDrift]) -> dict:
    """Drifted input features and their share, the prediction's verdict, skew and quality flags."""
    features = [d for d in drifts if d.scope == "input"]
    prediction = next((d for d in drifts if d.scope == "prediction"), None)
    drifted = [d.feature for d in features if d.drifted]
    return {
        "features_checked": len(features),
        "features_drifted": drifted,
        "share_drifted": len(drifted) / len(features) if features else 0.0,
        "prediction_drifted": bool(prediction and prediction.drifted),
        "prediction_metric": prediction.metric if prediction else None,
        "prediction_value": prediction.value if prediction else None,
        "prediction_psi": prediction.psi if prediction else None,
        "skewed_features": [d.feature for d in drifts if d.scope == "model_input" and d.drifted],
        "quality_alerts": {d.feature: list(d.quality_flags) for d in drifts if d.quality_flags},
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


def drift_ratio(metric: str, value: float, threshold: float) -> float:
    """A test's value relative to its threshold, above 1 when drifted (inverted for p-values)."""
    if metric in P_VALUE_TESTS:
        return threshold / max(value, 1e-12)
    return value / threshold if threshold else 0.0


def _psi_chart(drifts: list[FeatureDrift]) -> str:
    fig = _new_figure(max(6.0, 0.5 * len(drifts) + 2), 3.8)
    try:
        ax = fig.add_subplot()
        xs = range(len(drifts))
        colors = ["#d62728" if d.drifted else "#1f77b4" for d in drifts]
        ax.bar(xs, [min(drift_ratio(d.metric, d.value, d.threshold), 20.0) for d in drifts], color=colors)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1.2, label="threshold")
        ax.set_xticks(list(xs), [f"{d.feature} ({d.metric})" for d in drifts], rotation=45, ha="right")
        ax.set_ylabel("value / threshold")
        ax.set_title("Drift test per column, relative to its threshold (red: drifted)")
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
        ax.set_title(f"{d.feature} ({d.feature_kind}) {d.metric}={d.value:.3f}, PSI={d.psi:.3f}")
        ax.legend()
        return _png(fig)
    finally:
        fig.clear()


def _daily_axis(ax: Any) -> None:
    """One tick per scoring day, labelled by date (scoring dates have no time of day)."""
    from matplotlib.dates import AutoDateLocator, DateFormatter

    ax.xaxis.set_major_locator(AutoDateLocator(minticks=2, maxticks=12, interval_multiples=True))
    ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))


def _history_chart(history: list[dict]) -> str | None:
    """Each input feature's and the prediction's test value over time, relative to its threshold."""
    points: dict[str, list[tuple[Any, float]]] = {}
    for h in history:
        if h["scope"] == "model_input" or not h["threshold"]:
            continue
        ratio = drift_ratio(h["metric"], h["value"], h["threshold"])
        points.setdefault(h["feature"], []).append((h["score_date"], min(ratio, 20.0)))
    if not points:
        return None
    fig = _new_figure(9.0, 4.0)
    try:
        ax = fig.add_subplot()
        for name, series in sorted(points.items()):
            series.sort()
            ax.plot([d for d, _ in series], [v for _, v in series], marker="o", label=name)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1.2)
        ax.set_ylabel("value / threshold")
        ax.set_title("Drift over time (above the dashed line: drifted)")
        ax.legend(fontsize=7, ncol=2, loc="upper left")
        _daily_axis(ax)
        fig.autofmt_xdate()
        return _png(fig)
    finally:
        fig.clear()


def _performance_chart(performance: list[dict]) -> str | None:
    """AUC, precision and recall at the threshold per scoring date, once labels arrived."""
    rows = sorted((r for r in performance if r.get("auc") is not None), key=lambda r: r["score_date"])
    if not rows:
        return None
    fig = _new_figure(9.0, 3.6)
    try:
        ax = fig.add_subplot()
        dates = [r["score_date"] for r in rows]
        for key in ("auc", "precision", "recall"):
            ax.plot(dates, [r[key] for r in rows], marker="o", label=key)
        ax.set_ylim(0.0, 1.0)
        ax.set_title("Performance over time (late labels joined to predictions)")
        ax.legend()
        _daily_axis(ax)
        fig.autofmt_xdate()
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
Prediction {{ summary.prediction_metric or "drift" }}: {% if summary.prediction_value is not none %}{{ "%.4f" | format(summary.prediction_value) }}
({% if summary.prediction_drifted %}<span class="drifted">DRIFTED</span>{% else %}<span class="ok">ok</span>{% endif %})
{% else %}not measured{% endif %}.</p>
<img alt="drift value per feature" src="data:image/png;base64,{{ psi_png }}">
{% if history_png %}<h2>Drift over time</h2>
<img alt="drift over time" src="data:image/png;base64,{{ history_png }}">{% endif %}
{% if performance_png %}<h2>Performance over time</h2>
<img alt="performance over time" src="data:image/png;base64,{{ performance_png }}">{% endif %}
{% if summary.skewed_features %}<p>Train-serve skew in model inputs:
<span class="drifted">{{ summary.skewed_features | join(", ") }}</span>.</p>{% endif %}
{% if summary.quality_alerts %}<p>Input quality alerts:
{% for name, flags in summary.quality_alerts.items() %}<span class="drifted">{{ name }} ({{ flags | join(", ") }})</span>
{% endfor %}</p>{% endif %}
<h2>Metrics</h2>
<table><thead><tr><th>feature</th><th>scope</th><th>kind</th><th>test</th><th>value</th><th>threshold</th>
<th>verdict</th><th>PSI</th><th>null rate (ref)</th><th>null rate (cur)</th><th>unseen</th><th>rows (ref)</th>
<th>rows (cur)</th></tr></thead><tbody>
{% for d in drifts %}<tr><td>{{ d.feature }}</td><td>{{ d.scope }}</td><td>{{ d.feature_kind }}</td><td>{{ d.metric }}</td>
<td>{{ "%.4f" | format(d.value) }}</td><td>{{ "%.4f" | format(d.threshold) }}</td>
<td class="{{ 'drifted' if d.drifted else 'ok' }}">{{ "DRIFTED" if d.drifted else "ok" }}</td>
<td>{{ "%.4f" | format(d.psi) }}</td>
<td>{{ "%.2f%%" | format(100 * d.null_rate_reference) }}</td><td>{{ "%.2f%%" | format(100 * d.null_rate_current) }}</td>
<td>{% if d.unseen_rate is not none %}{{ "%.2f%%" | format(100 * d.unseen_rate) }}{% endif %}</td>
<td>{{ d.reference_rows }}</td><td>{{ d.current_rows }}</td></tr>
{% endfor %}</tbody></table>
<h2>Distributions (drifted first)</h2>
{% for d, png in sections %}<h3 class="{{ 'drifted' if d.drifted else 'ok' }}">{{ d.feature }} ({{ d.scope }}):
{{ "DRIFTED" if d.drifted else "ok" }}</h3>
<img alt="{{ d.feature }} distribution" src="data:image/png;base64,{{ png }}">
{% endfor %}</body></html>
"""


def render_drift_report(
    drifts: list[FeatureDrift],
    *,
    model_name: str,
    model_version: int,
    ds: str,
    summary: dict,
    history: list[dict] | None = None,
    performance: list[dict] | None = None,
) -> str:
    """One self-contained HTML page: test values, drift and performance over time, distributions.

    Distribution plots are drawn for the raw inputs and the prediction, and for skewed model inputs.
    """
    import jinja2

    ordered = sorted(drifts, key=lambda d: (not d.drifted, d.scope == "model_input", d.feature))
    plotted = [d for d in ordered if d.scope != "model_input" or d.drifted]
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        model_name=model_name,
        model_version=model_version,
        ds=ds,
        summary=summary,
        drifts=ordered,
        psi_png=_psi_chart([d for d in drifts if d.scope != "model_input"]),
        history_png=_history_chart(history or []),
        performance_png=_performance_chart(performance or []),
        sections=[(d, _distribution_chart(d)) for d in plotted],
    )
