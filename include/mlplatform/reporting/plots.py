"""Figures for the reports: one way to make a figure and to turn it into PNG, and shared charts.

Figures are ``matplotlib.figure.Figure`` objects on their own Agg canvas, never pyplot's global
state, so rendering is thread-safe and leaks no open figures.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 90


@contextmanager
def new_figure(width: float, height: float) -> Iterator[Figure]:
    """A fresh figure of ``width`` x ``height`` inches on an Agg canvas, cleared on exit."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    try:
        yield fig
    finally:
        fig.clear()


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes, cropped to its content."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def png_base64(png: bytes) -> str:
    """PNG bytes as the base64 text of a ``data:image/png;base64,`` URL."""
    return base64.b64encode(png).decode("ascii")


def calibration_plot_png(calibration: dict[str, Any]) -> bytes:
    """A reliability diagram (with the diagonal and per-bin counts) as PNG bytes.

    ``calibration`` is ``full_metrics(...)["calibration"]``: bins with mean predicted score,
    fraction positive and row count.
    """
    from mlplatform.modeling.evaluation import CALIBRATION_BINS

    bins = calibration.get("bins", [])
    predicted = [b["mean_predicted"] for b in bins]
    observed = [b["fraction_positive"] for b in bins]
    counts = [b["count"] for b in bins]
    with new_figure(5.0, 6.0) as fig:
        top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        top.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfectly calibrated")
        top.plot(predicted, observed, "o-", color="#1f77b4", label="model")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1)
        top.set_ylabel("fraction positive")
        top.set_title("Reliability diagram")
        top.legend(loc="upper left")
        bottom.bar(predicted, counts, width=0.8 / CALIBRATION_BINS, color="#7f7f7f")
        bottom.set_xlabel("mean predicted probability")
        bottom.set_ylabel("rows")
        return figure_png(fig)


MAX_SCATTER_POINTS = 20_000


def confusion_matrix_png(confusion: dict[str, Any]) -> bytes:
    """A labelled heatmap of a multiclass confusion matrix (rows actual, columns predicted) with
    the count in each cell. ``confusion`` is the report's ``confusion_matrix``."""
    import numpy as np

    classes = [str(c) for c in confusion["classes"]]
    matrix = np.asarray(confusion["matrix"], dtype=np.int64).reshape(len(classes), len(classes))
    k = len(classes)
    side = min(3.0 + 0.6 * k, 14.0)
    with new_figure(side + 1.0, side) as fig:
        ax = fig.add_subplot(1, 1, 1)
        image = ax.imshow(matrix, cmap="Blues", vmin=0)
        fig.colorbar(image, ax=ax, label="rows")
        ax.set_xticks(
            range(k), labels=classes, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center"
        )
        ax.set_yticks(range(k), labels=classes)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("actual class")
        ax.set_title("Confusion matrix (holdout)")
        dark = matrix.max() / 2 if matrix.size and matrix.max() > 0 else 1
        for i in range(k):
            for j in range(k):
                colour = "white" if matrix[i, j] > dark else "black"
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=colour, fontsize=9)
        return figure_png(fig)


def _scatter_sample(n: int) -> Any:
    """At most ``MAX_SCATTER_POINTS`` row indices (a fixed random subset), for readable scatters."""
    import numpy as np

    if n <= MAX_SCATTER_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=MAX_SCATTER_POINTS, replace=False))


def regression_plots_png(labels: Any, predictions: Any) -> dict[str, bytes]:
    """Residuals (label - prediction) against the prediction with the zero line, and predicted
    against actual with the identity line, as PNG bytes by file name."""
    import numpy as np

    y = np.asarray(labels, dtype=np.float64).ravel()
    f = np.asarray(predictions, dtype=np.float64).ravel()
    if len(y) != len(f):
        raise ValueError(f"labels ({len(y)}) and predictions ({len(f)}) differ in length")
    idx = _scatter_sample(len(y))
    y, f = y[idx], f[idx]
    out: dict[str, bytes] = {}
    with new_figure(6.0, 4.5) as fig:
        ax = fig.add_subplot(1, 1, 1)
        ax.scatter(f, y - f, s=6, alpha=0.4, color="#1f77b4", linewidths=0)
        ax.axhline(0.0, color="k", linestyle="--", linewidth=1)
        ax.set_xlabel("predicted")
        ax.set_ylabel("residual (actual - predicted)")
        ax.set_title("Residuals against prediction (holdout)")
        out["residuals.png"] = figure_png(fig)
    with new_figure(5.5, 5.5) as fig:
        ax = fig.add_subplot(1, 1, 1)
        ax.scatter(y, f, s=6, alpha=0.4, color="#1f77b4", linewidths=0)
        if len(y):
            low, high = float(min(y.min(), f.min())), float(max(y.max(), f.max()))
            ax.plot([low, high], [low, high], "k--", linewidth=1, label="predicted = actual")
            ax.legend(loc="upper left")
        ax.set_xlabel("actual")
        ax.set_ylabel("predicted")
        ax.set_title("Predicted against actual (holdout)")
        out["predicted_vs_actual.png"] = figure_png(fig)
    return out


def evaluation_plots(task: str, report: dict[str, Any], labels: Any, predictions: Any) -> dict[str, bytes]:
    """The evaluation figures of a ``task`` model as PNG bytes by file name: binary
    ``calibration.png``; multiclass ``confusion_matrix.png``; regression ``residuals.png`` and
    ``predicted_vs_actual.png``. ``report`` is the task's evaluation report (``evaluate_task``)."""
    if task == "binary":
        return {"calibration.png": calibration_plot_png(report["calibration"])}
    if task == "multiclass":
        return {"confusion_matrix.png": confusion_matrix_png(report["confusion_matrix"])}
    if task == "regression":
        return regression_plots_png(labels, predictions)
    raise ValueError(f"unknown task {task!r}")
