"""Batch scoring on Spark with a registered booster.

The booster's UBJSON bytes are broadcast once; each partition rebuilds the booster and calls
``inplace_predict`` on its rows, so scoring scales with the cluster and uses exactly the
registered model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

SCORE_SCHEMA = "_row_id string, entity_id string, score double, prediction int"


def score_frame(
    spark: SparkSession, features: DataFrame, booster_raw: bytes, feature_names: list[str], threshold: float
) -> DataFrame:
    """``_row_id``, ``entity_id``, ``score`` (positive-class probability) and ``prediction``."""
    missing = [c for c in feature_names if c not in features.columns]
    if missing:
        raise ValueError(f"features table lacks model feature column(s) {missing}")
    payload = spark.sparkContext.broadcast(booster_raw)
    names = list(feature_names)

    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import numpy as np
        import pandas as pd
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(payload.value))
        booster.set_param({"nthread": 1})
        for batch in batches:
            if batch.empty:
                continue
            matrix = batch[names].to_numpy(dtype=np.float64)
            scores = booster.inplace_predict(matrix, missing=np.nan)
            yield pd.DataFrame(
                {
                    "_row_id": batch["_row_id"].astype(str),
                    "entity_id": batch["entity_id"].astype(str),
                    "score": scores.astype(np.float64),
                    "prediction": (scores >= threshold).astype(np.int32),
                }
            )

    return features.select("_row_id", "entity_id", *names).mapInPandas(predict, SCORE_SCHEMA)
