"""The one place that knows both Airflow and the platform.

It turns Airflow's task context into a ``RunContext`` and runs a lifecycle step with it; DAG
files call only this module and ``mlplatform.config.specs``, so parsing a DAG file stays cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseNotifier

from mlplatform.config.settings import get_settings
from mlplatform.config.specs import ModelSpec, load_specs
from mlplatform.core.context import RunContext, classify_trigger

DAG_TAG = "mlplatform"


def model_specs() -> list[ModelSpec]:
    """The specs the DAG files generate DAGs for (parse-time: YAML and pydantic only)."""
    return list(load_specs(get_settings().spec_dir).values())


def run_context(context: dict[str, Any]) -> RunContext:
    """Lineage facts from an Airflow task context (``run_type``, user, conf and params)."""
    dag_run = context["dag_run"]
    ti = context["ti"]
    conf = {**(context.get("params") or {}), **(dag_run.conf or {})}
    logical = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    logical = logical or getattr(dag_run, "run_after", None) or datetime.now(UTC)
    run_type = getattr(dag_run, "run_type", None)
    run_type = getattr(run_type, "value", run_type)
    return RunContext(
        run_id=dag_run.run_id,
        dag_id=dag_run.dag_id,
        task_id=ti.task_id,
        logical_date=datetime.fromtimestamp(logical.timestamp(), UTC),
        trigger_type=classify_trigger(str(run_type) if run_type else None, conf),
        triggered_by=getattr(dag_run, "triggering_user_name", None),
        try_number=int(getattr(ti, "try_number", 1) or 1),
        conf={k: v for k, v in conf.items() if isinstance(v, str | int | float | bool) or v is None},
    )


def run_lifecycle_step(step: str, model: str, context: dict[str, Any], **inputs: Any) -> dict[str, Any]:
    """Run one platform step for ``model`` inside an Airflow task; a retired model's run skips."""
    from airflow.sdk.exceptions import AirflowSkipException

    from mlplatform.lifecycle.pipeline import run_step
    from mlplatform.registry.store import ModelRetiredError

    try:
        return run_step(step, model, run_context(context), **inputs)
    except ModelRetiredError as exc:
        raise AirflowSkipException(str(exc)) from exc


def run_monitoring_step(step: str, model: str, context: dict[str, Any], **inputs: Any) -> dict[str, Any]:
    """Run a monitoring step and alert on what it found: drift, skew, quality flags, retraining."""
    from mlplatform.alerts.messages import drift_alert_summary

    result = run_lifecycle_step(step, model, context, **inputs)
    if step == "check_drift":
        summary = drift_alert_summary(result)
        if summary:
            details = {k: result.get(k) for k in ("features_drifted", "share_drifted", "report")}
            result["alerts"] = send_alert(model, "drift", context, summary, details)
    elif step == "decide_retraining" and result.get("retrain"):
        result["alerts"] = send_alert(
            model, "retraining", context, result["reason"], {"training_dag_id": result["training_dag_id"]}
        )
    return result


# --- alerts: Airflow notifiers per model ------------------------------------------------------------


class PlatformWebhookNotifier(BaseNotifier):
    """An Airflow notifier that POSTs the platform's alert JSON to a webhook (Slack/Teams relays etc.)."""

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
    import logging

    from mlplatform.alerts.messages import build_alert
    from mlplatform.config.specs import load_spec, spec_path

    spec = load_spec(spec_path(get_settings().spec_dir, model))
    if event not in spec.alerts.events:
        return []
    ti = context.get("ti")
    dag_run = context.get("dag_run")
    logical = context.get("logical_date")
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
        except Exception as exc:  # delivery failures are reported, not raised
            logging.getLogger(__name__).warning(
                "alert %s for %s via %s failed: %s", event, model, channel, exc
            )
            outcomes.append({"channel": channel, "ok": False, "error": str(exc)})
    return outcomes


def failure_callback(model: str) -> Any:
    """``on_failure_callback`` for a model's tasks: a data-quality alert when validation rejected the
    batch, a task-failure alert otherwise."""

    def on_failure(context: dict[str, Any]) -> None:
        exc = context.get("exception")
        ti = context.get("ti")
        data_quality = type(exc).__name__ in (
            "DataQualityError",
            "SchemaDriftError",
            "SourceError",
            "LabelsError",
        )
        event = "data_quality" if data_quality else "task_failure"
        task = getattr(ti, "task_id", "?")
        send_alert(model, event, context, f"task {task} failed: {exc}", {"error_type": type(exc).__name__})

    return on_failure


# --- retirement -------------------------------------------------------------------------------------


def run_final_scoring(model: str, context: dict[str, Any]) -> dict[str, Any] | None:
    """Score the logical date's batch with the champion (the scoring DAG's steps), if asked."""
    params = context.get("params") or {}
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    if not {**params, **conf}.get("final_scoring"):
        return None
    batch = run_lifecycle_step("ingest", model, context, mode="scoring")
    batch = run_lifecycle_step("validate", model, context, batch=batch)
    featured = run_lifecycle_step("build_features", model, context, batch=batch)
    scored = run_lifecycle_step("score", model, context, featured=featured)
    return {k: scored[k] for k in ("model_version", "predictions", "batch_id")}


def retire_model(model: str, context: dict[str, Any], final: dict[str, Any] | None) -> dict[str, Any]:
    """Retire the model (registry, lineage, archive manifest) and announce it."""
    params = context.get("params") or {}
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    reason = str({**params, **conf}.get("reason") or "retired")
    result = run_lifecycle_step("retire", model, context, reason=reason, final_scoring=final)
    if result["newly_retired"]:
        result["alerts"] = send_alert(model, "retirement", context, f"retired: {reason}", result)
    return result
