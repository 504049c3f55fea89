"""Full holdout evaluation: metrics with bootstrap intervals, calibration, slices and a paired test.

Pure numpy and scikit-learn on arrays already on the driver. Point metrics use the same
definitions as scikit-learn's; intervals come from a stratified
bootstrap (positives and negatives resampled separately) computed as resample weights, so every
resample is a matrix row rather than a Python loop. Everything returned is JSON-serialisable,
with None where a value is undefined (one class only, no rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

CI_LEVEL = 0.95
CALIBRATION_BINS = 10
LOGLOSS_EPS = 1e-7
MISSING_SLICE_VALUE = "<missing>"
_CHUNK_CELLS = 4_000_000


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _as_arrays(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if len(y) != len(s):
        raise ValueError(f"labels ({len(y)}) and scores ({len(s)}) differ in length")
    if len(y) and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinite values")
    return y, s


def _two_classes(y: np.ndarray) -> bool:
    return len(y) > 0 and y.min() != y.max()


def _row_logloss(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    p = np.clip(s, LOGLOSS_EPS, 1 - LOGLOSS_EPS)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def _ranking_metrics(y: np.ndarray, s: np.ndarray) -> tuple[float | None, float | None]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if not _two_classes(y):
        return None, None
    return _num(roc_auc_score(y, s)), _num(average_precision_score(y, s))


def _logloss(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, np.clip(s, LOGLOSS_EPS, 1 - LOGLOSS_EPS), labels=[0, 1]))


def _point_metrics(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, Any]:
    from sklearn.metrics import brier_score_loss, precision_score, recall_score

    auc, pr_auc = _ranking_metrics(y, s)
    decisions = (s >= threshold).astype(np.int64)
    return {
        "auc": auc,
        "pr_auc": pr_auc,
        "logloss": _num(_logloss(y, s)),
        "brier": _num(brier_score_loss(y, s)),
        "precision_at_threshold": _num(precision_score(y, decisions, zero_division=0)),
        "recall_at_threshold": _num(recall_score(y, decisions, zero_division=0)),
        "positive_rate": _num(y.mean()),
        "holdout_rows": int(len(y)),
    }


class _Ranking:
    """One model's scores sorted once (descending), with tie groups, for weighted AUC and AP."""

    def __init__(self, y: np.ndarray, s: np.ndarray) -> None:
        self.order = np.argsort(-s, kind="mergesort")
        sorted_scores = s[self.order]
        self.y_sorted = y[self.order].astype(np.float64)
        self.starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
        self.tied = len(self.starts) < len(s)

    def _per_group(self, sorted_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positive and negative weight per tie group (the rows themselves when no scores tie)."""
        pos = sorted_weights * self.y_sorted
        neg = sorted_weights - pos  # exact: resample counts are whole numbers
        if not self.tied:
            return pos, neg
        return np.add.reduceat(pos, self.starts, axis=1), np.add.reduceat(neg, self.starts, axis=1)

    def auc_ap(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """AUC and average precision per row of ``weights`` (resample counts, original row order)."""
        pos, neg = self._per_group(weights[:, self.order])
        tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
        total_pos, total_neg = tp[:, -1], fp[:, -1]
        # A positive beats every negative in a lower group and ties half of its own group.
        auc = (pos * (total_neg[:, None] - fp + 0.5 * neg)).sum(axis=1) / (total_pos * total_neg)
        predicted = tp + fp
        precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
        ap = (pos * precision).sum(axis=1) / total_pos
        return auc, ap

    def auc(self, weights: np.ndarray) -> np.ndarray:
        """AUC per row of ``weights`` (resample counts, original row order), without AP."""
        pos, neg = self._per_group(weights[:, self.order])
        fp = np.cumsum(neg, axis=1)
        total_pos, total_neg = pos.sum(axis=1), fp[:, -1]
        return (pos * (total_neg[:, None] - fp + 0.5 * neg)).sum(axis=1) / (total_pos * total_neg)


def resample_weights(groups: list[np.ndarray], n: int, n_bootstrap: int, seed: int) -> Iterator[np.ndarray]:
    """Yield bootstrap resample-count matrices (chunks of rows, ``n`` columns), each group of row
    indices resampled within itself (one group of all rows: a plain bootstrap)."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // max(n, 1))
    done = 0
    while done < n_bootstrap:
        b = min(chunk, n_bootstrap - done)
        weights = np.zeros((b, n), dtype=np.float64)
        for idx in groups:
            k = len(idx)
            if k == 0:
                continue
            draws = rng.integers(0, k, size=(b, k)) + (np.arange(b) * k)[:, None]
            weights[:, idx] = np.bincount(draws.ravel(), minlength=b * k).reshape(b, k)
        done += b
        yield weights


def _stratified_weights(y: np.ndarray, n_bootstrap: int, seed: int) -> Iterator[np.ndarray]:
    """Yield resample-count matrices (chunks of rows), resampling each class within itself."""
    return resample_weights([np.flatnonzero(y == 1), np.flatnonzero(y == 0)], len(y), n_bootstrap, seed)


def _interval(values: np.ndarray, level: float) -> dict[str, Any]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"low": None, "high": None, "level": level}
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return {"low": _num(low), "high": _num(high), "level": level}


