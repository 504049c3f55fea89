"""Spark feature engineering from the spec, with a fitted state shared by training and scoring.

``fit_feature_state`` learns what must come from training data only (imputation values,
category vocabularies, one-hot column names, target encodings) on the training split;
``apply_features`` turns validated rows into model features with that state. Training and scoring
call the same ``apply_features`` with the same state, so the features a model sees at scoring
equal those it saw in training. The state's ``feature_names`` are the booster's features.

Rows are keyed by ``data.row_keys``: the id, or the content key of a spec without ids; the hash
split uses that key, so exact copies always fall on the same side. One-hot columns have readable
escaped names (``features.naming``); ``feature_labels`` shows each one's exact category text.

Windowed aggregates are point-in-time: a row sees only its entity's strictly earlier rows (of the
frame and of the optional ``history``), never itself or later rows.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mlplatform.config.specs import ModelSpec
from mlplatform.core.errors import ConfigError
from mlplatform.data.row_keys import entity_key, holdout_copies, key_column
from mlplatform.features.derived import derived_columns
from mlplatform.features.naming import feature_labels, one_hot_names

__all__ = ["apply_features", "feature_labels", "fit_feature_state", "holdout_copies", "split_column"]

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

log = logging.getLogger("mlplatform.features")

STATE_FORMAT = 2
SPLIT_BUCKETS = 10_000


def split_column(spec: ModelSpec) -> Column:
    """Deterministic train/holdout assignment from a hash of the row key (the id, or the content
    key of a spec without ids) and the seed: rows sharing a key share a side."""
    from pyspark.sql import functions as F

    key = F.col(key_column(spec))
    bucket = F.pmod(F.xxhash64(key, F.lit(spec.training.seed)), F.lit(SPLIT_BUCKETS))
    cut = int(spec.training.holdout_fraction * SPLIT_BUCKETS)
    return F.when(bucket < cut, F.lit("holdout")).otherwise(F.lit("train"))


def split_of(df: DataFrame, spec: ModelSpec) -> Column:
    """The rows' train/holdout assignment: their ``_split`` column when a training set carries one
    (a training window's recent holdout), else the hash split of ``split_column``."""
    from pyspark.sql import functions as F

    return F.col("_split") if "_split" in df.columns else split_column(spec)


def fit_feature_state(train: DataFrame, spec: ModelSpec) -> dict[str, Any]:
    """Imputation values, category vocabularies and encodings, from training rows only."""
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
    encoding = spec.features.categorical_encoding
    state: dict[str, Any] = {
        "format": STATE_FORMAT,
        "model": spec.name,
        "spec_hash": spec.content_hash,
        "impute": impute,
        "vocabulary": vocab,
        "categorical_encoding": encoding,
        "base_features": spec.model_features,
    }
    if encoding == "one_hot":
        state["one_hot"] = _one_hot_names(spec, vocab)
    elif encoding == "target":
        state["target_encoding"] = _fit_target_encoding(train, spec, vocab)
    state["feature_names"] = _output_names(spec, state)
    state["feature_labels"] = feature_labels(state)
    log.info(
        "fitted feature state of model '%s': %s features (%s encoding), vocabulary sizes %s",
        spec.name,
        len(state["feature_names"]),
        encoding,
        {c: len(v) for c, v in vocab.items()},
    )
    return state


def _one_hot_names(spec: ModelSpec, vocab: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per categorical: a readable name per vocabulary value, then ``<col>__OTHER__``; all unique."""
    categorical = set(spec.columns.categorical)
    taken = [n for n in spec.model_features if n not in categorical]
    return one_hot_names(spec.columns.categorical, vocab, taken)


def _fit_target_encoding(train: DataFrame, spec: ModelSpec, vocab: dict[str, list[str]]) -> dict[str, Any]:
    """Smoothed label mean per vocabulary value: (sum + m * prior) / (n + m), prior the train mean."""
    from pyspark.sql import functions as F

    if "_label" not in train.columns:
        raise ValueError(f"target encoding for model '{spec.name}' needs labelled training rows ('_label')")
    labelled = train.where(F.col("_label").isNotNull())
    mean = labelled.agg(F.avg(F.col("_label").cast("double"))).first()[0]
    prior = float(mean) if mean is not None else 0.0
    m = float(spec.features.target_smoothing)
    encodings: dict[str, Any] = {}
    for name in spec.columns.categorical:
        rows = (
            labelled.where(F.col(name).cast("string").isin(vocab[name]))
            .groupBy(F.col(name).cast("string").alias("value"))
            .agg(F.count("*").alias("n"), F.sum(F.col("_label").cast("double")).alias("pos"))
            .collect()
        )
        values = {str(r["value"]): (float(r["pos"]) + m * prior) / (int(r["n"]) + m) for r in rows}
        encodings[name] = {"prior": prior, "values": values}
    return encodings


def _output_names(spec: ModelSpec, state: dict[str, Any]) -> list[str]:
    categorical = spec.columns.categorical
    names = [n for n in spec.model_features if n not in set(categorical)]
    if state.get("categorical_encoding", "index") == "one_hot":
        return names + [n for col in categorical for n in state.get("one_hot", {}).get(col, [])]
    return names + list(categorical)


def output_feature_names(state: dict[str, Any]) -> list[str]:
    """The booster's features, in order, as fitted (one-hot columns expanded)."""
    return list(state["feature_names"])


class FeatureStateMismatchError(ConfigError):
    """A fitted feature state was made for other features than the spec declares now."""


def _check_state(spec: ModelSpec, state: dict[str, Any]) -> None:
    base = state.get("base_features", state.get("feature_names"))
    encoding = state.get("categorical_encoding", "index")
    wanted = spec.features.categorical_encoding
    if (
        base != spec.model_features
        or encoding != wanted
        or state.get("feature_names") != _output_names(spec, state)
    ):
        raise FeatureStateMismatchError(
            f"feature state for model '{spec.name}' lists features {state.get('feature_names')} "
            f"({encoding} encoding) but the spec declares {spec.model_features} ({wanted} encoding); "
            "retrain after changing features"
        )


def _event_seconds(spec: ModelSpec) -> Column:
    from pyspark.sql import functions as F

    return F.to_timestamp(F.col(str(spec.columns.event_time))).cast("long")


def _with_aggregates(df: DataFrame, spec: ModelSpec, history: DataFrame | None) -> DataFrame:
    """``df`` plus ``_agg_out_<i>`` per aggregate, over the entity's strictly earlier rows of history ∪ df."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    aggs = spec.features.aggregates
    inputs = list(dict.fromkeys(a.column for a in aggs if a.column != "*"))

    def helpers(frame: DataFrame, current: bool) -> dict[str, Column]:
        cols = {
            "_agg_entity": F.col(str(spec.columns.entity)).cast("string"),
            "_agg_time": _event_seconds(spec),
            "_agg_current": F.lit(current),
        }
        return cols | {f"_agg_in_{i}": F.col(c).cast("double") for i, c in enumerate(inputs)}

    both = df.withColumns(helpers(df, True))
    if history is not None:
        past = history.select(*[c.alias(n) for n, c in helpers(history, False).items()])
        both = both.unionByName(past, allowMissingColumns=True)
    valid = F.col("_agg_entity").isNotNull() & F.col("_agg_time").isNotNull()
    by_entity = Window.partitionBy("_agg_entity").orderBy("_agg_time")
    funcs = {"count": F.count, "sum": F.sum, "mean": F.avg, "min": F.min, "max": F.max}
    out: dict[str, Column] = {}
    for i, agg in enumerate(aggs):
        x = F.lit(1.0) if agg.column == "*" else F.col(f"_agg_in_{inputs.index(agg.column)}")
        value = funcs[agg.agg](F.when(valid, x)).over(by_entity.rangeBetween(-agg.window_seconds, -1))
        if agg.agg in ("count", "sum"):
            value = F.coalesce(value, F.lit(0.0))
        out[f"_agg_out_{i}"] = F.when(valid, value.cast("double"))
    return both.withColumns(out).where(F.col("_agg_current"))


def apply_features(
    df: DataFrame,
    spec: ModelSpec,
    state: dict[str, Any],
    *,
    with_split: bool,
    history: DataFrame | None = None,
) -> DataFrame:
    """Model features (doubles, NaN for missing) plus ``_row_id``, the row key as ``entity_id``
    (the id, or the content key) and the label if present.

    ``history`` (earlier validated rows of the model) feeds the windowed aggregates only; just
    ``df``'s rows are returned.
    """
    from pyspark.sql import functions as F

    _check_state(spec, state)
    if spec.features.aggregates:
        df = _with_aggregates(df, spec, history)
    cols: dict[str, Column] = {}
    for name in spec.columns.numeric:
        value = F.col(name).cast("double")
        fill = state["impute"].get(name)
        cols[name] = F.coalesce(value, F.lit(float(fill))) if fill is not None else value
    for name, derived in derived_columns(spec, cols).items():
        cols[name] = derived.value  # null outside the op's domain (validation counted those)
    for i, agg in enumerate(spec.features.aggregates):
        cols[agg.name] = F.col(f"_agg_out_{i}")
    for name in spec.columns.categorical:
        cols.update(_encoded_columns(name, spec, state))
    nan = F.lit(float("nan"))
    out = [F.col("_row_id"), entity_key(spec).alias("entity_id")]
    if "_label" in df.columns:
        out.append(F.col("_label").cast("double").alias("label"))
    if with_split:
        out.append(split_of(df, spec).alias("split"))
    out += [F.coalesce(cols[n].cast("double"), nan).alias(n) for n in output_feature_names(state)]
    return df.select(*out)


def _encoded_columns(name: str, spec: ModelSpec, state: dict[str, Any]) -> dict[str, Column]:
    """One categorical column encoded per the state: index code, one-hot indicators or target mean."""
    from pyspark.sql import functions as F

    raw = F.col(name).cast("string")
    vocab = state["vocabulary"].get(name, [])
    encoding = state.get("categorical_encoding", "index")
    if encoding == "one_hot":
        # Nulls stay missing in every indicator; unseen values light up only ``<col>__other``.
        *known, other = state["one_hot"][name]
        cols = {
            n: F.when(raw.isNull(), F.lit(None)).otherwise((raw == v).cast("double"))
            for n, v in zip(known, vocab, strict=True)
        }
        unseen = ~raw.isin(vocab) if vocab else F.lit(True)
        cols[other] = F.when(raw.isNull(), F.lit(None)).otherwise(unseen.cast("double"))
        return cols
    if encoding == "target":
        fitted = state["target_encoding"][name]
        values = fitted["values"]
        prior = F.lit(float(fitted["prior"]))
        if not values:
            return {name: prior}
        mapping = F.create_map(*[x for v, e in values.items() for x in (F.lit(v), F.lit(float(e)))])
        return {name: F.when(raw.isNull(), prior).otherwise(F.coalesce(F.element_at(mapping, raw), prior))}
    mapping = F.create_map(*[x for i, v in enumerate(vocab) for x in (F.lit(v), F.lit(float(i)))])
    known_code = F.element_at(mapping, F.col(name)) if vocab else F.lit(None).cast("double")
    # Unseen categories get their own code (len(vocab)); nulls stay missing.
    return {
        name: F.when(F.col(name).isNull(), F.lit(None)).otherwise(
            F.coalesce(known_code, F.lit(float(len(vocab))))
        )
    }
