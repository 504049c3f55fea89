"""Multiclass holdout evaluation: macro one-vs-rest AUC, logloss, macro-F1 and accuracy with
class-stratified bootstrap intervals, per-class metrics, the confusion matrix, slices and a
paired test of the macro-AUC difference.

Predictions are an (n, k) probability matrix, labels the class indices 0..k-1. The decision is
the most probable class (argmax). Macro AUC averages the one-vs-rest AUC of the classes present
in the labels (a class without holdout rows has no AUC); with every class present it equals
scikit-learn's ``roc_auc_score(multi_class="ovr", average="macro")``. Macro-F1 averages over the
classes that occur in the labels or the decisions, as ``f1_score(average="macro")`` does.
Bootstrap resamples are matrix rows of resample counts (each class resampled within itself), as
in ``mlplatform.modeling.evaluation``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplatform.modeling.evaluation import (
    CI_LEVEL,
    LOGLOSS_EPS,
    _interval,
    _num,
    _Ranking,
    _slice_labels,
    resample_weights,
)

INTERVAL_METRICS = ("auc", "logloss", "macro_f1", "accuracy")


def as_multiclass_arrays(
    labels: Any, probabilities: Any, classes: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Class indices, the (n, k) probability matrix and the class names, checked against each other."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"multiclass predictions must be an (n, k) matrix with k >= 2, got shape {p.shape}")
    raw = np.asarray(labels, dtype=np.float64).ravel()
    if len(raw) != p.shape[0]:
        raise ValueError(f"labels ({len(raw)}) and predictions ({p.shape[0]}) differ in length")
    k = p.shape[1]
    names = [str(c) for c in classes] if classes is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for {k} probability columns")
    if len(raw) and (
        not np.isfinite(raw).all() or (raw != np.round(raw)).any() or raw.min() < 0 or raw.max() >= k
    ):
        raise ValueError(f"multiclass labels must be class indices 0..{k - 1}")
    if not np.isfinite(p).all():
        raise ValueError("predictions contain NaN or infinite values")
    return raw.astype(np.int64), p, names


def _present(y: np.ndarray, k: int) -> np.ndarray:
    """Indices of the classes with at least one row among the labels."""
    return np.flatnonzero(np.bincount(y, minlength=k) > 0)


def class_auc(y: np.ndarray, p: np.ndarray, c: int) -> float | None:
    """One-vs-rest AUC of class ``c`` (None when the class or its rest has no rows)."""
    from sklearn.metrics import roc_auc_score

    positive = y == c
    if positive.all() or not positive.any():
        return None
    return _num(roc_auc_score(positive.astype(np.int64), p[:, c]))


def macro_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Mean one-vs-rest AUC over the classes present; None with fewer than two present."""
    present = _present(y, p.shape[1])
    if len(present) < 2:
        return None
    values = [class_auc(y, p, int(c)) for c in present]
    return _num(np.mean([v for v in values if v is not None]))


def _row_logloss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(p[np.arange(len(y)), y], LOGLOSS_EPS, 1 - LOGLOSS_EPS))


def _macro_f1(y: np.ndarray, decided: np.ndarray, k: int) -> float:
    from sklearn.metrics import f1_score

    return float(
        f1_score(y, decided, labels=np.arange(k)[_f1_labels(y, decided, k)], average="macro", zero_division=0)
    )


def _f1_labels(y: np.ndarray, decided: np.ndarray, k: int) -> np.ndarray:
    """Mask of the classes in the labels or the decisions (scikit-learn's default label set)."""
    return (np.bincount(y, minlength=k) + np.bincount(decided, minlength=k)) > 0


def _point_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    decided = p.argmax(axis=1)
    k = p.shape[1]
    return {
        "auc": macro_auc(y, p),
        "logloss": _num(_row_logloss(y, p).mean()),
        "macro_f1": _num(_macro_f1(y, decided, k)),
        "accuracy": _num((decided == y).mean()),
        "holdout_rows": int(len(y)),
        "classes_present": int(len(_present(y, k))),
    }


class _MacroAuc:
    """One ``_Ranking`` per present class, for the macro OvR AUC of many resamples at once."""

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        present = _present(y, p.shape[1])
        self.rankings = (
            [_Ranking((y == c).astype(np.int64), p[:, c]) for c in present] if len(present) >= 2 else []
        )

    @property
    def defined(self) -> bool:
        return bool(self.rankings)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        return np.mean([r.auc(weights) for r in self.rankings], axis=0)


def _class_groups(y: np.ndarray, k: int) -> list[np.ndarray]:
    return [np.flatnonzero(y == c) for c in range(k)]


