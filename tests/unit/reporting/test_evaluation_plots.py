"""Evaluation figures per task: which PNGs come back, and that they are real, readable figures."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest

from mlplatform.modeling.task_evaluation import evaluate_task
from mlplatform.reporting.plots import MAX_SCATTER_POINTS, confusion_matrix_png, evaluation_plots


def _shape(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG")
    height, width, _ = mpimg.imread(io.BytesIO(png)).shape
    return height, width


def test_binary_gives_the_calibration_plot() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random(500)
    labels = (rng.random(500) < scores).astype(float)
    report = evaluate_task("binary", labels, scores, n_bootstrap=0)
    files = evaluation_plots("binary", report, labels, scores)
    assert list(files) == ["calibration.png"]
    height, width = _shape(files["calibration.png"])
    assert height > width > 300


def test_multiclass_gives_a_confusion_matrix_heatmap() -> None:
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4), size=400)
    labels = probs.argmax(axis=1).astype(float)
    labels[:40] = (labels[:40] + 1) % 4
    report = evaluate_task("multiclass", labels, probs, classes=["a", "b", "c", "d"], n_bootstrap=0)
    open_before = len(plt.get_fignums())
    files = evaluation_plots("multiclass", report, labels, probs)
    assert list(files) == ["confusion_matrix.png"]
    height, width = _shape(files["confusion_matrix.png"])
    assert width > 300 and height > 300
    image = mpimg.imread(io.BytesIO(files["confusion_matrix.png"]))[..., :3]
    assert ((image[..., 2] - image[..., 0]) > 0.3).mean() > 0.05  # the blue cells of the diagonal
    assert len(plt.get_fignums()) == open_before


def test_confusion_matrix_of_many_classes_stays_bounded() -> None:
    k = 30
    confusion = {"classes": [f"class_{i}" for i in range(k)], "matrix": np.eye(k, dtype=int).tolist()}
    height, width = _shape(confusion_matrix_png(confusion))
    assert height < 14 * 90 + 300 and width < 15 * 90 + 300


def test_regression_gives_residual_and_identity_plots() -> None:
    rng = np.random.default_rng(2)
    predicted = rng.normal(size=MAX_SCATTER_POINTS + 500)
    labels = predicted + rng.normal(scale=0.3, size=len(predicted))
    report = evaluate_task("regression", labels, predicted, n_bootstrap=0)
    files = evaluation_plots("regression", report, labels, predicted)
    assert sorted(files) == ["predicted_vs_actual.png", "residuals.png"]
    for png in files.values():
        height, width = _shape(png)
        assert width > 300 and height > 300
    assert files["residuals.png"] != files["predicted_vs_actual.png"]


def test_unknown_task_and_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        evaluation_plots("ranking", {}, [], [])
    with pytest.raises(ValueError, match="differ in length"):
        evaluation_plots("regression", {}, [1.0, 2.0], [1.0])
