"""Alerts: the message, its webhook delivery, and the Airflow notifiers against real loopback servers."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from mlplatform.alerts.messages import (
    AlertDeliveryError,
    alert_html,
    build_alert,
    drift_alert_summary,
    post_webhook,
)
from tests.support import spec_dir_with_alerts, webhook_connection_env


def test_build_alert_and_html_escape() -> None:
    alert = build_alert(
        "drift", "churn", summary="2 of 9 <features>", details={"features": ["a", "b"]}, run_id="r1"
    )
    assert alert["title"] == "[churn] drift detected" and alert["run_id"] == "r1"
    html = alert_html(alert)
    assert "&lt;features&gt;" in html and "<features>" not in html


def test_drift_alert_summary_only_when_something_happened() -> None:
    quiet = {"features_drifted": [], "features_checked": 9, "prediction_drifted": False}
    assert drift_alert_summary(quiet) is None
    loud = {
        "features_drifted": ["a"],
        "features_checked": 9,
        "prediction_drifted": True,
        "prediction_metric": "psi",
        "prediction_value": 0.4,
        "skewed_features": ["a_log"],
        "quality_alerts": {"b": ["null_rate"]},
    }
    text = drift_alert_summary(loud)
    assert text is not None
    assert "1 of 9 input features drifted (a)" in text and "psi 0.400" in text
    assert "skew in a_log" in text and "b (null_rate)" in text


def test_webhook_delivery_and_unreachable_url(alert_servers) -> None:  # type: ignore[no-untyped-def]
    url, _, inbox = alert_servers
    before = len(inbox.webhooks)
    assert post_webhook(url, build_alert("retraining", "churn", summary="policy met")) == 204
    assert inbox.webhooks[before]["event"] == "retraining"
    with pytest.raises(AlertDeliveryError, match="webhook:down unreachable.*Connection refused") as info:
        post_webhook(
            "http://127.0.0.1:9/none",
            build_alert("drift", "churn", summary="x"),
            channel="webhook:down",
            timeout=2,
        )
    assert "127.0.0.1" not in str(info.value)  # the channel is named, never the URL


def test_notifiers_and_failure_callback_reach_both_channels(alert_servers, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.config.settings import get_settings
    from mlplatform.data.validation import DataQualityError

    url, port, inbox = alert_servers
    spec_dir = spec_dir_with_alerts(tmp_path / "specs", ["oncall@example.com"])
    monkeypatch.setenv("MLP_SPEC_DIR", str(spec_dir))
    for name, value in webhook_connection_env(url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true"
    )
    get_settings.cache_clear()
    try:
        from airflow_glue.callbacks import failure_callback
        from airflow_glue.notifiers import send_alert

        context = {
            "ti": SimpleNamespace(task_id="validate"),
            "dag_run": SimpleNamespace(dag_id="churn_demo_scoring", run_id="scheduled__x", conf={}),
            "logical_date": datetime(2026, 11, 3, tzinfo=UTC),
            "exception": DataQualityError("table churn_demo/validated: 40% bad rows"),
        }
        hooks, mails = len(inbox.webhooks), len(inbox.emails)
        failure_callback("churn_demo")(context)
        assert inbox.webhooks[hooks]["event"] == "data_quality"
        assert "40% bad rows" in inbox.webhooks[hooks]["summary"]
        assert inbox.emails[mails]["to"] == ["oncall@example.com"]
        assert "data-quality failure" in inbox.emails[mails]["subject"]

        context["exception"] = RuntimeError("executor lost")
        context["ti"] = SimpleNamespace(task_id="score")
        failure_callback("churn_demo")(context)
        assert inbox.webhooks[-1]["event"] == "task_failure" and inbox.webhooks[-1]["task_id"] == "score"

        # a permanent error reaches Airflow wrapped (no retry): the callback judges its cause
        from airflow.sdk.exceptions import AirflowFailException

        from mlplatform.data.ingest import SourceError

        wrapped = AirflowFailException("SourceError: cannot read source file /lake/m/2026-11-03.csv")
        wrapped.__cause__ = SourceError("cannot read source file /lake/m/2026-11-03.csv")
        context["exception"] = wrapped
        failure_callback("churn_demo")(context)
        assert inbox.webhooks[-1]["event"] == "data_quality"

        # a broken channel is reported, not raised: the other channel still delivers
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_DEFAULT",
            "smtp://127.0.0.1:9?disable_ssl=true&disable_tls=true&retry_limit=0&timeout=2",
        )
        outcomes = send_alert("churn_demo", "drift", context, "x drifted")
        assert [o["ok"] for o in outcomes] == [True, False]
        assert [o["channel"] for o in outcomes] == ["webhook:mlp_alert_webhook", "smtp:smtp_default"]
        # a model that does not subscribe to an event sends nothing
        assert send_alert("telco_churn", "drift", context, "x") == []
    finally:
        get_settings.cache_clear()