def _bootstrap_intervals(y: np.ndarray, s: np.ndarray, n_bootstrap: int, seed: int) -> dict[str, Any]:
    names = ("auc", "pr_auc", "logloss", "brier")
    if n_bootstrap <= 0 or len(y) == 0:
        return {name: None for name in names}
    ranked = _two_classes(y)
    ranking = _Ranking(y, s) if ranked else None
    row_logloss, row_brier = _row_logloss(y, s), (s - y) ** 2
    stats: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for weights in _stratified_weights(y, n_bootstrap, seed):
        if ranking is not None:
            auc, ap = ranking.auc_ap(weights)
            stats["auc"].append(auc)
            stats["pr_auc"].append(ap)
        stats["logloss"].append(weights @ row_logloss / len(y))
        stats["brier"].append(weights @ row_brier / len(y))
    return {name: _interval(np.concatenate(stats[name]), CI_LEVEL) if stats[name] else None for name in names}


def _confusion(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, Any]:
    predicted = s >= threshold
    actual = y == 1
    return {
        "threshold": float(threshold),
        "tn": int(np.sum(~predicted & ~actual)),
        "fp": int(np.sum(predicted & ~actual)),
        "fn": int(np.sum(~predicted & actual)),
        "tp": int(np.sum(predicted & actual)),
    }


def _calibration(y: np.ndarray, s: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    index = np.clip(np.floor(np.clip(s, 0.0, 1.0) * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    score_sums = np.bincount(index, weights=s, minlength=bins)
    label_sums = np.bincount(index, weights=y, minlength=bins)
    return {
        "bins": [
            {
                "mean_predicted": float(score_sums[b] / counts[b]),
                "fraction_positive": float(label_sums[b] / counts[b]),
                "count": int(counts[b]),
            }
            for b in range(bins)
            if counts[b] > 0
        ]
    }


def _slice_labels(values: Any, n: int, name: str) -> np.ndarray:
    raw = np.asarray(values, dtype=object).ravel()
    if len(raw) != n:
        raise ValueError(f"slice '{name}' has {len(raw)} values for {n} rows")
    missing = [v is None or (isinstance(v, float) and math.isnan(v)) for v in raw]
    return np.array([MISSING_SLICE_VALUE if m else str(v) for v, m in zip(raw, missing, strict=True)])


def _slices(y: np.ndarray, s: np.ndarray, slices: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, values in slices.items():
        keys = _slice_labels(values, len(y), name)
        rows = []
        for value in np.unique(keys):
            mask = keys == value
            ys, ss = y[mask], s[mask]
            auc, pr_auc = _ranking_metrics(ys, ss)
            rows.append(
                {
                    "value": str(value),
                    "rows": int(mask.sum()),
                    "positive_rate": _num(ys.mean()),
                    "auc": auc,
                    "pr_auc": pr_auc,
                    "logloss": _num(_logloss(ys, ss)),
                }
            )
        out[name] = rows
    return out


def full_metrics(
    labels: Any,
    scores: Any,
    threshold: float,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    slices: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Holdout metrics, 95% bootstrap intervals, confusion matrix, calibration and per-slice metrics.

    ``metrics`` are the holdout metrics of record (the registry's ``metrics.json``); with one class, AUC and PR-AUC
    (and their intervals) are None instead of an error. ``slices`` maps a name to one value per row.
    """
    y, s = _as_arrays(labels, scores)
    if len(y) == 0:
        raise ValueError("no rows to evaluate")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    return {
        "metrics": _point_metrics(y, s, threshold),
        "confidence_intervals": _bootstrap_intervals(y, s, n_bootstrap, seed),
        "confusion_matrix": _confusion(y, s, threshold),
        "calibration": _calibration(y, s),
        "slices": _slices(y, s, slices or {}),
    }


def paired_auc_difference(
    labels: Any,
    challenger_scores: Any,
    champion_scores: Any,
    *,
    n_bootstrap: int = 500,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """AUC(challenger) - AUC(champion) on the same rows, with a paired stratified bootstrap interval.

    Both models are scored on the same resamples, so the interval reflects the difference itself
    rather than two independent sampling noises. Raises ValueError when the labels have one class.
    """
    from sklearn.metrics import roc_auc_score

    y, challenger = _as_arrays(labels, challenger_scores)
    _, champion = _as_arrays(labels, champion_scores)
    if not _two_classes(y):
        raise ValueError("labels need both classes to compare AUCs")
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    challenger_auc = float(roc_auc_score(y, challenger))
    champion_auc = float(roc_auc_score(y, champion))
    rank_challenger, rank_champion = _Ranking(y, challenger), _Ranking(y, champion)
    differences = [
        rank_challenger.auc(weights) - rank_champion.auc(weights)
        for weights in _stratified_weights(y, n_bootstrap, seed)
    ]
    interval = _interval(np.concatenate(differences), level)
    return {
        "challenger_auc": challenger_auc,
        "champion_auc": champion_auc,
        "difference": challenger_auc - champion_auc,
        "low": interval["low"],
        "high": interval["high"],
        "level": level,
        "n_bootstrap": int(n_bootstrap),
    }
