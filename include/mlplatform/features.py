"""Spark feature engineering from the spec, with a fitted state shared by training and scoring.

``fit_feature_state`` learns what must come from training data only (imputation values,
category vocabularies) on the training split; ``apply_features`` turns validated rows into model
features with that state. Training and scoring call the same ``apply_features`` with the same
state, so the features a model sees at scoring equal those it saw in training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplatform.specs import ModelSpec

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

STATE_FORMAT = 1
SPLIT_BUCKETS = 10_000


def split_column(spec: ModelSpec) -> Column:
    """Deterministic train/holdout assignment from a hash of the entity id and the seed."""
    from pyspark.sql import functions as F

    bucket = F.pmod(F.xxhash64(F.col(spec.columns.id), F.lit(spec.training.seed)), F.lit(SPLIT_BUCKETS))
    cut = int(spec.training.holdout_fraction * SPLIT_BUCKETS)
    return F.when(bucket < cut, F.lit("holdout")).otherwise(F.lit("train"))


def fit_feature_state(train: DataFrame, spec: ModelSpec) -> dict[str, Any]:
    """Imputation values and category vocabularies, from training rows only."""
    from pyspark.sql import functions as F

    numeric = spec.columns.numeric
    impute: dict[str, float | None] = {}
    method = spec.features.numeric_impute
    if numeric and method in ("median", "mean"):
        if method == "median":
            exprs = [F.percentile_approx(F.col(c), 0.5, 10_000).alias(c) for c in numeric]
        else:
            exprs = [F.avg(F.col(c)).alias(c) for c in numeric]
        row = train.agg(*exprs).first()
        impute = {c: (float(row[c]) if row[c] is not None else 0.0) for c in numeric}
    elif method == "zero":
        impute = dict.fromkeys(numeric, 0.0)
    vocab: dict[str, list[str]] = {}
    for name in spec.columns.categorical:
        counts = (
            train.where(F.col(name).isNotNull())
            .groupBy(name)
            .count()
            .orderBy(F.desc("count"), F.asc(name))
            .limit(spec.features.max_categories)
            .collect()
        )
        vocab[name] = [str(r[name]) for r in counts]
    return {
        "format": STATE_FORMAT,
        "model": spec.name,
        "spec_hash": spec.content_hash,
        "impute": impute,
        "vocabulary": vocab,
        "feature_names": spec.model_features,
    }


def _derived_column(feat: Any, cols: dict[str, Column]) -> Column:
    from pyspark.sql import functions as F

    if feat.op == "log1p":
        return F.log1p(F.greatest(cols[feat.inputs[0]], F.lit(0.0)))
    if feat.op == "ratio":
        num, den = cols[feat.inputs[0]], cols[feat.inputs[1]]
        return F.when(den == 0, F.lit(None)).otherwise(num / den)
    value = cols[feat.inputs[0]]
    if feat.lower is not None:
        value = F.greatest(value, F.lit(float(feat.lower)))
    if feat.upper is not None:
        value = F.least(value, F.lit(float(feat.upper)))
    return value


def apply_features(df: DataFrame, spec: ModelSpec, state: dict[str, Any], *, with_split: bool) -> DataFrame:
    """Model features (doubles, NaN for missing) plus ``_row_id``, the id and the label if present."""
    from pyspark.sql import functions as F

    if state.get("feature_names") != spec.model_features:
        raise ValueError(
            f"feature state for model '{spec.name}' lists features {state.get('feature_names')} "
            f"but the spec declares {spec.model_features}; retrain after changing features"
        )
    cols: dict[str, Column] = {}
    for name in spec.columns.numeric:
        value = F.col(name).cast("double")
        fill = state["impute"].get(name)
        cols[name] = F.coalesce(value, F.lit(float(fill))) if fill is not None else value
    for feat in spec.features.derived:
        cols[feat.name] = _derived_column(feat, cols)
    for name in spec.columns.categorical:
        vocab = state["vocabulary"].get(name, [])
        mapping = F.create_map(*[x for i, v in enumerate(vocab) for x in (F.lit(v), F.lit(float(i)))])
        known = F.element_at(mapping, F.col(name)) if vocab else F.lit(None).cast("double")
        # Unseen categories get their own code (len(vocab)); nulls stay missing.
        cols[name] = F.when(F.col(name).isNull(), F.lit(None)).otherwise(
            F.coalesce(known, F.lit(float(len(vocab))))
        )
    nan = F.lit(float("nan"))
    out = [F.col("_row_id"), F.col(spec.columns.id).cast("string").alias("entity_id")]
    if "_label" in df.columns:
        out.append(F.col("_label").cast("double").alias("label"))
    if with_split:
        out.append(split_column(spec).alias("split"))
    out += [F.coalesce(cols[n].cast("double"), nan).alias(n) for n in spec.model_features]
    return df.select(*out)
