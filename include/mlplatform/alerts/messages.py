"""Alert messages for a model's events, and their delivery to a webhook.

The message is built here, without Airflow, so that every channel says the same thing; the
Airflow notifiers in ``airflow_glue`` call these functions (webhook) or hand the same subject and
HTML to Airflow's SMTP notifier.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any, Literal

from mlplatform.core.errors import TransientError
from mlplatform.reporting.render import render

AlertEvent = Literal["drift", "data_quality", "task_failure", "retraining", "retraining_held", "retirement"]

_TITLES = {
    "drift": "drift detected",
    "data_quality": "data-quality failure",
    "task_failure": "task failed",
    "retraining": "retraining triggered",
    "retraining_held": "degraded, retraining held: no new labelled data",
    "retirement": "model retired",
}


class AlertDeliveryError(TransientError, RuntimeError):
    """A webhook refused or did not answer; the message names the channel (never the URL, which is
    often a secret) and the HTTP status or the network reason. A later try may reach it."""


def build_alert(
    event: AlertEvent,
    model: str,
    *,
    summary: str,
    details: dict[str, Any] | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    logical_date: str | None = None,
) -> dict[str, Any]:
    """The JSON body every channel sends: what happened, to which model, where, and the facts."""
    return {
        "source": "mlplatform",
        "event": event,
        "title": f"[{model}] {_TITLES[event]}",
        "model": model,
        "summary": summary,
        "details": details or {},
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "logical_date": logical_date,
        "sent_at": datetime.now(UTC).isoformat(),
    }


def alert_html(alert: dict[str, Any]) -> str:
    """The alert as a short HTML email body; every value is escaped by the template."""
    where = [str(alert[k]) for k in ("dag_id", "run_id", "task_id", "logical_date") if alert.get(k)]
    details = [(str(k), json.dumps(v, default=str)) for k, v in alert["details"].items()]
    return render("alert.html.j2", alert=alert, where=where, details=details)


def post_webhook(
    url: str,
    alert: dict[str, Any],
    *,
    channel: str = "webhook",
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> int:
    """POST the alert as JSON; returns the HTTP status, raises ``AlertDeliveryError`` otherwise.

    ``channel`` names the webhook in errors (e.g. ``webhook:<conn_id>``): the URL never appears in
    them, since the URL of a Slack-style hook is its secret. ``headers`` are added to the request
    (e.g. ``Authorization``).
    """
    if not re.match(r"^https?://", url, re.IGNORECASE):
        raise AlertDeliveryError(f"{channel}: the webhook URL is not an http(s) URL")
    body = json.dumps(alert, default=str).encode()
    event = alert.get("event")
    try:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only, checked above)
            return int(response.status)
    except ValueError:  # a malformed URL: its messages quote the URL
        raise AlertDeliveryError(f"{channel}: the webhook URL is malformed") from None
    except urllib.error.HTTPError as exc:
        exc.close()
        raise AlertDeliveryError(
            f"{channel} answered HTTP {exc.code} ({exc.reason}) to the {event} alert"
        ) from None
    except urllib.error.URLError as exc:
        raise AlertDeliveryError(
            f"{channel} unreachable for the {event} alert: {_reason(exc.reason)}"
        ) from None
    except (TimeoutError, OSError) as exc:
        raise AlertDeliveryError(f"{channel} unreachable for the {event} alert: {_reason(exc)}") from None


def _reason(reason: object) -> str:
    """The network reason without the URL: ``timed out``, or the error's class and its OS message
    (``ConnectionRefusedError: Connection refused``)."""
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{type(reason).__name__}: {reason.strerror}"
    return f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)


def drift_alert_summary(drift: dict[str, Any]) -> str | None:
    """A one-line drift alert from ``drift_summary``'s dict, or None when nothing needs saying."""
    parts = []
    if drift.get("features_drifted"):
        parts.append(
            f"{len(drift['features_drifted'])} of {drift['features_checked']} input features drifted "
            f"({', '.join(drift['features_drifted'])})"
        )
    if drift.get("prediction_drifted"):
        parts.append(
            f"prediction drift ({drift.get('prediction_metric')} {drift.get('prediction_value'):.3f})"
        )
    if drift.get("skewed_features"):
        parts.append(f"train-serve skew in {', '.join(drift['skewed_features'])}")
    if drift.get("quality_alerts"):
        flagged = ", ".join(f"{k} ({'/'.join(v)})" for k, v in drift["quality_alerts"].items())
        parts.append(f"input quality flags: {flagged}")
    return "; ".join(parts) or None
