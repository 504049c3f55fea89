"""Airflow's task context → the platform's ``RunContext``; the specs DAG files are built from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlplatform.config.settings import get_settings
from mlplatform.config.specs import ModelSpec, load_specs
from mlplatform.core.context import RunContext, classify_trigger


def model_specs() -> list[ModelSpec]:
    """The specs the DAG files generate DAGs for (parse-time: YAML and pydantic only)."""
    return list(load_specs(get_settings().spec_dir).values())


def run_conf(context: dict[str, Any]) -> dict[str, Any]:
    """The run's params with its conf on top (what a trigger asked for)."""
    dag_run = context.get("dag_run")
    return {**(context.get("params") or {}), **(getattr(dag_run, "conf", None) or {})}


def run_context(context: dict[str, Any]) -> RunContext:
    """Lineage facts from an Airflow task context (``run_type``, user, conf and params)."""
    dag_run = context["dag_run"]
    ti = context["ti"]
    conf = run_conf(context)
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
