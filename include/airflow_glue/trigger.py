"""Who started a run, as Airflow knows it, never as the run's conf claims.

A task sees its run's ``run_type`` (scheduled, backfill, asset- or operator-triggered, manual)
and the triggering user, but not Airflow's ``triggered_by`` (ui, rest_api, cli, test, ...), which
tells a UI run from a REST call. The scheduler does see it: the listener below copies it, when a
manual run of a platform DAG starts, into the Airflow Variable ``mlplatform.trigger.<dag>.<run>``
that the run's tasks read (and deletes it once the run succeeds). A user who types
``trigger_source`` into a run's conf changes nothing: the conf is not consulted.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from airflow.listeners import hookimpl

from airflow_glue import DAG_TAG

log = logging.getLogger(__name__)

VARIABLE_PREFIX = "mlplatform.trigger"
#: What ``dag.test()`` (``make demo``, ``mlplatform run``) records as the run's triggering user.
DAG_TEST_USER = "dag_test"


def variable_key(dag_id: str, run_id: str) -> str:
    return f"{VARIABLE_PREFIX}.{dag_id}.{run_id}"


def _is_platform_run(dag_run: Any) -> bool:
    tags = getattr(getattr(dag_run, "dag_model", None), "tags", None) or []
    return any(getattr(tag, "name", tag) == DAG_TAG for tag in tags)


def enum_value(field: Any) -> str | None:
    """An Airflow enum field (run type, triggered_by) as its plain string value."""
    return None if field is None else str(getattr(field, "value", field))


def _noted(dag_run: Any) -> bool:
    """Whether the listener keeps a note for this run: a manual run of a platform DAG."""
    return enum_value(dag_run.run_type) == "manual" and _is_platform_run(dag_run)


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    """Scheduler side: note how a manual platform run was triggered, for its tasks to read."""
    if not _noted(dag_run):
        return
    from airflow.models.variable import Variable

    facts = {"triggered_by": enum_value(dag_run.triggered_by), "user": dag_run.triggering_user_name}
    Variable.set(
        variable_key(dag_run.dag_id, dag_run.run_id),
        json.dumps(facts),
        description="How this run was triggered, copied by the mlplatform listener (lineage reads it).",
        session=_session_of(dag_run),
    )
    log.info("run %s of %s: triggered by %s (%s)", dag_run.run_id, dag_run.dag_id, *facts.values())


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    """The run is over: its tasks no longer need the note (a failed run keeps it for its reruns)."""
    if not _noted(dag_run):
        return
    from airflow.models.variable import Variable

    Variable.delete(variable_key(dag_run.dag_id, dag_run.run_id), session=_session_of(dag_run))


def _session_of(dag_run: Any) -> Any:
    """The scheduler's own session: the note commits with the run's state change, and a listener
    that committed on its own would break the scheduler's row locks."""
    from sqlalchemy.orm import object_session

    return object_session(dag_run)


def triggered_by(context: dict[str, Any]) -> str | None:
    """Task side: Airflow's ``triggered_by`` for this run (``ui``, ``rest_api``, ...), when known."""
    dag_run = context.get("dag_run")
    if dag_run is None:
        return None
    if getattr(dag_run, "triggering_user_name", None) == DAG_TEST_USER:
        return "test"
    if enum_value(getattr(dag_run, "run_type", None)) != "manual":
        return None
    from airflow.sdk import Variable

    try:
        note = Variable.get(variable_key(dag_run.dag_id, dag_run.run_id), default=None)
    except Exception as exc:  # no execution API (a unit test's fake context): the type stays unknown
        log.warning("cannot read how run %s was triggered: %s", dag_run.run_id, exc)
        return None
    return json.loads(note).get("triggered_by") if note else None
