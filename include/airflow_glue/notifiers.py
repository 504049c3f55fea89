"""Alerts through Airflow notifiers: a webhook notifier and the SMTP provider's, per model spec."""

from __future__ import annotations

import base64
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from airflow.sdk import BaseNotifier

from mlplatform.config.settings import get_settings
from mlplatform.config.specs import ModelSpec, load_spec, spec_path

log = logging.getLogger(__name__)


class PlatformWebhookNotifier(BaseNotifier):
    """POSTs the platform's alert JSON to the webhook of an Airflow connection (Slack/Teams relays).

    The connection is read when the alert goes out, so the URL (for Slack-style hooks, the secret)
    is never in the spec, the DAG or the notifier's fields. URL: the connection's ``host`` when it is
    a full http(s) URL, else ``{schema or 'https'}://{host}[:{port}]{extra.endpoint}``; ``login`` /
    ``password``, when set, go in a Basic ``Authorization`` header. The URL and the password are
    registered with Airflow's secrets masker before use, and errors name ``webhook:<conn_id>``.
    """

    template_fields = ("conn_id",)

    def __init__(self, conn_id: str, alert: dict[str, Any]) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.alert = alert
        self.secrets: list[str] = []  # what a failure's message must not show, once resolved

    @property
    def channel(self) -> str:
        return f"webhook:{self.conn_id}"

    def notify(self, context: Any) -> None:
        from mlplatform.alerts.messages import post_webhook

        url, headers = self._resolve()
        post_webhook(url, self.alert, channel=self.channel, headers=headers)

    def _resolve(self) -> tuple[str, dict[str, str]]:
        """The webhook URL and headers from the connection, registered with the secrets masker."""
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException
        from airflow.sdk.log import mask_secret

        from mlplatform.alerts.messages import AlertDeliveryError

        try:
            conn = Connection.get(self.conn_id)
        except AirflowNotFoundException:
            raise AlertDeliveryError(
                f"{self.channel}: Airflow connection '{self.conn_id}' is not defined (it is listed in "
                "the model spec's alerts.webhook_conn_ids): define it, e.g. with the environment "
                f"variable AIRFLOW_CONN_{self.conn_id.upper()} set to "
                '{"conn_type": "http", "host": "https://..."}'
            ) from None
        except Exception as exc:  # a secrets backend that fails: say which, not what it returned
            raise AlertDeliveryError(
                f"{self.channel}: Airflow connection '{self.conn_id}' could not be read "
                f"({type(exc).__name__})"
            ) from None
        host = (conn.host or "").strip()
        login, password = conn.login or "", conn.password or ""
        if re.match(r"^https?://", host, re.IGNORECASE):
            url = host
        else:
            scheme = (conn.schema or "https").lower()
            if scheme not in ("http", "https"):
                raise AlertDeliveryError(
                    f"{self.channel}: connection '{self.conn_id}' has schema '{scheme}', not http or "
                    "https (put the full URL in its host)"
                )
            if not host:
                raise AlertDeliveryError(f"{self.channel}: connection '{self.conn_id}' has no host")
            endpoint = str((conn.extra_dejson or {}).get("endpoint") or "")
            if endpoint and not endpoint.startswith("/"):
                endpoint = "/" + endpoint
            url = f"{scheme}://{host}{f':{conn.port}' if conn.port else ''}{endpoint}"
        self.secrets = _secret_parts(url, login, password)
        for secret in (url, password):
            if secret:
                mask_secret(secret)
        headers = {}
        if login or password:
            token = base64.b64encode(f"{login}:{password}".encode()).decode()
            mask_secret(token)
            self.secrets.append(token)
            headers["Authorization"] = f"Basic {token}"
        return url, headers


def _secret_parts(url: str, login: str = "", password: str = "") -> list[str]:
    """What must not show in a message about this webhook: the URL, its host and path (and its path
    alone when it is long enough to be a token), its query, and the credentials."""
    parts = urlsplit(url)
    secrets = [url, parts.netloc + parts.path, parts.path if len(parts.path) > 4 else "", password]
    secrets += [parts.query, parts.password or "", f"{login}:{password}" if password else ""]
    return [s for s in secrets if s and s != "/"]


def _redact(text: str, secrets: list[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):  # longest first: the URL, then its parts
        text = text.replace(secret, "***")
    return text


def model_notifiers(spec: ModelSpec, alert: dict[str, Any]) -> list[Any]:
    """One Airflow notifier per channel of the model's ``alerts`` section."""
    from mlplatform.alerts.messages import alert_html

    notifiers: list[Any] = [
        PlatformWebhookNotifier(conn_id, alert) for conn_id in spec.alerts.webhook_conn_ids
    ]
    if spec.alerts.emails:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifiers.append(
            SmtpNotifier(
                to=spec.alerts.emails,
                from_email=spec.alerts.from_email,
                subject=alert["title"],
                html_content=alert_html(alert),
                smtp_conn_id=spec.alerts.smtp_conn_id,
            )
        )
    return notifiers


def _smtp_secrets(conn_id: str) -> list[str]:
    """The SMTP connection's credentials, to keep them out of a failure's message (best effort)."""
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception:
        return []
    password = conn.password or ""
    return [s for s in (password, f"{conn.login}:{password}" if password else "") if s]


def send_alert(
    model: str, event: str, context: dict[str, Any], summary: str, details: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Send an alert on every channel of the model when the spec subscribes to ``event``.

    Returns one outcome per channel; a channel that fails is logged and reported, never raised,
    so a broken webhook cannot fail a scoring run (the outcome lands in the task's return value).
    Channels are named ``webhook:<conn_id>`` / ``smtp:<conn_id>``; neither the outcomes nor the log
    lines carry a webhook URL or a credential.
    """
    from mlplatform.alerts.messages import build_alert

    spec = load_spec(spec_path(get_settings().spec_dir, model))
    if event not in spec.alerts.events:
        return []
    ti, dag_run, logical = context.get("ti"), context.get("dag_run"), context.get("logical_date")
    alert = build_alert(
        event,  # type: ignore[arg-type]
        model,
        summary=summary,
        details=details,
        dag_id=getattr(dag_run, "dag_id", None),
        run_id=getattr(dag_run, "run_id", None),
        task_id=getattr(ti, "task_id", None),
        logical_date=logical.isoformat() if logical else None,
    )
    outcomes = []
    for notifier in model_notifiers(spec, alert):
        channel = getattr(notifier, "channel", None) or f"smtp:{spec.alerts.smtp_conn_id}"
        try:
            notifier.notify(context)
            outcomes.append({"channel": channel, "ok": True})
            log.info("alert %s for %s sent via %s", event, model, channel)
        except Exception as exc:  # delivery failures are reported, not raised
            secrets = getattr(notifier, "secrets", None)
            if secrets is None:
                secrets = _smtp_secrets(spec.alerts.smtp_conn_id)
            error = _redact(f"{type(exc).__name__}: {exc}", secrets)
            # no traceback: its frames and the exception's context may quote the URL
            log.warning("alert %s for %s via %s failed: %s", event, model, channel, error)
            outcomes.append({"channel": channel, "ok": False, "error": error})
    return outcomes
