"""Shared fixtures: one SparkSession per test process and an isolated storage root."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"

# Airflow reads its home and config when first imported: point it at a private, throwaway home
# (SQLite metadata) before any test module imports airflow.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="mlp-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PROJECT_ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated Airflow metadata database (SQLite) in the private Airflow home."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mlp")


@pytest.fixture(scope="session")
def spark(session_tmp: Path):  # type: ignore[no-untyped-def]
    """The process's one SparkSession (2 local cores, UI off, 2 shuffle partitions)."""
    os.environ.setdefault("MLP_SPARK_MASTER", "local[2]")
    os.environ.setdefault("MLP_SPARK_SHUFFLE_PARTITIONS", "2")
    from mlplatform.config.settings import get_settings
    from mlplatform.io.spark import get_spark

    get_settings.cache_clear()
    session = get_spark()
    yield session
    session.stop()


@pytest.fixture()
def storage_root(tmp_path: Path) -> Iterator[str]:
    """A fresh storage root for one test."""
    root = tmp_path / "lake"
    root.mkdir()
    yield str(root)


@pytest.fixture(scope="session")
def telco_csv() -> Path:
    path = SHARED_DATASETS / "telco_customer_churn.csv"
    if not path.exists():
        pytest.skip(f"shared dataset {path} is absent")
    return path


class AlertInbox:
    """What the loopback webhook and SMTP servers received."""

    def __init__(self) -> None:
        self.webhooks: list[dict] = []
        self.emails: list[dict] = []

    def clear(self) -> None:
        self.webhooks.clear()
        self.emails.clear()

    def events(self) -> list[tuple[str, str | None]]:
        return [(a["event"], a.get("logical_date")) for a in self.webhooks]


@pytest.fixture(scope="session")
def alert_servers() -> Iterator[tuple[str, int, AlertInbox]]:
    """A real HTTP webhook receiver and a real SMTP server (aiosmtpd) on 127.0.0.1.

    Yields (webhook URL, SMTP port, inbox).
    """
    import json
    import threading
    from email import message_from_bytes
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from aiosmtpd.controller import Controller

    inbox = AlertInbox()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            inbox.webhooks.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class Mailbox:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            msg = message_from_bytes(envelope.content)
            inbox.emails.append({"to": envelope.rcpt_tos, "subject": msg["Subject"], "raw": envelope.content})
            return "250 OK"

    http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}/hooks/mlplatform", port, inbox
    finally:
        smtp.stop()
        http.shutdown()


TINY_FEATURES = ["f_a", "f_b", "f_c"]


@dataclass(frozen=True)
class TinyBooster:
    raw: bytes
    feature_names: list[str]
    X: np.ndarray

    def booster(self):  # type: ignore[no-untyped-def]
        import xgboost as xgb

        b = xgb.Booster()
        b.load_model(bytearray(self.raw))
        return b


@pytest.fixture(scope="session")
def churn_spec():  # type: ignore[no-untyped-def]
    from mlplatform.config.specs import load_spec

    return load_spec(PROJECT_ROOT / "include" / "specs" / "churn_demo.yaml")


@pytest.fixture(scope="session")
def tiny_booster() -> TinyBooster:
    """A 5-round booster on 200 rows of three features (one with missing values), as UBJSON bytes."""
    import xgboost as xgb

    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 3))
    X[rng.random(200) < 0.1, 2] = np.nan
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.3, size=200) > 0).astype(np.float64)
    dtrain = xgb.DMatrix(X, label=y, feature_names=TINY_FEATURES, missing=np.nan)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0},
        dtrain,
        num_boost_round=5,
    )
    return TinyBooster(bytes(booster.save_raw("ubj")), list(TINY_FEATURES), X)
