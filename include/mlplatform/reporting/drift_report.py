"""The drift report of one scoring batch: one self-contained HTML page with its charts inlined.

Charts: each column's test value relative to its threshold, drift and performance over time, and
the reference and current distributions of each column (drifted first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplatform.monitoring.drift.verdict import drift_ratio
from mlplatform.reporting.plots import figure_png, new_figure, png_base64
from mlplatform.reporting.render import render

if TYPE_CHECKING:
    from mlplatform.monitoring.drift.verdict import FeatureDrift

RATIO_CAP = 20.0
DRIFTED_COLOR = "#d62728"
OK_COLOR = "#1f77b4"


def _threshold_ratio_chart(drifts: list[FeatureDrift]) -> str:
    """One bar per column: its test's value over its threshold (above 1: drifted), capped at 20."""
    with new_figure(max(6.0, 0.5 * len(drifts) + 2), 3.8) as fig:
        ax = fig.add_subplot()
        xs = range(len(drifts))
        colors = [DRIFTED_COLOR if d.drifted else OK_COLOR for d in drifts]
        ratios = [min(drift_ratio(d.metric, d.value, d.threshold), RATIO_CAP) for d in drifts]
        ax.bar(xs, ratios, color=colors)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1.2, label="threshold")
        ax.set_xticks(list(xs), [f"{d.feature} ({d.metric})" for d in drifts], rotation=45, ha="right")
        ax.set_ylabel("value / threshold")
        ax.set_title("Drift test per column, relative to its threshold (red: drifted)")
        ax.legend()
        return png_base64(figure_png(fig))


def _distribution_chart(d: FeatureDrift) -> str:
    """Reference and current share of non-null rows per profile bin of one column."""
    n = len(d.bin_labels)
    with new_figure(max(6.0, 0.45 * n + 2), 3.4) as fig:
        ax = fig.add_subplot()
        xs = list(range(n))
        ax.bar([x - 0.2 for x in xs], d.reference_proportions, width=0.4, label="reference", color="#7f7f7f")
        ax.bar(
            [x + 0.2 for x in xs],
            d.current_proportions,
            width=0.4,
            label="current",
            color=DRIFTED_COLOR if d.drifted else OK_COLOR,
        )
        ax.set_xticks(xs, list(d.bin_labels), rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("share of non-null rows")
        ax.set_title(f"{d.feature} ({d.feature_kind}) {d.metric}={d.value:.3f}, PSI={d.psi:.3f}")
        ax.legend()
        return png_base64(figure_png(fig))


def _daily_axis(ax: Any) -> None:
    """One tick per scoring day, labelled by date (scoring dates have no time of day)."""
    from matplotlib.dates import AutoDateLocator, DateFormatter

    ax.xaxis.set_major_locator(AutoDateLocator(minticks=2, maxticks=12, interval_multiples=True))
    ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))


def _history_chart(history: list[dict]) -> str | None:
    """Each input feature's and the prediction's test value over time, relative to its threshold."""
    points: dict[str, list[tuple[Any, float]]] = {}
    for h in history:
        if h["scope"] == "model_input" or not h["threshold"]:
            continue
        ratio = drift_ratio(h["metric"], h["value"], h["threshold"])
        points.setdefault(h["feature"], []).append((h["score_date"], min(ratio, RATIO_CAP)))
    if not points:
        return None
    with new_figure(9.0, 4.0) as fig:
        ax = fig.add_subplot()
        for name, series in sorted(points.items()):
            series.sort()
            ax.plot([d for d, _ in series], [v for _, v in series], marker="o", label=name)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1.2)
        ax.set_ylabel("value / threshold")
        ax.set_title("Drift over time (above the dashed line: drifted)")
        ax.legend(fontsize=7, ncol=2, loc="upper left")
        _daily_axis(ax)
        fig.autofmt_xdate()
        return png_base64(figure_png(fig))


PERFORMANCE_SERIES = (
    (("auc", "precision", "recall", "accuracy", "macro_f1"), "share", (0.0, 1.0)),
    (("rmse", "mae"), "error (target units)", None),
)


def _performance_chart(performance: list[dict]) -> str | None:
    """The labelled metrics per scoring date, once labels arrived: AUC, precision and recall
    (binary), macro AUC, accuracy and macro-F1 (multiclass) or RMSE and MAE (regression)."""
    present = [
        ([k for k in keys if any(r.get(k) is not None for r in performance)], ylabel, limits)
        for keys, ylabel, limits in PERFORMANCE_SERIES
    ]
    shown, ylabel, limits = next((series for series in present if series[0]), ([], "", None))
    if not shown:
        return None
    rows = sorted((r for r in performance if r.get(shown[0]) is not None), key=lambda r: r["score_date"])
    with new_figure(9.0, 3.6) as fig:
        ax = fig.add_subplot()
        dates = [r["score_date"] for r in rows]
        for key in shown:
            ax.plot(dates, [r.get(key) for r in rows], marker="o", label=key)
        if limits:
            ax.set_ylim(*limits)
        ax.set_ylabel(ylabel)
        ax.set_title("Performance over time (late labels joined to predictions)")
        ax.legend()
        _daily_axis(ax)
        fig.autofmt_xdate()
        return png_base64(figure_png(fig))


def render_drift_report(
    drifts: list[FeatureDrift],
    *,
    model_name: str,
    model_version: int,
    ds: str,
    summary: dict,
    history: list[dict] | None = None,
    performance: list[dict] | None = None,
) -> str:
    """One self-contained HTML page: test values, drift and performance over time, distributions.

    Distribution plots are drawn for the raw inputs and the prediction, and for skewed model inputs.
    """
    ordered = sorted(drifts, key=lambda d: (not d.drifted, d.scope == "model_input", d.feature))
    plotted = [d for d in ordered if d.scope != "model_input" or d.drifted]
    return render(
        "drift_report.html.j2",
        model_name=model_name,
        model_version=model_version,
        ds=ds,
        summary=summary,
        drifts=ordered,
        threshold_ratio_png=_threshold_ratio_chart([d for d in drifts if d.scope != "model_input"]),
        history_png=_history_chart(history or []),
        performance_png=_performance_chart(performance or []),
        sections=[(d, _distribution_chart(d)) for d in plotted],
    )
