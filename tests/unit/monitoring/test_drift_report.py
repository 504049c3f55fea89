"""The drift report renders hand-built verdicts into one escaped HTML page with its charts. No Spark."""

from __future__ import annotations

import re
from datetime import date

from mlplatform.monitoring.drift.verdict import FeatureDrift, drift_summary
from mlplatform.reporting.drift_report import render_drift_report


def _drift(
    name: str, scope: str, kind: str, metric: str, value: float, threshold: float, drifted: bool
) -> FeatureDrift:
    return FeatureDrift(
        feature=name,
        feature_kind=kind,  # type: ignore[arg-type]
        scope=scope,  # type: ignore[arg-type]
        metric=metric,
        value=value,
        threshold=threshold,
        drifted=drifted,
        reference_rows=5000,
        current_rows=4000,
        reference_proportions=(0.5, 0.3, 0.2),
        current_proportions=(0.2, 0.3, 0.5),
        bin_labels=("(-inf, 1)", "[1, 2)", "[2, +inf)"),
        null_rate_reference=0.01,
        null_rate_current=0.1,
        psi=0.3,
        quality_flags=("null_rate",) if name == "c" else (),
    )


DRIFTS = [
    _drift("x<b>", "input", "numeric", "wasserstein", 0.3, 0.1, True),
    _drift("c", "input", "categorical", "jensenshannon", 0.05, 0.1, False),
    _drift("score", "prediction", "prediction", "psi", 0.25, 0.2, True),
    _drift("x_log", "model_input", "numeric", "ks", 0.2, 0.05, False),
]


def _images(html: str) -> list[str]:
    return re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', html)


def test_report_sections_and_escaping() -> None:
    html = render_drift_report(
        DRIFTS, model_name="churn<m>", model_version=3, ds="2026-01-03", summary=drift_summary(DRIFTS)
    )
    assert "churn&lt;m&gt;" in html and "<m>" not in html
    assert "x&lt;b&gt;" in html and "<b>" not in html
    assert "Prediction psi:" in html and "DRIFTED" in html
    assert "Input quality alerts" in html and "c (null_rate)" in html
    assert "Drift over time" not in html and "Performance over time" not in html
    # the per-column chart, then distributions of drifted first; the unskewed model input is not plotted
    assert _images(html) == [
        "drift value per feature",
        "score distribution",
        "x&lt;b&gt; distribution",
        "c distribution",
    ]


def test_report_with_history_and_performance() -> None:
    history = [
        {
            "score_date": date(2026, 1, i),
            "scope": "input",
            "feature": "c",
            "metric": "jensenshannon",
            "value": 0.04 * i,
            "threshold": 0.1,
        }
        for i in range(1, 4)
    ]
    performance = [{"score_date": date(2026, 1, 1), "auc": 0.8, "precision": 0.6, "recall": 0.5}]
    html = render_drift_report(
        DRIFTS,
        model_name="m",
        model_version=1,
        ds="2026-01-03",
        summary=drift_summary(DRIFTS),
        history=history,
        performance=performance,
    )
    assert {"drift over time", "performance over time"} <= set(_images(html))


def test_unmeasured_prediction() -> None:
    inputs = DRIFTS[:2]
    html = render_drift_report(inputs, model_name="m", model_version=1, ds="d", summary=drift_summary(inputs))
    assert "Prediction drift: not measured." in " ".join(html.split())