def _resampled_f1(weights: np.ndarray, y: np.ndarray, decided: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 per resample: per-class weighted tp/fp/fn, averaged over the classes that occur."""
    actual = y[None, :] == np.arange(k)[:, None]  # (k, n)
    chosen = decided[None, :] == np.arange(k)[:, None]
    tp = weights @ (actual & chosen).T.astype(np.float64)  # (b, k)
    fp = weights @ (~actual & chosen).T.astype(np.float64)
    fn = weights @ (actual & ~chosen).T.astype(np.float64)
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    occurs = denom > 0
    return (f1 * occurs).sum(axis=1) / np.maximum(occurs.sum(axis=1), 1)


def _bootstrap_intervals(y: np.ndarray, p: np.ndarray, n_bootstrap: int, seed: int) -> dict[str, Any]:
    if n_bootstrap <= 0 or len(y) == 0:
        return {name: None for name in INTERVAL_METRICS}
    k, n = p.shape[1], len(y)
    auc = _MacroAuc(y, p)
    decided = p.argmax(axis=1)
    row_logloss, correct = _row_logloss(y, p), (decided == y).astype(np.float64)
    stats: dict[str, list[np.ndarray]] = {name: [] for name in INTERVAL_METRICS}
    for weights in resample_weights(_class_groups(y, k), n, n_bootstrap, seed):
        if auc.defined:
            stats["auc"].append(auc(weights))
        stats["logloss"].append(weights @ row_logloss / n)
        stats["macro_f1"].append(_resampled_f1(weights, y, decided, k))
        stats["accuracy"].append(weights @ correct / n)
    return {
        name: _interval(np.concatenate(stats[name]), CI_LEVEL) if stats[name] else None
        for name in INTERVAL_METRICS
    }


def _per_class(y: np.ndarray, p: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    from sklearn.metrics import precision_recall_fscore_support

    k = p.shape[1]
    precision, recall, f1, support = precision_recall_fscore_support(
        y, p.argmax(axis=1), labels=np.arange(k), zero_division=0
    )
    return [
        {
            "class": names[c],
            "support": int(support[c]),
            "auc": class_auc(y, p, c),
            "precision": _num(precision[c]),
            "recall": _num(recall[c]),
            "f1": _num(f1[c]),
        }
        for c in range(k)
    ]


def _confusion(y: np.ndarray, p: np.ndarray, names: list[str]) -> dict[str, Any]:
    k = p.shape[1]
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y, p.argmax(axis=1)), 1)
    return {"classes": list(names), "matrix": matrix.tolist()}


def _slices(y: np.ndarray, p: np.ndarray, slices: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, values in slices.items():
        keys = _slice_labels(values, len(y), name)
        rows = []
        for value in np.unique(keys):
            mask = keys == value
            point = _point_metrics(y[mask], p[mask])
            rows.append(
                {
                    "value": str(value),
                    "rows": int(mask.sum()),
                    "auc": point["auc"],
                    "macro_f1": point["macro_f1"],
                    "accuracy": point["accuracy"],
                    "logloss": point["logloss"],
                }
            )
        out[name] = rows
    return out


def multiclass_metrics(
    labels: Any,
    probabilities: Any,
    *,
    classes: list[str] | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
    slices: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Holdout metrics of a multiclass model with bootstrap intervals, per-class metrics, the
    confusion matrix (rows actual, columns decided) and per-slice metrics; None where undefined."""
    y, p, names = as_multiclass_arrays(labels, probabilities, classes)
    if len(y) == 0:
        raise ValueError("no rows to evaluate")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    return {
        "metrics": _point_metrics(y, p),
        "confidence_intervals": _bootstrap_intervals(y, p, n_bootstrap, seed),
        "per_class": _per_class(y, p, names),
        "confusion_matrix": _confusion(y, p, names),
        "slices": _slices(y, p, slices or {}),
    }


def paired_macro_auc_difference(
    labels: Any,
    challenger: Any,
    champion: Any,
    *,
    n_bootstrap: int = 500,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Macro AUC(challenger) - macro AUC(champion) on the same rows, with a paired class-stratified
    bootstrap interval; ValueError when fewer than two classes occur in the labels."""
    y, p_challenger, _ = as_multiclass_arrays(labels, challenger)
    _, p_champion, _ = as_multiclass_arrays(labels, champion)
    if p_challenger.shape != p_champion.shape:
        raise ValueError(
            f"challenger {p_challenger.shape} and champion {p_champion.shape} predictions differ in shape"
        )
    if len(_present(y, p_challenger.shape[1])) < 2:
        raise ValueError("labels need at least two classes to compare macro AUCs")
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    challenger_auc = float(macro_auc(y, p_challenger) or 0.0)
    champion_auc = float(macro_auc(y, p_champion) or 0.0)
    auc_challenger, auc_champion = _MacroAuc(y, p_challenger), _MacroAuc(y, p_champion)
    groups = _class_groups(y, p_challenger.shape[1])
    differences = [
        auc_challenger(w) - auc_champion(w) for w in resample_weights(groups, len(y), n_bootstrap, seed)
    ]
    interval = _interval(np.concatenate(differences), level)
    return {
        "metric": "auc",
        "challenger": challenger_auc,
        "champion": champion_auc,
        "challenger_auc": challenger_auc,
        "champion_auc": champion_auc,
        "difference": challenger_auc - champion_auc,
        "low": interval["low"],
        "high": interval["high"],
        "level": level,
        "n_bootstrap": int(n_bootstrap),
    }
