"""Regression holdout evaluation: RMSE, MAE and R² with bootstrap intervals, a residual summary,
slices and a paired test of the RMSE improvement.

Point metrics use scikit-learn's definitions. R² is None when the labels are constant (its
denominator is zero; scikit-learn would force it to 0 or 1). Residuals are label - prediction, so
a positive residual means the model predicted too low. Bootstrap resamples are matrix rows of
resample counts over all rows (a plain, unstratified bootstrap), as in
``mlplatform.modeling.evaluation``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplatform.modeling.evaluation import CI_LEVEL, _interval, _num, _slice_labels, resample_weights

INTERVAL_METRICS = ("rmse", "mae", "r2")
RESIDUAL_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def as_regression_arrays(labels: Any, predictions: Any) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions as 1-d float arrays of one length, all finite."""
    y = np.asarray(labels, dtype=np.float64).ravel()
    f = np.asarray(predictions, dtype=np.float64).ravel()
    if len(y) != len(f):
        raise ValueError(f"labels ({len(y)}) and predictions ({len(f)}) differ in length")
    if not np.isfinite(y).all():
        raise ValueError("labels contain NaN or infinite values")
    if not np.isfinite(f).all():
        raise ValueError("predictions contain NaN or infinite values")
    return y, f


def _r2(y: np.ndarray, f: np.ndarray) -> float | None:
    total = float(((y - y.mean()) ** 2).sum())
    if total <= 0.0:
        return None
    return _num(1.0 - float(((y - f) ** 2).sum()) / total)


def _point_metrics(y: np.ndarray, f: np.ndarray) -> dict[str, Any]:
    error = y - f
    return {
        "rmse": _num(np.sqrt(np.mean(error**2))),
        "mae": _num(np.mean(np.abs(error))),
        "r2": _r2(y, f),
        "holdout_rows": int(len(y)),
        "label_mean": _num(y.mean()),
    }


def _resampled_rmse(weights: np.ndarray, squared_error: np.ndarray) -> np.ndarray:
    return np.sqrt(weights @ squared_error / weights.shape[1])


def _bootstrap_intervals(y: np.ndarray, f: np.ndarray, n_bootstrap: int, seed: int) -> dict[str, Any]:
    if n_bootstrap <= 0 or len(y) == 0:
        return {name: None for name in INTERVAL_METRICS}
    n = len(y)
    squared, absolute = (y - f) ** 2, np.abs(y - f)
    # Centre before squaring: the weighted total sum of squares then loses no precision.
    centred = y - y.mean()
    # A resample whose labels are all equal has no R² (its total sum of squares is rounding noise).
    constant = 1e-12 * float(centred @ centred)
    stats: dict[str, list[np.ndarray]] = {name: [] for name in INTERVAL_METRICS}
    for weights in resample_weights([np.arange(n)], n, n_bootstrap, seed):
        sse = weights @ squared
        total = weights @ centred**2 - (weights @ centred) ** 2 / n
        stats["rmse"].append(np.sqrt(sse / n))
        stats["mae"].append(weights @ absolute / n)
        defined = total > constant
        stats["r2"].append(np.where(defined, 1 - sse / np.where(defined, total, 1.0), np.nan))
    return {name: _interval(np.concatenate(stats[name]), CI_LEVEL) for name in INTERVAL_METRICS}


def residual_summary(y: np.ndarray, f: np.ndarray) -> dict[str, Any]:
    """Mean, standard deviation, largest absolute value and quantiles of label - prediction."""
    residual = y - f
    quantiles = np.quantile(residual, RESIDUAL_QUANTILES)
    return {
        "definition": "label - prediction",
        "mean": _num(residual.mean()),
        "std": _num(residual.std()),
        "max_abs": _num(np.abs(residual).max()),
        "quantiles": {
            f"p{round(q * 100):02d}": _num(v) for q, v in zip(RESIDUAL_QUANTILES, quantiles, strict=True)
        },
    }


def _slices(y: np.ndarray, f: np.ndarray, slices: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, values in slices.items():
        keys = _slice_labels(values, len(y), name)
        rows = []
        for value in np.unique(keys):
            mask = keys == value
            point = _point_metrics(y[mask], f[mask])
            rows.append(
                {
                    "value": str(value),
                    "rows": int(mask.sum()),
                    "rmse": point["rmse"],
                    "mae": point["mae"],
                    "r2": point["r2"],
                }
            )
        out[name] = rows
    return out


def regression_metrics(
    labels: Any,
    predictions: Any,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    slices: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Holdout metrics of a regression model with bootstrap intervals, the residual summary and
    per-slice metrics; None where undefined (R² of constant labels)."""
    y, f = as_regression_arrays(labels, predictions)
    if len(y) == 0:
        raise ValueError("no rows to evaluate")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    return {
        "metrics": _point_metrics(y, f),
        "confidence_intervals": _bootstrap_intervals(y, f, n_bootstrap, seed),
        "residuals": residual_summary(y, f),
        "slices": _slices(y, f, slices or {}),
    }


def paired_rmse_difference(
    labels: Any,
    challenger: Any,
    champion: Any,
    *,
    n_bootstrap: int = 500,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """RMSE(champion) - RMSE(challenger) on the same rows (positive: the challenger errs less),
    with a paired bootstrap interval; ValueError without rows."""
    y, f_challenger = as_regression_arrays(labels, challenger)
    _, f_champion = as_regression_arrays(labels, champion)
    if len(y) == 0:
        raise ValueError("no rows to compare RMSEs on")
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    sq_challenger, sq_champion = (y - f_challenger) ** 2, (y - f_champion) ** 2
    challenger_rmse = float(np.sqrt(sq_challenger.mean()))
    champion_rmse = float(np.sqrt(sq_champion.mean()))
    differences = [
        _resampled_rmse(w, sq_champion) - _resampled_rmse(w, sq_challenger)
        for w in resample_weights([np.arange(len(y))], len(y), n_bootstrap, seed)
    ]
    interval = _interval(np.concatenate(differences), level)
    return {
        "metric": "rmse",
        "challenger": challenger_rmse,
        "champion": champion_rmse,
        "challenger_rmse": challenger_rmse,
        "champion_rmse": champion_rmse,
        "difference": champion_rmse - challenger_rmse,
        "low": interval["low"],
        "high": interval["high"],
        "level": level,
        "n_bootstrap": int(n_bootstrap),
    }
