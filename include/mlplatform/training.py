"""Distributed XGBoost training on Spark (``xgboost.spark``) and holdout evaluation.

The trained booster leaves Spark as bytes in XGBoost's own UBJSON format; evaluation and
scoring use that same booster, so the evaluated model is exactly the registered one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplatform.specs import ModelSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import xgboost as xgb
    from pyspark.sql import DataFrame

DEFAULT_PARAMS: dict[str, Any] = {"n_estimators": 100, "max_depth": 6, "learning_rate": 0.1}
BOOSTER_FORMAT = "ubj"


class TrainingDataError(ValueError):
    """The training data cannot train a model (empty split, one class only)."""


def xgb_params(spec: ModelSpec) -> dict[str, Any]:
    params = {**DEFAULT_PARAMS, **spec.training.params}
    params.setdefault("random_state", spec.training.seed)
    return params


def check_training_data(train: DataFrame, spec: ModelSpec, table: str) -> dict[str, int]:
    """Row and class counts of the training split; a clear error when it cannot train."""
    from pyspark.sql import functions as F

    row = train.agg(F.count("*").alias("n"), F.sum("label").alias("pos")).first()
    n, pos = int(row["n"] or 0), int(row["pos"] or 0)
    if n == 0:
        raise TrainingDataError(f"table {table}: no training rows for model '{spec.name}'")
    if pos == 0 or pos == n:
        raise TrainingDataError(
            f"table {table}: column '{spec.columns.target}' has a single class in the training split "
            f"({pos} positive of {n}); model '{spec.name}' needs both classes"
        )
    return {"rows": n, "positives": pos}


def train_distributed(
    train: DataFrame, spec: ModelSpec, num_workers: int, feature_names: list[str] | None = None
) -> bytes:
    """Train ``SparkXGBClassifier`` on the training split; return the booster as UBJSON bytes.

    ``feature_names`` are the fitted state's output columns (default: the spec's base features).
    """
    from pyspark.ml.feature import VectorAssembler
    from xgboost.spark import SparkXGBClassifier

    features = list(feature_names or spec.model_features)
    assembler = VectorAssembler(inputCols=features, outputCol="features", handleInvalid="keep")
    assembled = assembler.transform(train).select("features", "label")
    if assembled.rdd.getNumPartitions() != num_workers:
        assembled = assembled.repartition(num_workers)
    classifier = SparkXGBClassifier(
        features_col="features",
        label_col="label",
        num_workers=num_workers,
        missing=float("nan"),
        **xgb_params(spec),
    )
    model = classifier.fit(assembled)
    booster = model.get_booster()
    booster.feature_names = list(features)
    return bytes(booster.save_raw(raw_format=BOOSTER_FORMAT))


def load_booster(raw: bytes) -> xgb.Booster:
    """A booster from UBJSON bytes (XGBoost's own format, never pickle)."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def predict_scores(booster: xgb.Booster, features: pd.DataFrame) -> np.ndarray:
    """Positive-class probabilities for a frame whose columns are the booster's features."""
    import numpy as np

    matrix = features[booster.feature_names].to_numpy(dtype=np.float64)
    return np.asarray(booster.inplace_predict(matrix, missing=np.nan), dtype=np.float64)


def evaluate(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Holdout metrics: AUC, PR-AUC, logloss, Brier, and precision/recall at the threshold."""
    import numpy as np
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0 or labels.min() == labels.max():
        raise TrainingDataError("holdout has a single class (or no rows); cannot compute AUC")
    decisions = (scores >= threshold).astype(np.int64)
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "pr_auc": float(average_precision_score(labels, scores)),
        "logloss": float(log_loss(labels, np.clip(scores, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "brier": float(brier_score_loss(labels, scores)),
        "precision_at_threshold": float(precision_score(labels, decisions, zero_division=0)),
        "recall_at_threshold": float(recall_score(labels, decisions, zero_division=0)),
        "positive_rate": float(labels.mean()),
        "holdout_rows": float(len(labels)),
    }
