"""Full evaluation: metrics agree with scikit-learn, intervals, calibration, slices, paired AUC test."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from mlplatform.modeling.evaluation import full_metrics, paired_auc_difference
from mlplatform.reporting.plots import calibration_plot_png

INTERVAL_METRICS = ("auc", "pr_auc", "logloss", "brier")


def _informative(n: int, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels with a real signal; scores are a noisy logistic of that signal."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-2 * signal))).astype(np.int64)
    scores = 1 / (1 + np.exp(-(signal + rng.normal(scale=noise, size=n))))
    return labels, scores


@pytest.fixture(scope="module")
def holdout() -> tuple[np.ndarray, np.ndarray]:
    return _informative(20_000, seed=1)


@pytest.fixture(scope="module")
def result(holdout: tuple[np.ndarray, np.ndarray]) -> dict:
    labels, scores = holdout
    return full_metrics(labels, scores, 0.5)


def test_point_metrics_equal_scikit_learn(holdout, result) -> None:  # type: ignore[no-untyped-def]
    from sklearn import metrics as skm

    labels, scores = holdout
    decisions = (scores >= 0.5).astype(int)
    expected = {
        "auc": skm.roc_auc_score(labels, scores),
        "pr_auc": skm.average_precision_score(labels, scores),
        "logloss": skm.log_loss(labels, np.clip(scores, 1e-7, 1 - 1e-7), labels=[0, 1]),
        "brier": skm.brier_score_loss(labels, scores),
        "precision_at_threshold": skm.precision_score(labels, decisions, zero_division=0),
        "recall_at_threshold": skm.recall_score(labels, decisions, zero_division=0),
        "positive_rate": labels.mean(),
        "holdout_rows": len(labels),
    }
    assert result["metrics"] == pytest.approx(expected, rel=1e-12)


def test_intervals_contain_point_estimate_and_narrow_with_rows(result) -> None:  # type: ignore[no-untyped-def]
    small = full_metrics(*_informative(1_000, seed=2), 0.5)
    for name in INTERVAL_METRICS:
        ci = result["confidence_intervals"][name]
        assert ci["level"] == 0.95
        assert ci["low"] <= result["metrics"][name] <= ci["high"]
        small_ci = small["confidence_intervals"][name]
        assert small_ci["low"] <= small["metrics"][name] <= small_ci["high"]
        assert ci["high"] - ci["low"] < 0.5 * (small_ci["high"] - small_ci["low"])


def test_bootstrap_of_20k_rows_is_fast(holdout) -> None:  # type: ignore[no-untyped-def]
    labels, scores = holdout
    full_metrics(labels[:100], scores[:100], 0.5, n_bootstrap=2)
    start = time.perf_counter()
    full_metrics(labels, scores, 0.5, n_bootstrap=200)
    assert time.perf_counter() - start < 5.0


def test_bootstrap_is_deterministic_per_seed(holdout) -> None:  # type: ignore[no-untyped-def]
    labels, scores = holdout
    a = full_metrics(labels, scores, 0.5, n_bootstrap=50, seed=3)
    b = full_metrics(labels, scores, 0.5, n_bootstrap=50, seed=3)
    assert a == b


def test_perfect_model_has_auc_interval_at_one() -> None:
    labels = np.random.default_rng(4).integers(0, 2, size=2_000)
    scores = np.where(labels == 1, 0.9, 0.1) + np.random.default_rng(5).uniform(-0.05, 0.05, size=2_000)
    out = full_metrics(labels, scores, 0.5)
    assert out["metrics"]["auc"] == 1.0
    assert out["confidence_intervals"]["auc"]["low"] == 1.0
    assert out["confidence_intervals"]["auc"]["high"] == 1.0
    assert out["confidence_intervals"]["pr_auc"]["low"] == 1.0


def test_confusion_matrix_counts(holdout, result) -> None:  # type: ignore[no-untyped-def]
    labels, scores = holdout
    cm = result["confusion_matrix"]
    assert cm["threshold"] == 0.5
    assert cm["tn"] + cm["fp"] + cm["fn"] + cm["tp"] == len(labels)
    predicted = scores >= 0.5
    assert cm["tp"] == int(np.sum(predicted & (labels == 1)))
    assert cm["fp"] == int(np.sum(predicted & (labels == 0)))
    assert cm["fn"] == int(np.sum(~predicted & (labels == 1)))
    assert cm["tn"] == int(np.sum(~predicted & (labels == 0)))


def test_calibration_of_calibrated_scores_follows_diagonal() -> None:
    rng = np.random.default_rng(6)
    scores = rng.random(50_000)
    labels = (rng.random(50_000) < scores).astype(np.int64)
    bins = full_metrics(labels, scores, 0.5, n_bootstrap=0)["calibration"]["bins"]
    assert len(bins) == 10
    assert sum(b["count"] for b in bins) == 50_000
    for b in bins:
        assert abs(b["fraction_positive"] - b["mean_predicted"]) < 0.03


def test_calibration_omits_empty_bins() -> None:
    scores = np.array([0.05, 0.06, 0.95, 0.97])
    bins = full_metrics(np.array([0, 0, 1, 1]), scores, 0.5, n_bootstrap=0)["calibration"]["bins"]
    assert [b["count"] for b in bins] == [2, 2]


def test_slices_separate_good_random_and_single_class_segments() -> None:
    rng = np.random.default_rng(7)
    good_labels, good_scores = _informative(5_000, seed=8, noise=0.2)
    random_labels = rng.integers(0, 2, size=5_000)
    random_scores = rng.random(5_000)
    labels = np.concatenate([good_labels, random_labels, np.zeros(20, dtype=np.int64)])
    scores = np.concatenate([good_scores, random_scores, rng.random(20)])
    segment = np.array(["good"] * 5_000 + ["random"] * 5_000 + ["tiny"] * 20, dtype=object)
    tier = np.concatenate([np.ones(5_000), np.full(5_000, 2.0), np.full(20, np.nan)])
    out = full_metrics(labels, scores, 0.5, n_bootstrap=0, slices={"segment": segment, "tier": tier})
    by_value = {row["value"]: row for row in out["slices"]["segment"]}
    assert set(by_value) == {"good", "random", "tiny"}
    assert by_value["good"]["auc"] > 0.8
    assert abs(by_value["random"]["auc"] - 0.5) < 0.05
    assert by_value["tiny"]["rows"] == 20
    assert by_value["tiny"]["auc"] is None
    assert by_value["tiny"]["positive_rate"] == 0.0
    assert by_value["tiny"]["logloss"] is not None
    assert sum(row["rows"] for row in out["slices"]["tier"]) == len(labels)
    assert all(isinstance(row["value"], str) for row in out["slices"]["tier"])


def test_paired_difference_of_identical_scores_is_zero(holdout) -> None:  # type: ignore[no-untyped-def]
    labels, scores = holdout
    out = paired_auc_difference(labels, scores, scores, n_bootstrap=200)
    assert out["difference"] == 0.0
    assert out["low"] == 0.0 and out["high"] == 0.0
    assert out["level"] == 0.95 and out["n_bootstrap"] == 200


def test_paired_difference_detects_better_and_worse_challenger() -> None:
    rng = np.random.default_rng(9)
    signal = rng.normal(size=5_000)
    labels = (rng.random(5_000) < 1 / (1 + np.exp(-2 * signal))).astype(np.int64)
    sharp = signal + rng.normal(scale=0.3, size=5_000)
    blurry = signal + rng.normal(scale=2.0, size=5_000)
    better = paired_auc_difference(labels, sharp, blurry, n_bootstrap=300)
    assert better["difference"] > 0 and better["low"] > 0
    assert better["low"] <= better["difference"] <= better["high"]
    worse = paired_auc_difference(labels, blurry, sharp, n_bootstrap=300)
    assert worse["high"] < 0


def test_paired_difference_needs_two_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        paired_auc_difference(np.zeros(10), np.random.default_rng(0).random(10), np.ones(10) * 0.5)


def test_single_class_holdout_gives_none_not_nan() -> None:
    out = full_metrics(np.zeros(50, dtype=np.int64), np.random.default_rng(10).random(50), 0.5)
    assert out["metrics"]["auc"] is None and out["metrics"]["pr_auc"] is None
    assert out["confidence_intervals"]["auc"] is None
    assert out["confidence_intervals"]["logloss"]["low"] is not None
    json.dumps(out, allow_nan=False)


def test_result_is_strict_json(result) -> None:  # type: ignore[no-untyped-def]
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text)["metrics"]["holdout_rows"] == 20_000


def test_calibration_plot_is_png(result) -> None:  # type: ignore[no-untyped-def]
    import io

    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    open_before = len(plt.get_fignums())
    png = calibration_plot_png(result["calibration"])
    assert png.startswith(b"\x89PNG")
    height, width, _ = mpimg.imread(io.BytesIO(png)).shape
    assert height > width > 300  # a 5 x 6 inch figure at 90 dpi, cropped to its content
    assert len(plt.get_fignums()) == open_before
