"""The SHAP report of a model version: one self-contained HTML page with shap's plots inlined.

Global importance, beeswarm, dependence plots of the top features and waterfalls of a few rows;
for a multiclass model the global chart stacks the classes and each class has its own section
(bar and beeswarm of its values). Feature names are shown beside their human labels (one-hot
``status__lt_0`` as ``status = <0``); the plots use the labels. shap draws on pyplot's current
figure (its waterfall takes no axes), so each plot runs on a fresh pyplot figure that is
converted with ``plots.figure_png`` and closed straight away.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from mlplatform.modeling.explain import ShapResult, shap_importance_rows  # noqa: E402
from mlplatform.reporting.plots import figure_png, new_figure, png_base64  # noqa: E402
from mlplatform.reporting.render import render  # noqa: E402

if TYPE_CHECKING:
    import shap

MAX_PLOT_ROWS = 5000
MAX_DISPLAY = 20
MAX_CLASS_SECTIONS = 10
CLASS_TABLE_ROWS = 10
SPACE_NOTES = {
    "binary": "values are in the model's margin (log-odds) space and add up to the logit of the score",
    "multiclass": "values are per class, in that class's margin (softmax logit) space",
    "regression": "values explain the predicted value itself (in the target's units), not a probability",
}


def _explanation(result: ShapResult, names: list[str], rows: np.ndarray | None = None) -> shap.Explanation:
    import shap

    idx = np.arange(result.n_rows) if rows is None else rows
    return shap.Explanation(
        values=result.values[idx],
        base_values=result.base_values[idx],
        data=result.data.to_numpy()[idx],
        feature_names=list(names),
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


def _local_rows(ranking: np.ndarray, n_local: int) -> list[tuple[int, str]]:
    """The highest-ranked rows plus one deterministic pseudo-random row, with a label each."""
    n = len(ranking)
    if n == 0 or n_local <= 0:
        return []
    order = np.argsort(-ranking, kind="stable")
    n_top = min(n_local - 1, n) if n_local > 1 else 1
    picked = [(int(i), f"top score #{k}") for k, i in enumerate(order[:n_top], start=1)]
    rest = order[n_top:]
    if n_local > 1 and len(rest) > 0:
        picked.append((int(rest[np.random.default_rng(42).integers(len(rest))]), "random row"))
    return picked


def _scores(result: ShapResult, scores: Any) -> np.ndarray | None:
    if scores is None:
        return None
    arr = np.asarray(scores, dtype=np.float64)
    expected = result.values.shape[:2] if result.multiclass else (result.n_rows,)
    if arr.shape != expected:
        raise ValueError(f"scores must have shape {expected}, got {arr.shape}")
    return arr


def _metric_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "n/a" if value is None else str(value).lower()
    if isinstance(value, int | float | np.floating | np.integer):
        return f"{float(value):.6g}" if math.isfinite(float(value)) else "n/a"
    return str(value)


def _stacked_importance_png(result: ShapResult, names: list[str], max_display: int) -> str:
    """Horizontal bars of mean |SHAP| per feature, stacked by class (the multiclass global chart)."""
    per_class = result.class_mean_abs()
    top = np.argsort(-result.mean_abs(), kind="stable")[:max_display][::-1]
    with new_figure(8.0, 1.0 + 0.35 * len(top)) as fig:
        ax = fig.add_subplot(1, 1, 1)
        left = np.zeros(len(top))
        colours = matplotlib.colormaps["tab10" if per_class.shape[0] <= 10 else "tab20"]
        for c, label in enumerate(result.class_names or []):
            widths = per_class[c, top]
            ax.barh(range(len(top)), widths, left=left, color=colours(c % colours.N), label=label)
            left += widths
        ax.set_yticks(range(len(top)), labels=[names[i] for i in top])
        ax.set_xlabel("mean |SHAP value| (summed over classes)")
        ax.legend(title="class", loc="lower right", fontsize=8)
        return png_base64(figure_png(fig))


def _dependence(
    result: ShapResult, sample_rows: np.ndarray, names: list[str], labels: dict[str, str], top_k: int
) -> list[dict[str, Any]]:
    """Dependence plots of the top features (multiclass: for the class each matters most to)."""
    import shap

    out = []
    for feature, _ in result.global_importance()[: max(top_k, 0)]:
        col = result.feature_names.index(feature)
        if result.multiclass:
            c = int(np.argmax(result.class_mean_abs()[:, col]))
            view, klass = result.for_class(c), (result.class_names or [])[c]
        else:
            view, klass = result, None
        sample = _explanation(view, names, sample_rows)
        png = _shap_png(
            lambda sample=sample, col=col: shap.plots.scatter(sample[:, col], color=sample, show=False)
        )
        out.append({"feature": feature, "label": labels.get(feature), "class_label": klass, "png": png})
    return out


def _local(
    result: ShapResult, names: list[str], scores: np.ndarray | None, n_local: int
) -> list[dict[str, Any]]:
    """Waterfalls of the highest-scored rows and a random one (multiclass: for the row's top class)."""
    import shap

    margins = result.margins()
    if result.multiclass:
        basis = scores if scores is not None else margins
        ranking, chosen = basis.max(axis=1), basis.argmax(axis=1)
    else:
        ranking, chosen = (scores if scores is not None else margins), None
    out = []
    for idx, label in _local_rows(ranking, n_local):
        klass = None
        view = result
        if chosen is not None:
            view, klass = result.for_class(int(chosen[idx])), (result.class_names or [])[int(chosen[idx])]
        single = _explanation(view, names)[idx]
        png = _shap_png(lambda single=single: shap.plots.waterfall(single, max_display=10, show=False))
        score = None
        if scores is not None:
            score = f"{(scores[idx, chosen[idx]] if chosen is not None else scores[idx]):.4g}"
        out.append({"row": idx, "label": label, "score": score, "class_label": klass, "png": png})
    return out


def _class_sections(
    result: ShapResult, sample_rows: np.ndarray, names: list[str], labels: dict[str, str], max_display: int
) -> list[dict[str, Any]]:
    """Per class: its importance table, and bar and beeswarm plots for the first classes."""
    import shap

    sections = []
    for c, (klass, ranking) in enumerate(result.class_importance().items()):
        bar = beeswarm = None
        if c < MAX_CLASS_SECTIONS:
            sample = _explanation(result.for_class(c), names, sample_rows)
            bar = _shap_png(lambda s=sample: shap.plots.bar(s, max_display=max_display, show=False))
            beeswarm = _shap_png(lambda s=sample: shap.plots.beeswarm(s, max_display=max_display, show=False))
        rows = [
            {"rank": rank, "feature": f, "label": labels.get(f), "mean_abs_shap": v}
            for rank, (f, v) in enumerate(ranking[:CLASS_TABLE_ROWS], start=1)
        ]
        sections.append({"name": klass, "bar_png": bar, "beeswarm_png": beeswarm, "importance": rows})
    return sections


def render_shap_report(
    result: ShapResult,
    *,
    model_name: str,
    model_version: int,
    metrics: dict[str, Any],
    scores: Any = None,
    top_k_dependence: int = 3,
    n_local: int = 3,
    task: str = "binary",
    feature_labels: dict[str, str] | None = None,
) -> str:
    """One self-contained HTML document (inline CSS, base64 PNGs) explaining the model with SHAP.

    ``scores``: the model's scores of the explained rows (multiclass: the (n, k) probability
    matrix), used to pick the rows explained one by one; without them the margins rank the rows.
    ``feature_labels`` maps a feature name to a human label shown beside it (and in the plots).
    """
    import shap

    if task not in SPACE_NOTES:
        raise ValueError(f"unknown task {task!r}")
    if (task == "multiclass") != result.multiclass:
        raise ValueError(
            f"a {task} report needs {'per-class' if task == 'multiclass' else 'single-output'} SHAP values"
        )
    n_rows = result.n_rows
    if n_rows == 0:
        raise ValueError("cannot render a SHAP report for zero rows")
    labels = {k: v for k, v in (feature_labels or {}).items() if v and v != k}
    names = [labels.get(f, f) for f in result.feature_names]
    max_display = min(MAX_DISPLAY, len(result.feature_names))
    rows = _plot_sample(n_rows)
    score_arr = _scores(result, scores)

    if result.multiclass:
        bar_png, beeswarm_png = _stacked_importance_png(result, names, max_display), None
        classes = _class_sections(result, rows, names, labels, max_display)
    else:
        sample = _explanation(result, names, rows)
        bar_png = _shap_png(lambda: shap.plots.bar(sample, max_display=max_display, show=False))
        beeswarm_png = _shap_png(lambda: shap.plots.beeswarm(sample, max_display=max_display, show=False))
        classes = []
    importance = [
        {**row, "label": labels.get(row["feature"])}
        for row in shap_importance_rows(result)
        if row["class_label"] is None
    ]
    return render(
        "shap_report.html.j2",
        model_name=model_name,
        model_version=model_version,
        task=task,
        space_note=SPACE_NOTES[task],
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        n_rows=n_rows,
        n_features=len(result.feature_names),
        metrics=[(k, _metric_text(v)) for k, v in metrics.items()],
        bar_png=bar_png,
        beeswarm_png=beeswarm_png,
        classes=classes,
        class_sections_plotted=MAX_CLASS_SECTIONS,
        dependence=_dependence(result, rows, names, labels, top_k_dependence),
        local=_local(result, names, score_arr, n_local),
        importance=importance,
    )
