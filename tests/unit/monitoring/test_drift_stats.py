"""Drift statistics against scipy on raw samples, and the choice of test per column kind. No Spark."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlplatform.config.specs import DriftSpec
from mlplatform.monitoring.drift.stats import (
    chi2_p_value,
    jensenshannon_distance,
    ks_from_quantiles,
    psi,
    quantile_grid,
    wasserstein_normed,
)
from mlplatform.monitoring.drift.verdict import choose_stattest, drift_ratio


def test_psi_identical_is_zero_and_shift_is_large() -> None:
    p = [0.1] * 10
    assert psi(p, p) == 0.0
    shifted = [0.0, 0.0, 0.0, 0.05, 0.05, 0.1, 0.1, 0.2, 0.2, 0.3]
    assert psi(p, shifted) > 0.2
    assert psi(p, shifted) == pytest.approx(psi(shifted, p), rel=0.5)
    assert psi([0.5, 0.5], [0.52, 0.48]) < 0.01
    with pytest.raises(ValueError):
        psi([0.5, 0.5], [1.0])


def test_psi_clips_empty_bins_instead_of_dividing_by_zero() -> None:
    value = psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2])
    assert math.isfinite(value)
    assert value == pytest.approx(0.2 * math.log(0.2 / 1e-4) + 2 * (-0.1) * math.log(0.8), rel=1e-3)


def test_wasserstein_matches_scipy_on_exact_quantiles() -> None:
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(0)
    ref, cur = rng.normal(0.0, 2.0, 20000), rng.normal(0.5, 2.0, 20000)
    grid = quantile_grid(1000)
    ours = wasserstein_normed(np.quantile(ref, grid), np.quantile(cur, grid), float(np.std(ref)))
    assert ours == pytest.approx(wasserstein_distance(ref, cur) / np.std(ref), rel=0.02)
    assert ours == pytest.approx(0.25, abs=0.02)


def test_wasserstein_of_a_constant_reference_uses_the_std_floor() -> None:
    assert wasserstein_normed([1.0, 1.0], [1.0, 1.0], 0.0) == 0.0
    assert wasserstein_normed([1.0, 1.0], [1.001, 1.001], 0.0) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        wasserstein_normed([1.0], [1.0, 2.0], 1.0)


def test_ks_from_quantiles_agrees_with_scipy() -> None:
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(1)
    ref, cur = rng.normal(0.0, 1.0, 3000), rng.normal(0.2, 1.0, 2000)
    grid = quantile_grid(100)
    stat, p = ks_from_quantiles(np.quantile(ref, grid).tolist(), np.quantile(cur, grid).tolist(), 3000, 2000)
    exact = ks_2samp(ref, cur)
    assert stat == pytest.approx(exact.statistic, abs=0.011)
    assert p < 0.05 and exact.pvalue < 0.05
    same, p_same = ks_from_quantiles(
        np.quantile(ref, grid).tolist(), np.quantile(ref, grid).tolist(), 3000, 3000
    )
    assert same == 0.0 and p_same == pytest.approx(1.0)


def test_ks_p_value_uses_the_real_sample_sizes() -> None:
    grid = quantile_grid(100)
    ref = [float(x) for x in grid]
    cur = [x + 0.05 for x in ref]
    _, p_small = ks_from_quantiles(ref, cur, 100, 100)
    _, p_large = ks_from_quantiles(ref, cur, 100_000, 100_000)
    assert p_small > 0.05 and p_large < 1e-6


def test_jensenshannon_and_chi2() -> None:
    assert jensenshannon_distance([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0, abs=1e-9)
    assert jensenshannon_distance([1.0, 0.0], [0.0, 1.0]) == pytest.approx(math.sqrt(math.log(2)))
    assert jensenshannon_distance([0.5, 0.3, 0.2], [0.9, 0.05, 0.05]) > 0.1
    assert jensenshannon_distance([0.0, 0.0], [0.5, 0.5]) == 0.0
    assert chi2_p_value([0.5, 0.5], [500, 500]) == pytest.approx(1.0)
    assert chi2_p_value([0.5, 0.5], [600, 400]) < 1e-6
    assert chi2_p_value([0.5, 0.5], [0, 0]) == 1.0


@pytest.mark.parametrize(
    ("kind", "small", "large"),
    [
        ("numeric", "ks", "wasserstein"),
        ("categorical", "chi2", "jensenshannon"),
        ("prediction", "ks", "wasserstein"),
    ],
)
def test_auto_switches_from_p_values_to_distances_above_small_sample_rows(kind, small, large) -> None:  # type: ignore[no-untyped-def]
    spec = DriftSpec(prediction_stattest="auto", small_sample_rows=1000)
    assert choose_stattest(kind, 1000, spec) == (small, spec.p_value_threshold)
    method, threshold = choose_stattest(kind, 1001, spec)
    assert method == large
    expected = spec.jensenshannon_threshold if large == "jensenshannon" else spec.wasserstein_threshold
    assert threshold == expected


def test_configured_tests_and_their_thresholds() -> None:
    spec = DriftSpec(
        numeric_stattest="psi",
        categorical_stattest="chi2",
        prediction_stattest="psi",
        psi_threshold=0.3,
        prediction_psi_threshold=0.15,
        p_value_threshold=0.01,
    )
    for rows in (10, 1_000_000):
        assert choose_stattest("numeric", rows, spec) == ("psi", 0.3)
        assert choose_stattest("categorical", rows, spec) == ("chi2", 0.01)
        assert choose_stattest("prediction", rows, spec) == ("psi", 0.15)


def test_drift_ratio_is_above_one_exactly_when_drifted() -> None:
    assert drift_ratio("wasserstein", 0.2, 0.1) == pytest.approx(2.0)
    assert drift_ratio("psi", 0.05, 0.2) < 1.0
    assert drift_ratio("ks", 0.01, 0.05) == pytest.approx(5.0)
    assert drift_ratio("chi2", 0.5, 0.05) < 1.0
    assert drift_ratio("ks", 0.0, 0.05) > 1.0
