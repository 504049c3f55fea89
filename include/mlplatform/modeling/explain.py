"""Model explanation with SHAP: XGBoost's TreeSHAP values and a self-contained HTML report.

SHAP values come from XGBoost itself (``pred_contribs=True``), which is exact for tree models and
needs no extra explainer; the ``shap`` package is used only for its plots. The report embeds every
image as base64 PNG so it can be stored as a single artifact and opened anywhere.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

if TYPE_CHECKING:
    import shap
    import xgboost

_DPI = 90
_MAX_PLOT_ROWS = 5000
_MAX_DISPLAY = 20


@dataclass(frozen=True)
class ShapResult:
    """Per-row SHAP values (margin space), the base value of each row and the explained features."""

    values: np.ndarray
    base_values: np.ndarray
    data: pd.DataFrame
    feature_names: list[str]

    def mean_abs(self) -> np.ndarray:
        """Mean |SHAP| per feature, in column order."""
        if self.values.shape[0] == 0:
            return np.zeros(len(self.feature_names))
        return np.abs(self.values).mean(axis=0)

    def global_importance(self) -> list[tuple[str, float]]:
        """Features with their mean |SHAP|, most important first (ties keep column order)."""
        means = self.mean_abs()
        order = np.argsort(-means, kind="stable")
        return [(self.feature_names[i], float(means[i])) for i in order]

    def margins(self) -> np.ndarray:
        """The model's raw margin per row: the sum of SHAP values plus the base value."""
        return self.values.sum(axis=1) + self.base_values


def compute_shap_values(booster: xgboost.Booster, features: pd.DataFrame) -> ShapResult:
    """Exact TreeSHAP values from XGBoost for every row of ``features`` (numeric, NaN = missing)."""
    import xgboost

    data = features.astype("float64")
    contribs = booster.predict(xgboost.DMatrix(data, missing=float("nan")), pred_contribs=True)
    if contribs.ndim != 2:
        raise ValueError(f"expected a single-output model, got contributions of shape {contribs.shape}")
    return ShapResult(
        values=np.ascontiguousarray(contribs[:, :-1], dtype=np.float64),
        base_values=np.ascontiguousarray(contribs[:, -1], dtype=np.float64),
        data=data,
        feature_names=[str(c) for c in data.columns],
    )


def shap_importance_rows(result: ShapResult) -> list[dict]:
    """Global importance as table rows: ``{"feature", "mean_abs_shap", "rank"}``, rank 1 first."""
    return [
        {"feature": name, "mean_abs_shap": value, "rank": rank}
        for rank, (name, value) in enumerate(result.global_importance(), start=1)
    ]


def _explanation(result: ShapResult, rows: np.ndarray | None = None) -> shap.Explanation:
    import shap

    idx = np.arange(result.values.shape[0]) if rows is None else rows
    return shap.Explanation(
        values=result.values[idx],
        base_values=result.base_values[idx],
        data=result.data.to_numpy()[idx],
        feature_names=list(result.feature_names),
    )


def _plot_png(draw: Callable[[], Any]) -> str:
    """Run a shap plotting call on a fresh figure and return it as base64 PNG, leaking no figures."""
    plt.close("all")
    try:
        draw()
        fig = plt.gcf()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
        return base64.b64encode(buf.getvalue()).decode("ascii")
    finally:
        plt.close("all")


def _plot_sample(n: int) -> np.ndarray:
    if n <= _MAX_PLOT_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=_MAX_PLOT_ROWS, replace=False))


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


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SHAP report: {{ model_name }} v{{ model_version }}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; padding: 0 1em; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: .3em .8em; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
figcaption { color: #555; font-size: .9em; }
img { max-width: 100%; }
.muted { color: #777; font-size: .9em; }
</style>
</head>
<body>
<h1>SHAP report: {{ model_name }} v{{ model_version }}</h1>
<p class="muted">Generated {{ generated_at }} &middot; {{ n_rows }} rows explained &middot;
{{ n_features }} features &middot; values are in the model's margin (log-odds / raw) space.</p>

<h2>Metrics</h2>
{% if metrics %}
<table>
<tr><th>Metric</th><th>Value</th></tr>
{% for name, value in metrics %}<tr><td>{{ name }}</td><td class="num">{{ value }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="muted">No metrics recorded.</p>{% endif %}

<h2>Global importance</h2>
<figure><img alt="SHAP global importance" src="data:image/png;base64,{{ bar_png }}">
<figcaption>Mean |SHAP value| per feature.</figcaption></figure>

<h2>Beeswarm</h2>
<figure><img alt="SHAP beeswarm" src="data:image/png;base64,{{ beeswarm_png }}">
<figcaption>Each dot is one row; colour is the feature value.</figcaption></figure>

<h2>Dependence</h2>
{% for plot in dependence %}
<figure><img alt="SHAP dependence for {{ plot.feature }}" src="data:image/png;base64,{{ plot.png }}">
<figcaption>SHAP value of <b>{{ plot.feature }}</b> against its value.</figcaption></figure>
{% else %}<p class="muted">No dependence plots.</p>{% endfor %}

<h2>Local explanations</h2>
{% for plot in local %}
<figure><img alt="SHAP waterfall for row {{ plot.row }}" src="data:image/png;base64,{{ plot.png }}">
<figcaption>Row {{ plot.row }} ({{ plot.label }}){% if plot.score is not none %}, score {{ plot.score }}{% endif %}.</figcaption></figure>
{% else %}<p class="muted">No local explanations.</p>{% endfor %}

<h2>Importance table</h2>
<table>
<tr><th>Rank</th><th>Feature</th><th>Mean |SHAP|</th></tr>
{% for row in importance %}<tr><td class="num">{{ row.rank }}</td><td>{{ row.feature }}</td><td class="num">{{ "%.6g"|format(row.mean_abs_shap) }}</td></tr>
{% endfor %}
</table>
</body>
</html>
"""


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
    import jinja2
    import shap

    n_rows = result.values.shape[0]
    if n_rows == 0:
        raise ValueError("cannot render a SHAP report for zero rows")
    max_display = min(_MAX_DISPLAY, len(result.feature_names))
    sample = _explanation(result, _plot_sample(n_rows))
    importance = shap_importance_rows(result)

    bar_png = _plot_png(lambda: shap.plots.bar(sample, max_display=max_display, show=False))
    beeswarm_png = _plot_png(lambda: shap.plots.beeswarm(sample, max_display=max_display, show=False))

    dependence = []
    for row in importance[: max(top_k_dependence, 0)]:
        col = result.feature_names.index(row["feature"])
        png = _plot_png(lambda col=col: shap.plots.scatter(sample[:, col], color=sample, show=False))
        dependence.append({"feature": row["feature"], "png": png})

    local = []
    score_arr = None if scores is None else np.asarray(scores, dtype=np.float64)
    for idx, label in _local_rows(result, score_arr, n_local):
        single = _explanation(result)[idx]
        png = _plot_png(lambda single=single: shap.plots.waterfall(single, max_display=10, show=False))
        score = None if score_arr is None else f"{score_arr[idx]:.4g}"
        local.append({"row": idx, "label": label, "score": score, "png": png})

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
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
