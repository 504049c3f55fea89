"""The booster's storage format (XGBoost's UBJSON, loaded without pickle) and its predictions.

A leaf module (only xgboost, imported lazily) so the registry can load a booster and the steps
can predict without importing the training code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import xgboost as xgb

BOOSTER_FORMAT = "ubj"


def load_booster(raw: bytes) -> xgb.Booster:
    """A booster from UBJSON bytes (XGBoost's own format, never pickle)."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def predict_scores(booster: xgb.Booster, features: pd.DataFrame) -> np.ndarray:
    """The booster's predictions for a frame holding its features: positive-class probabilities
    (binary), an (n, classes) probability matrix (multiclass) or values (regression)."""
    import numpy as np

    matrix = features[booster.feature_names].to_numpy(dtype=np.float64)
    return np.asarray(booster.inplace_predict(matrix, missing=np.nan), dtype=np.float64)
