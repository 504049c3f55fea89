"""Drift statistics on what the profile keeps: bin proportions, category counts, quantile grids.

Pure numpy and scipy, no Spark: the caller has already reduced each column to a few hundred
numbers, so these run on the driver in microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare, ks_2samp, kstwobign, wasserstein_distance

PROPORTION_FLOOR = 1e-4
WASSERSTEIN_STD_FLOOR = 1e-3


def quantile_grid(k: int) -> list[float]:
    """Midpoint probabilities ``(j + 0.5) / k``: the grid both sides' quantile functions use."""
    return [(j + 0.5) / k for j in range(k)]


def psi(expected: Sequence[float], actual: Sequence[float], eps: float = PROPORTION_FLOOR) -> float:
    """Population stability index, sum((a - e) * ln(a / e)), with proportions clipped at ``eps``."""
    if len(expected) != len(actual):
        raise ValueError(f"psi needs equally many bins, got {len(expected)} and {len(actual)}")
    e = np.maximum(np.asarray(expected, dtype=np.float64), eps)
    a = np.maximum(np.asarray(actual, dtype=np.float64), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def wasserstein_normed(
    reference_quantiles: Sequence[float], current_quantiles: Sequence[float], std: float
) -> float:
    """Wasserstein-1 distance divided by the reference's standard deviation (Evidently's ``wasserstein``).

    Both quantile functions are sampled on the same midpoint grid, so W1 of the two grids as
    equally weighted samples is the midpoint rule of the integral of |Q_ref(p) - Q_cur(p)|.
    """
    if len(reference_quantiles) != len(current_quantiles) or len(reference_quantiles) == 0:
        raise ValueError("wasserstein needs two quantile grids of the same, non-zero length")
    w1 = wasserstein_distance(reference_quantiles, current_quantiles)
    return float(w1) / max(float(std), WASSERSTEIN_STD_FLOOR)


def ks_from_quantiles(
    reference_quantiles: Sequence[float], current_quantiles: Sequence[float], n_reference: int, n_current: int
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic of the two quantile grids and its asymptotic p-value.

    The statistic is exact up to the grid's resolution (1/K for K grid points); the p-value uses
    the real sample sizes, not the grid's, since the grids stand for ``n_reference``/``n_current`` rows.
    """
    statistic = float(ks_2samp(reference_quantiles, current_quantiles, method="asymp").statistic)
    n_eff = n_reference * n_current / (n_reference + n_current)
    return statistic, float(kstwobign.sf(statistic * math.sqrt(n_eff)))


def jensenshannon_distance(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Jensen-Shannon distance (natural log, as scipy and Evidently compute it) of two distributions."""
    if sum(expected) <= 0 or sum(actual) <= 0:
        return 0.0
    return float(jensenshannon(list(expected), list(actual)))


def chi2_p_value(expected: Sequence[float], actual_counts: Sequence[float]) -> float:
    """Chi-squared goodness-of-fit p-value of the batch's category counts against the reference shares."""
    n = float(sum(actual_counts))
    if n == 0:
        return 1.0
    floored = np.maximum(np.asarray(expected, dtype=np.float64), PROPORTION_FLOOR)
    return float(chisquare(list(actual_counts), n * floored / floored.sum()).pvalue)
