"""Model explanation with SHAP: XGBoost's exact TreeSHAP values and the global importance table.

SHAP values come from XGBoost itself (``pred_contribs=True``), which is exact for tree models and
needs no extra explainer; the ``shap`` package is used only for the report's plots
(``mlplatform.reporting.shap_report``). A binary or regression booster has one output, so each
row has one value per feature; a multiclass (``multi:softprob``) booster has one output per
class, and XGBoost returns contributions of shape (rows, classes, features + 1): each class's
values explain that class's margin (its softmax logit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import xgboost


@dataclass(frozen=True)
class ShapResult:
    """Per-row SHAP values (margin space), the base value of each row and the explained features.

    Single-output models: ``values`` (rows, features), ``base_values`` (rows,), ``class_names``
    None. Multiclass: ``values`` (rows, classes, features), ``base_values`` (rows, classes) and
    the class names in class-index order.
    """

    values: np.ndarray
    base_values: np.ndarray
    data: pd.DataFrame
    feature_names: list[str]
    class_names: list[str] | None = None

    @property
    def multiclass(self) -> bool:
        """Whether the values are per class (a multiclass model)."""
        return self.values.ndim == 3

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    def mean_abs(self) -> np.ndarray:
        """Mean |SHAP| per feature, in column order (multiclass: averaged over the classes)."""
        if self.n_rows == 0:
            return np.zeros(len(self.feature_names))
        means = np.abs(self.values).mean(axis=0)
        return means.mean(axis=0) if self.multiclass else means

    def class_mean_abs(self) -> np.ndarray:
        """Mean |SHAP| per class and feature, shape (classes, features); multiclass only."""
        self._need_classes()
        if self.n_rows == 0:
            return np.zeros(self.values.shape[1:])
        return np.abs(self.values).mean(axis=0)

    def global_importance(self) -> list[tuple[str, float]]:
        """Features with their mean |SHAP|, most important first (ties keep column order)."""
        return _ranked(self.feature_names, self.mean_abs())

    def class_importance(self) -> dict[str, list[tuple[str, float]]]:
        """Per class (in class order), its features with their mean |SHAP|, most important first."""
        means = self.class_mean_abs()
        return {name: _ranked(self.feature_names, means[c]) for c, name in enumerate(self.class_names or [])}

    def for_class(self, index: int) -> ShapResult:
        """The single-output view of one class: its values and base values, same rows and data."""
        self._need_classes()
        return ShapResult(
            values=np.ascontiguousarray(self.values[:, index, :]),
            base_values=np.ascontiguousarray(self.base_values[:, index]),
            data=self.data,
            feature_names=self.feature_names,
        )

    def margins(self) -> np.ndarray:
        """The model's raw margin per row (multiclass: per row and class): SHAP values plus base value."""
        return self.values.sum(axis=-1) + self.base_values

    def _need_classes(self) -> None:
        if not self.multiclass:
            raise ValueError("per-class SHAP values exist for multiclass models only")


def _ranked(names: list[str], means: np.ndarray) -> list[tuple[str, float]]:
    order = np.argsort(-means, kind="stable")
    return [(names[i], float(means[i])) for i in order]


def compute_shap_values(
    booster: xgboost.Booster, features: pd.DataFrame, class_names: list[str] | None = None
) -> ShapResult:
    """Exact TreeSHAP values from XGBoost for every row of ``features`` (numeric, NaN = missing).

    ``class_names`` names a multiclass model's classes in index order (default ``"0"``, ``"1"``,
    ...); a single-output model has none, and passing names for one is an error.
    """
    import xgboost

    data = features.astype("float64")
    contribs = booster.predict(xgboost.DMatrix(data, missing=float("nan")), pred_contribs=True)
    names = [str(c) for c in data.columns]
    if contribs.ndim == 2:
        if class_names is not None:
            raise ValueError("class_names were given for a single-output model (binary or regression)")
        return ShapResult(
            values=np.ascontiguousarray(contribs[:, :-1], dtype=np.float64),
            base_values=np.ascontiguousarray(contribs[:, -1], dtype=np.float64),
            data=data,
            feature_names=names,
        )
    if contribs.ndim != 3:
        raise ValueError(f"unexpected SHAP contributions of shape {contribs.shape}")
    n_classes = contribs.shape[1]
    classes = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(n_classes)]
    if len(classes) != n_classes:
        raise ValueError(f"{len(classes)} class names for a model with {n_classes} classes")
    return ShapResult(
        values=np.ascontiguousarray(contribs[:, :, :-1], dtype=np.float64),
        base_values=np.ascontiguousarray(contribs[:, :, -1], dtype=np.float64),
        data=data,
        feature_names=names,
        class_names=classes,
    )


def shap_importance_rows(result: ShapResult) -> list[dict[str, Any]]:
    """Importance as table rows ``{"feature", "mean_abs_shap", "rank", "class_label"}``, rank 1 first.

    First the overall ranking (``class_label`` None; for multiclass, mean |SHAP| averaged over the
    classes), then, for multiclass, each class's own ranking with ``class_label`` its name.
    """
    rows: list[dict[str, Any]] = [
        {"feature": name, "mean_abs_shap": value, "rank": rank, "class_label": None}
        for rank, (name, value) in enumerate(result.global_importance(), start=1)
    ]
    if result.multiclass:
        for label, ranking in result.class_importance().items():
            rows.extend(
                {"feature": name, "mean_abs_shap": value, "rank": rank, "class_label": label}
                for rank, (name, value) in enumerate(ranking, start=1)
            )
    return rows
