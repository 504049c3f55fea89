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
