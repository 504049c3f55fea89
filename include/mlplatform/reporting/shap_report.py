"""The SHAP report of a model version: one self-contained HTML page with shap's plots inlined.

Global importance, beeswarm, dependence plots of the top features and waterfalls of a few rows.
shap draws on pyplot's current figure (its waterfall takes no axes), so each plot runs on a fresh
pyplot figure that is converted with ``plots.figure_png`` and closed straight away.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from mlplatform.modeling.explain import ShapResult, shap_importance_rows  # noqa: E402
from mlplatform.reporting.plots import figure_png, png_base64  # noqa: E402
from mlplatform.reporting.render import render  # noqa: E402

if TYPE_CHECKING:
    import shap

MAX_PLOT_ROWS = 5000
MAX_DISPLAY = 20


def _explanation(result: ShapResult, rows: np.ndarray | None = None) -> shap.Explanation:
    import shap

    idx = np.arange(result.values.shape[0]) if rows is None else rows
    return shap.Explanation(
        values=result.values[idx],
        base_values=result.base_values[idx],
        data=result.data.to_numpy()[idx],
        feature_names=list(result.feature_names),
    )


def _shap_png(draw: Callable[[], Any]) -> str:
    """Run a shap plotting call on a fresh pyplot figure and return it as base64 PNG, leaking none."""
    import matplotlib.pyplot as plt

    plt.close("all")
    try:
        draw()
        return png_base64(figure_png(plt.gcf()))
    finally:
        plt.close("all")


def _plot_sample(n: int) -> np.ndarray:
    """At most ``MAX_PLOT_ROWS`` row indices (a fixed random subset), in order."""
    if n <= MAX_PLOT_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=MAX_PLOT_ROWS, replace=False))


def _local_rows(result: ShapResult, scores: np.ndarray | None, n_local: int) -> list[tuple[int, str]]:
    """The highest-scoring rows plus one deterministic pseudo-random row, with a label each."""
    n = result.values.shape[0]
    if n == 0 or n_local <= 0:
        return []
    ranking = np.asarray(scores, dtype=np.float64) if scores is not None else result.margins()
    if ranking.shape != (n,):
        raise ValueError(f"scores must have shape ({n},), got {ranking.shape}")
    order = np.argsort(-ranking, kind="stable")
    n_top = min(n_local - 1, n) if n_local > 1 else 1
    picked = [(int(i), f"top score #{k}") for k, i in enumerate(order[:n_top], start=1)]
    rest = order[n_top:]
    if n_local > 1 and len(rest) > 0:
        picked.append((int(rest[np.random.default_rng(42).integers(len(rest))]), "random row"))
    return picked


def render_shap_report(
    result: ShapResult,
    *,
    model_name: str,
    model_version: int,
    metrics: dict[str, float],
    scores: np.ndarray | None = None,
    top_k_dependence: int = 3,
    n_local: int = 3,
) -> str:
    """One self-contained HTML document (inline CSS, base64 PNGs) explaining the model with SHAP."""
    import shap

    n_rows = result.values.shape[0]
    if n_rows == 0:
        raise ValueError("cannot render a SHAP report for zero rows")
    max_display = min(MAX_DISPLAY, len(result.feature_names))
    sample = _explanation(result, _plot_sample(n_rows))
    importance = shap_importance_rows(result)

    bar_png = _shap_png(lambda: shap.plots.bar(sample, max_display=max_display, show=False))
    beeswarm_png = _shap_png(lambda: shap.plots.beeswarm(sample, max_display=max_display, show=False))

    dependence = []
    for row in importance[: max(top_k_dependence, 0)]:
        col = result.feature_names.index(row["feature"])
        png = _shap_png(lambda col=col: shap.plots.scatter(sample[:, col], color=sample, show=False))
        dependence.append({"feature": row["feature"], "png": png})

    local = []
    score_arr = None if scores is None else np.asarray(scores, dtype=np.float64)
    for idx, label in _local_rows(result, score_arr, n_local):
        single = _explanation(result)[idx]
        png = _shap_png(lambda single=single: shap.plots.waterfall(single, max_display=10, show=False))
        score = None if score_arr is None else f"{score_arr[idx]:.4g}"
        local.append({"row": idx, "label": label, "score": score, "png": png})

    return render(
        "shap_report.html.j2",
        model_name=model_name,
        model_version=model_version,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        n_rows=n_rows,
        n_features=len(result.feature_names),
        metrics=[(k, f"{float(v):.6g}") for k, v in metrics.items()],
        bar_png=bar_png,
        beeswarm_png=beeswarm_png,
        dependence=dependence,
        local=local,
        importance=importance,
    )
