"""The alerts section names Airflow connections, never webhook URLs (the URL is the secret)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform.config.specs import SpecError, load_spec

DEMO = Path(__file__).resolve().parents[3] / "include" / "specs" / "churn_demo.yaml"
SECRET_URL = "https://hooks.example.com/services/T000/B000/SECRET-TOKEN-abc123"


def _with_alerts(tmp_path: Path, alerts: dict[str, Any]) -> Path:
    raw = yaml.safe_load(DEMO.read_text())
    raw["alerts"] = alerts
    path = tmp_path / "churn_demo.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _error(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return str(info.value)


def test_webhook_conn_ids_load(tmp_path: Path) -> None:
    spec = load_spec(_with_alerts(tmp_path, {"webhook_conn_ids": ["mlp_alert_webhook", "slack.ml-oncall"]}))
    assert spec.alerts.webhook_conn_ids == ["mlp_alert_webhook", "slack.ml-oncall"]
    assert spec.alerts.smtp_conn_id == "smtp_default"


def test_a_spec_with_webhook_urls_is_refused_with_the_way_out(tmp_path: Path) -> None:
    message = _error(_with_alerts(tmp_path, {"webhooks": [SECRET_URL]}))
    assert "field 'alerts'" in message and "'alerts.webhooks' is no longer supported" in message
    assert "Airflow connection" in message and "alerts.webhook_conn_ids" in message
    assert "SECRET-TOKEN" not in message  # the refusal does not repeat the secret


def test_an_empty_webhooks_list_is_refused_too(tmp_path: Path) -> None:
    assert "alerts.webhooks" in _error(_with_alerts(tmp_path, {"webhooks": []}))


@pytest.mark.parametrize(
    ("alerts", "field", "says"),
    [
        (
            {"webhook_conn_ids": [SECRET_URL]},
            "alerts.webhook_conn_ids",
            "a URL is not an Airflow connection id",
        ),
        (
            {"webhook_conn_ids": ["my hook"]},
            "alerts.webhook_conn_ids",
            "'my hook' is not an Airflow connection id",
        ),
        ({"webhook_conn_ids": [""]}, "alerts.webhook_conn_ids", "is not an Airflow connection id"),
        (
            {"smtp_conn_id": "smtp://u:p@mail:25"},
            "alerts.smtp_conn_id",
            "a URL is not an Airflow connection id",
        ),
    ],
)
def test_connection_ids_must_look_like_connection_ids(
    tmp_path: Path, alerts: dict[str, Any], field: str, says: str
) -> None:
    message = _error(_with_alerts(tmp_path, alerts))
    assert f"field '{field}'" in message and says in message
    assert "SECRET-TOKEN" not in message and "u:p@" not in message
