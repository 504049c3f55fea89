"""Batch scoring on Spark with a registered booster.

The booster's UBJSON bytes are broadcast once; a scalar-iterator pandas UDF rebuilds the booster
once per task and calls ``inplace_predict`` on Arrow batches of the feature columns only. Row ids
stay in the JVM and the thresholded decision is a Spark expression, so only doubles cross into
Python and back (``bench/bench_scoring.py`` measures what that costs against raw xgboost).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SCORE_SCHEMA = "_row_id string, entity_id string, score double, prediction int"


def score_frame(
    spark: SparkSession, features: DataFrame, booster_raw: bytes, feature_names: list[str], threshold: float
) -> DataFrame:
    """``_row_id``, ``entity_id``, ``score`` (positive-class probability) and ``prediction``."""
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    missing = [c for c in feature_names if c not in features.columns]
    if missing:
        raise ValueError(f"features table lacks model feature column(s) {missing}")
    payload = spark.sparkContext.broadcast(booster_raw)

    def predict(batches: Iterator[tuple[pd.Series, ...]]) -> Iterator[pd.Series]:
        import numpy as np
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(payload.value))
        booster.set_param({"nthread": 1})
        for columns in batches:
            matrix = np.column_stack([c.to_numpy(dtype=np.float64, na_value=np.nan) for c in columns])
            yield pd.Series(booster.inplace_predict(matrix, missing=np.nan), dtype="float64")

    score = pandas_udf(predict, "double")  # type: ignore[call-overload]
    return features.select(
        F.col("_row_id").cast("string").alias("_row_id"),
        F.col("entity_id").cast("string").alias("entity_id"),
        score(*[F.col(f"`{n}`").cast("double") for n in feature_names]).alias("score"),
    ).withColumn("prediction", (F.col("score") >= F.lit(float(threshold))).cast("int"))
