"""Model explanation with SHAP: XGBoost's exact TreeSHAP values and the global importance table.

SHAP values come from XGBoost itself (``pred_contribs=True``), which is exact for tree models and
needs no extra explainer; the ``shap`` package is used only for the report's plots
(``mlplatform.reporting.shap_report``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import xgboost


@dataclass(frozen=True)
class ShapResult:
    """Per-row SHAP values (margin space), the base value of each row and the explained features."""

    values: np.ndarray
    base_values: np.ndarray
    data: pd.DataFrame
    feature_names: list[str]

    def mean_abs(self) -> np.ndarray:
        """Mean |SHAP| per feature, in column order."""
        if self.values.shape[0] == 0:
            return np.zeros(len(self.feature_names))
        return np.abs(self.values).mean(axis=0)

    def global_importance(self) -> list[tuple[str, float]]:
        """Features with their mean |SHAP|, most important first (ties keep column order)."""
        means = self.mean_abs()
        order = np.argsort(-means, kind="stable")
        return [(self.feature_names[i], float(means[i])) for i in order]

    def margins(self) -> np.ndarray:
        """The model's raw margin per row: the sum of SHAP values plus the base value."""
        return self.values.sum(axis=1) + self.base_values


def compute_shap_values(booster: xgboost.Booster, features: pd.DataFrame) -> ShapResult:
    """Exact TreeSHAP values from XGBoost for every row of ``features`` (numeric, NaN = missing)."""
    import xgboost

    data = features.astype("float64")
    contribs = booster.predict(xgboost.DMatrix(data, missing=float("nan")), pred_contribs=True)
    if contribs.ndim != 2:
        raise ValueError(f"expected a single-output model, got contributions of shape {contribs.shape}")
    return ShapResult(
        values=np.ascontiguousarray(contribs[:, :-1], dtype=np.float64),
        base_values=np.ascontiguousarray(contribs[:, -1], dtype=np.float64),
        data=data,
        feature_names=[str(c) for c in data.columns],
    )


def shap_importance_rows(result: ShapResult) -> list[dict]:
    """Global importance as table rows: ``{"feature", "mean_abs_shap", "rank"}``, rank 1 first."""
    return [
        {"feature": name, "mean_abs_shap": value, "rank": rank}
        for rank, (name, value) in enumerate(result.global_importance(), start=1)
    ]
