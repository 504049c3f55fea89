"""Airflow tasks that run platform steps: one factory instead of a wrapper per task.

``lifecycle_task(model, "validate")(batch=batch)`` makes the TaskFlow task ``validate`` whose
parameters are exactly the step's inputs, whose doc is the step's docstring, and which returns
the step's result as one XCom (``multiple_outputs=False``). A retired model's task skips.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from airflow.sdk import get_current_context, task

from airflow_glue.context import run_conf, run_context
from airflow_glue.notifiers import send_alert

log = logging.getLogger(__name__)


def step_doc(task_id: str) -> str | None:
    """The docstring of the platform step a task runs (shown as the task's doc in the UI)."""
    from mlplatform.lifecycle.runner import STEPS, _load_steps

    _load_steps()
    return inspect.getdoc(STEPS[task_id].func)


def starts_the_run(context: dict[str, Any]) -> bool:
    """Whether this is the first platform step of the run's first task (it audits the trigger)."""
    task = getattr(context.get("ti"), "task", None)
    dag = getattr(task, "dag", None)
    if task is None or dag is None or context.get("mlp_trigger_audited"):
        return False
    roots = sorted(t.task_id for t in dag.roots)
    return bool(roots) and task.task_id == roots[0]


def run_lifecycle_step(
    task_id: str, model: str, context: dict[str, Any], *, audit_trigger: bool | None = None, **inputs: Any
) -> dict[str, Any]:
    """Run one platform step for ``model`` inside an Airflow task; a retired model's run skips.

    The run's first step records its trigger in the audit table (who or what started it, from where).
    A permanent error (``mlplatform.core.errors.is_permanent``) fails the task without a retry; the
    original error stays the exception's ``__cause__`` for the failure callback.
    """
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from airflow_glue.storage import use_storage_connection
    from mlplatform.core.errors import is_permanent
    from mlplatform.lifecycle.runner import run_step
    from mlplatform.registry import ModelRetiredError

    use_storage_connection()
    if audit_trigger is None:
        audit_trigger = starts_the_run(context)
    context["mlp_trigger_audited"] = True
    try:
        return run_step(task_id, model, run_context(context), audit_trigger=audit_trigger, **inputs)
    except ModelRetiredError as exc:
        raise AirflowSkipException(str(exc)) from exc
    except Exception as exc:
        if not is_permanent(exc):
            log.warning(
                "%s failed with a transient %s (Airflow retries it): %s", task_id, type(exc).__name__, exc
            )
            raise
        log.error("%s failed with a permanent %s (not retried): %s", task_id, type(exc).__name__, exc)
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def alert_on_findings(task_id: str, model: str, context: dict[str, Any], result: dict[str, Any]) -> None:
    """After a monitoring step: alert on drift, skew and quality flags, on a retraining decision, or
    on a retraining held back for want of new labels."""
    from mlplatform.alerts.messages import drift_alert_summary

    if task_id == "check_drift":
        summary = drift_alert_summary(result)
        if summary:
            details = {k: result.get(k) for k in ("features_drifted", "share_drifted", "report")}
            result["alerts"] = send_alert(model, "drift", context, summary, details)
    elif task_id == "decide_retraining" and result.get("retrain"):
        details = {"training_dag_id": result["training_dag_id"]}
        result["alerts"] = send_alert(model, "retraining", context, result["reason"], details)
    elif task_id == "decide_retraining" and result.get("held"):
        details = {"champion_version": result["model_version"]}
        result["alerts"] = send_alert(model, "retraining_held", context, result["reason"], details)


def lifecycle_task(
    model: str, task_id: str, *, alerts: bool = False, **task_kwargs: Any
) -> Callable[..., Any]:
    """A factory: call the result with the step's inputs (XComArgs or constants) to add the task."""

    def bind(**inputs: Any) -> Any:
        def run(**values: Any) -> dict[str, Any]:
            context = get_current_context()
            result = run_lifecycle_step(task_id, model, context, **values)
            if alerts:
                alert_on_findings(task_id, model, context, result)
            return result

        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in inputs]
        )
        run.__name__ = task_id
        run.__doc__ = step_doc(task_id)
        return task(run, task_id=task_id, multiple_outputs=False, **task_kwargs)(**inputs)

    return bind


def run_final_scoring(model: str, context: dict[str, Any]) -> dict[str, Any] | None:
    """Score the logical date's batch with the champion (the scoring DAG's steps), if asked."""
    if not run_conf(context).get("final_scoring"):
        return None
    batch = run_lifecycle_step("ingest", model, context, audit_trigger=False, mode="scoring")
    batch = run_lifecycle_step("validate", model, context, batch=batch)
    featured = run_lifecycle_step("build_features", model, context, batch=batch)
    scored = run_lifecycle_step("score", model, context, featured=featured)
    return {k: scored[k] for k in ("model_version", "predictions", "batch_id")}


def retire_model(model: str, context: dict[str, Any], final: dict[str, Any] | None) -> dict[str, Any]:
    """Retire the model (registry, lineage, archive manifest) and announce it."""
    reason = str(run_conf(context).get("reason") or "retired")
    result = run_lifecycle_step(
        "retire", model, context, audit_trigger=True, reason=reason, final_scoring=final
    )
    if result["newly_retired"]:
        result["alerts"] = send_alert(model, "retirement", context, f"retired: {reason}", result)
    return result
