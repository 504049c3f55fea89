"""A webhook's URL is its secret: failed (and successful) deliveries never show it.

Webhooks are Airflow connections whose URL carries a secret token path (Slack-style), plus Basic
credentials on one of them. A loopback server answers 500 (or 204 on its ``/ok/`` path), another
connection points at a closed port and one is not defined at all. The alert goes through
``airflow_glue.notifiers.send_alert`` with logging captured at DEBUG; the token and the password
appear in no log record, no captured output, no outcome and no alert body.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_glue.notifiers import send_alert  # imported first: Airflow sets up logging on import
from tests.support import spec_dir_with_alerts

TOKEN = "SECRET-TOKEN-abc123"
PASSWORD = "PASSWORD-SECRET-xyz789"
SECRETS = (TOKEN, PASSWORD, base64.b64encode(f"bot:{PASSWORD}".encode()).decode())


class _Receiver:
    """A webhook server on loopback: 204 on ``/ok/...``, 500 on every other path."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body.decode()}
                )
                self.send_response(204 if self.path.startswith("/ok/") else 500)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.port = self.server.server_address[1]


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    rec = _Receiver()
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.server.shutdown()
        rec.server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens there


def _conn(**fields: Any) -> str:
    return json.dumps({"conn_type": "http", **fields})


def _context() -> dict[str, Any]:
    return {
        "ti": SimpleNamespace(task_id="monitor"),
        "dag_run": SimpleNamespace(dag_id="churn_demo_scoring", run_id="scheduled__s", conf={}),
        "logical_date": datetime(2026, 11, 3, tzinfo=UTC),
    }


def _assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}: {text[:2000]}"


def test_failed_webhooks_name_the_channel_and_never_the_url(
    receiver: _Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from mlplatform.config.settings import get_settings

    port = receiver.port
    env = {
        # a full URL in the host, with Basic credentials: the server answers 500
        "AIRFLOW_CONN_HOOK_500": _conn(
            host=f"http://127.0.0.1:{port}/hooks/{TOKEN}", login="bot", password=PASSWORD
        ),
        # schema/host/port/endpoint parts, to a port nothing listens on
        "AIRFLOW_CONN_HOOK_CLOSED": _conn(
            schema="http", host="127.0.0.1", port=_closed_port(), extra={"endpoint": f"/hooks/{TOKEN}"}
        ),
        # the parts form that works: the URL is put together from them
        "AIRFLOW_CONN_HOOK_OK": _conn(
            schema="http", host="127.0.0.1", port=port, extra={"endpoint": f"/ok/{TOKEN}"}
        ),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AIRFLOW_CONN_HOOK_MISSING", raising=False)
    conn_ids = ["hook_ok", "hook_500", "hook_closed", "hook_missing"]
    monkeypatch.setenv("MLP_SPEC_DIR", str(spec_dir_with_alerts(tmp_path / "specs", [], conn_ids)))
    get_settings.cache_clear()
    caplog.set_level(logging.DEBUG)
    try:
        outcomes = send_alert("churn_demo", "drift", _context(), "tenure drifted", {"psi": 0.4})
    finally:
        get_settings.cache_clear()

    # the outcomes: one per channel, named by connection id, the failures say why
    assert [o["channel"] for o in outcomes] == [f"webhook:{c}" for c in conn_ids]
    assert [o["ok"] for o in outcomes] == [True, False, False, False]
    errors = {o["channel"]: o["error"] for o in outcomes if not o["ok"]}
    assert "webhook:hook_500 answered HTTP 500" in errors["webhook:hook_500"]
    assert "webhook:hook_closed unreachable" in errors["webhook:hook_closed"]
    assert "Connection refused" in errors["webhook:hook_closed"]
    missing = errors["webhook:hook_missing"]
    assert "'hook_missing' is not defined" in missing and "alerts.webhook_conn_ids" in missing
    _assert_no_secret("the outcomes", json.dumps(outcomes))
    assert str(port) not in json.dumps(outcomes)  # not even the host of the URL

    # the server saw both reachable hooks, with the URL put together and the Basic header
    by_path = {r["path"]: r for r in receiver.requests}
    assert set(by_path) == {f"/ok/{TOKEN}", f"/hooks/{TOKEN}"}
    assert by_path[f"/hooks/{TOKEN}"]["auth"] == f"Basic {SECRETS[2]}"
    assert by_path[f"/ok/{TOKEN}"]["auth"] is None
    for request in receiver.requests:
        assert json.loads(request["body"])["event"] == "drift"
        _assert_no_secret("an alert body", request["body"])

    # the logs: every record, its arguments and any traceback, and whatever reached the terminal
    warnings = [
        r for r in caplog.records if r.name == "airflow_glue.notifiers" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 3 and all("failed" in r.getMessage() for r in warnings)
    assert any("webhook:hook_500" in r.getMessage() for r in warnings)
    for record in caplog.records:
        text = " ".join(
            [record.getMessage(), repr(record.args), record.exc_text or "", record.stack_info or ""]
        )
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        _assert_no_secret(f"log record {record.name}", text)
    _assert_no_secret("the captured log text", caplog.text)
    out, err = capfd.readouterr()
    _assert_no_secret("stdout/stderr", out + err)

    # Airflow's secrets masker knows the URL and the password, so task logs mask them too
    from airflow.sdk._shared.secrets_masker import redact

    masked = redact(f"posting to http://127.0.0.1:{port}/hooks/{TOKEN} as {PASSWORD}")
    _assert_no_secret("the masker's output", str(masked))


def test_timeouts_and_refusals_name_the_channel_only() -> None:
    """``post_webhook`` names the channel and the reason, for a silent server and a closed port."""
    from mlplatform.alerts.messages import AlertDeliveryError, build_alert, post_webhook

    alert = build_alert("drift", "churn_demo", summary="x")
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hooks/{TOKEN}"
        with pytest.raises(AlertDeliveryError) as info:
            post_webhook(url, alert, channel="webhook:slow", timeout=0.5)
    assert str(info.value) == "webhook:slow unreachable for the drift alert: timed out"
    assert info.value.__cause__ is None and info.value.__suppress_context__

    url = f"http://127.0.0.1:{_closed_port()}/hooks/{TOKEN}"
    with pytest.raises(AlertDeliveryError, match=r"^webhook:gone unreachable .*Connection refused") as info:
        post_webhook(url, alert, channel="webhook:gone", timeout=2)
    _assert_no_secret("the error", str(info.value))
    with pytest.raises(AlertDeliveryError, match="not an http"):
        post_webhook(f"ftp://127.0.0.1/{TOKEN}", alert, channel="webhook:ftp")
