"""The reference profile of the training data, and the Spark aggregations that read a batch.

The profile (bin edges, category lists, proportions, null rates, a quantile grid) is computed once
from the training data and stored as JSON with the model version, so every later scoring batch is
compared with exactly the bins the model was trained on. All heavy lifting is Spark aggregation:
only per-bin counts and quantiles ever reach the driver, never raw rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlplatform.monitoring.drift.stats import quantile_grid

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, Row

OTHER = "__other__"
QUANTILE_RELATIVE_ERROR = 0.001
QUANTILE_GRID = 100


def _col(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def check_columns(df: DataFrame, names: Sequence[str]) -> None:
    """Raise ValueError naming the columns of ``names`` that ``df`` lacks."""
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


def histogram_exprs(name: str, feature_profile: dict, prefix: str) -> list[Column]:
    """Aggregate expressions: non-null count, null count and one count per profile bin.

    Unseen categories are left to ``__other__`` (see ``read_histogram``); NaN counts as null for
    numeric columns.
    """
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


def read_histogram(row: Row, feature_profile: dict, prefix: str, rows: int) -> tuple[list[float], float, int]:
    """Proportions per profile bin, null rate and non-null count from ``histogram_exprs``' results."""
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


def quantiles(df: DataFrame, names: Sequence[str], probs: Sequence[float]) -> list[list[float | None]]:
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


def _top_categories(
    df: DataFrame, categorical: list[str], max_categories: int
) -> list[list[tuple[str, int]]]:
    """The ``max_categories`` most frequent values of each column with their counts, in one job."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    top: list[list[tuple[str, int]]] = [[] for _ in categorical]
    if not categorical:
        return top
    pairs = F.array(
        *[F.struct(F.lit(i).alias("f"), _col(c).cast("string").alias("v")) for i, c in enumerate(categorical)]
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
    return [sorted(found, key=lambda kv: (-kv[1], kv[0])) for found in top]


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
    from pyspark.sql import functions as F

    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    if max_categories < 1:
        raise ValueError(f"max_categories must be at least 1, got {max_categories}")
    numeric_cols = [*numeric, *([score_col] if score_col else [])]
    overlap = set(numeric_cols) & set(categorical)
    if overlap:
        raise ValueError(f"columns both numeric and categorical: {sorted(overlap)}")
    check_columns(df, [*numeric_cols, *categorical])

    edges: dict[str, list[float | None]] = {}
    grids: dict[str, list[float]] = {}
    if numeric_cols:
        probs = [i / bins for i in range(1, bins)]
        sketches = quantiles(df, numeric_cols, [*probs, *quantile_grid(QUANTILE_GRID)])
        for name, qs in zip(numeric_cols, sketches, strict=True):
            interior = sorted({q for q in qs[: len(probs)] if q is not None})
            edges[name] = [None, *interior, None]
            grid = qs[len(probs) :]
            grids[name] = [q for q in grid if q is not None] if all(q is not None for q in grid) else []

    exprs: list[Column] = [F.count(F.lit(1)).alias("__rows")]
    for i, name in enumerate(numeric_cols):
        x = _col(name).cast("double")
        x_valid = F.when(~F.isnan(x), x)
        exprs += histogram_exprs(name, {"kind": "numeric", "edges": edges[name]}, f"f{i}")
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
        proportions, null_rate, _ = read_histogram(stats, fp, f"f{i}", rows)
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
    top = _top_categories(df, categorical, max_categories)
    for i, (name, ranked) in enumerate(zip(categorical, top, strict=True)):
        nonnull = int(stats[f"c{i}_n"])
        counts = [n for _, n in ranked]
        counts.append(nonnull - sum(counts))
        features[name] = {
            "kind": "categorical",
            "categories": [v for v, _ in ranked] + [OTHER],
            "proportions": [c / nonnull if nonnull else 0.0 for c in counts],
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
