"""Test helpers without side effects (``conftest`` sets Airflow's home on import: never import it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


ALERT_WEBHOOK_CONN_ID = "mlp_alert_webhook"


def webhook_connection_env(url: str, conn_id: str = ALERT_WEBHOOK_CONN_ID) -> dict[str, str]:
    """The environment that defines Airflow connection ``conn_id`` as a webhook to ``url``."""
    import json

    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps({"conn_type": "http", "host": url})}


def spec_dir_with_alerts(target: Path, emails: list[str], webhook_conn_ids: list[str] | None = None) -> Path:
    """A copy of the project's specs whose ``churn_demo`` alerts go to the loopback servers.

    The webhook is named by Airflow connection id (``ALERT_WEBHOOK_CONN_ID`` unless told): define
    the connection with ``webhook_connection_env(url)`` (e.g. through ``platform_env``).
    """
    import yaml

    conn_ids = [ALERT_WEBHOOK_CONN_ID] if webhook_conn_ids is None else webhook_conn_ids
    target.mkdir(parents=True, exist_ok=True)
    for path in (PROJECT_ROOT / "include" / "specs").glob("*.yaml"):
        raw = yaml.safe_load(path.read_text())
        if raw["name"] == "churn_demo":
            alerts = {**raw.get("alerts", {}), "webhook_conn_ids": conn_ids, "emails": emails}
            raw["alerts"] = alerts
        (target / path.name).write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


@contextmanager
def platform_env(**variables: str) -> Iterator[None]:
    """Point the platform's settings (and any other variable) at a test's values, then restore them.

    One place for every fixture that runs whole DAGs in-process (``dag.test()`` reads settings from
    the environment); code under direct test takes ``settings=`` instead.
    """
    from mlplatform.config.settings import get_settings

    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()
    get_settings.cache_clear()
