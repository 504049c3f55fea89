"""Batch scoring on Spark with a registered booster, for every task type.

The booster's UBJSON bytes are broadcast once; a scalar-iterator pandas UDF rebuilds the booster
once per task and calls ``inplace_predict`` on Arrow batches of the feature columns only. Row ids
stay in the JVM and the decisions are Spark expressions, so only doubles cross into Python and
back (``bench/bench_scoring.py`` measures what that costs against raw xgboost).

What a prediction is depends on the task: the positive-class probability and the thresholded
0/1 decision (binary); every class's probability, the most probable class's index and name, and
its probability as the score (multiclass); the predicted value as the score (regression).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def score_frame(
    spark: SparkSession,
    features: DataFrame,
    booster_raw: bytes,
    feature_names: list[str],
    threshold: float,
    *,
    task: str = "binary",
    classes: list[str] | None = None,
    labels: tuple[str, str | None] | None = None,
) -> DataFrame:
    """``_row_id``, ``entity_id``, ``score``, ``prediction``, ``predicted_label`` and
    ``class_probabilities`` (see the module docstring for what each holds per task).

    ``labels`` is a binary model's (positive, negative) target text for ``predicted_label``.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    missing = [c for c in feature_names if c not in features.columns]
    if missing:
        raise ValueError(f"features table lacks model feature column(s) {missing}")
    if task == "multiclass" and not classes:
        raise ValueError("a multiclass model is scored with its classes")
    payload = spark.sparkContext.broadcast(booster_raw)
    width = len(classes or [])

    def predict(batches: Iterator[tuple[pd.Series, ...]]) -> Iterator[pd.Series]:
        import numpy as np
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(payload.value))
        booster.set_param({"nthread": 1})
        for columns in batches:
            matrix = np.column_stack([c.to_numpy(dtype=np.float64, na_value=np.nan) for c in columns])
            out = np.asarray(booster.inplace_predict(matrix, missing=np.nan), dtype=np.float64)
            if task == "multiclass":
                yield pd.Series(list(out.reshape(len(matrix), width)))
            else:
                yield pd.Series(out, dtype="float64")

    returns = "array<double>" if task == "multiclass" else "double"
    udf = pandas_udf(predict, returns)  # type: ignore[call-overload]
    raw = udf(*[F.col(f"`{n}`").cast("double") for n in feature_names])
    base = features.select(
        F.col("_row_id").cast("string").alias("_row_id"),
        F.col("entity_id").cast("string").alias("entity_id"),
        raw.alias("_out"),
    )
    if task == "multiclass":
        names = F.array(*[F.lit(c) for c in classes or []])
        best = F.array_max("_out")
        index = (F.array_position("_out", best) - 1).cast("int")
        return base.select(
            "_row_id",
            "entity_id",
            best.alias("score"),
            index.alias("prediction"),
            F.element_at(names, index + 1).alias("predicted_label"),
            F.map_from_arrays(names, F.col("_out")).alias("class_probabilities"),
        )
    no_map = F.lit(None).cast("map<string,double>").alias("class_probabilities")
    if task == "regression":
        return base.select(
            "_row_id",
            "entity_id",
            F.col("_out").alias("score"),
            F.lit(None).cast("int").alias("prediction"),
            F.lit(None).cast("string").alias("predicted_label"),
            no_map,
        )
    decision = (F.col("_out") >= F.lit(float(threshold))).cast("int")
    positive, negative = labels or ("1", "0")
    return base.select(
        "_row_id",
        "entity_id",
        F.col("_out").alias("score"),
        decision.alias("prediction"),
        F.when(decision == 1, F.lit(positive)).otherwise(F.lit(negative)).alias("predicted_label"),
        no_map,
    )
