"""Alerts through Airflow notifiers: a webhook notifier and the SMTP provider's, per model spec."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from mlplatform.config.settings import get_settings
from mlplatform.config.specs import ModelSpec, load_spec, spec_path

log = logging.getLogger(__name__)


class PlatformWebhookNotifier(BaseNotifier):
    """POSTs the platform's alert JSON to a webhook (Slack/Teams relays etc.)."""

    template_fields = ("url",)

    def __init__(self, url: str, alert: dict[str, Any]) -> None:
        super().__init__()
        self.url = url
        self.alert = alert

    def notify(self, context: Any) -> None:
        from mlplatform.alerts.messages import post_webhook

        post_webhook(self.url, self.alert)


def model_notifiers(spec: ModelSpec, alert: dict[str, Any]) -> list[Any]:
    """One Airflow notifier per channel of the model's ``alerts`` section."""
    from mlplatform.alerts.messages import alert_html

    notifiers: list[Any] = [PlatformWebhookNotifier(url, alert) for url in spec.alerts.webhooks]
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


def send_alert(
    model: str, event: str, context: dict[str, Any], summary: str, details: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Send an alert on every channel of the model when the spec subscribes to ``event``.

    Returns one outcome per channel; a channel that fails is logged and reported, never raised,
    so a broken webhook cannot fail a scoring run (the outcome lands in the task's return value).
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
        channel = getattr(notifier, "url", None) or f"smtp:{spec.alerts.smtp_conn_id}"
        try:
            notifier.notify(context)
            outcomes.append({"channel": channel, "ok": True})
            log.info("alert %s for %s sent via %s", event, model, channel)
        except Exception as exc:  # delivery failures are reported, not raised
            log.warning("alert %s for %s via %s failed: %s", event, model, channel, exc)
            outcomes.append({"channel": channel, "ok": False, "error": str(exc)})
    return outcomes
