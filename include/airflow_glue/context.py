"""Airflow's task context → the platform's ``RunContext``; the specs DAG files are built from."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_glue.trigger import enum_value, triggered_by
from mlplatform.config.settings import get_settings
from mlplatform.config.specs import ModelSpec, SpecError, scan_specs
from mlplatform.core.context import RunContext, classify_trigger

log = logging.getLogger(__name__)


def model_specs() -> list[ModelSpec]:
    """The valid specs the DAG files generate DAGs for (parse-time: YAML and pydantic only).

    A broken spec is skipped with a warning, so it never costs another model its DAGs; its error
    is an import error of ``dags/model_spec_errors.py`` in the UI.
    """
    specs, errors = scan_specs(get_settings().spec_dir)
    for path in errors:
        log.warning("model spec %s is invalid: no DAGs for it (see model_spec_errors import error)", path)
    return list(specs.values())


def broken_specs() -> dict[Path, SpecError]:
    """The spec files that fail to load, with their errors (file and field named)."""
    return scan_specs(get_settings().spec_dir)[1]


def run_conf(context: dict[str, Any]) -> dict[str, Any]:
    """The run's params with its conf on top (what a trigger asked for)."""
    dag_run = context.get("dag_run")
    return {**(context.get("params") or {}), **(getattr(dag_run, "conf", None) or {})}


def run_context(context: dict[str, Any]) -> RunContext:
    """Lineage facts from an Airflow task context (run type and trigger, user, conf and params)."""
    dag_run = context["dag_run"]
    ti = context["ti"]
    conf = run_conf(context)
    logical = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    logical = logical or getattr(dag_run, "run_after", None) or datetime.now(UTC)
    run_type = enum_value(getattr(dag_run, "run_type", None))
    return RunContext(
        run_id=dag_run.run_id,
        dag_id=dag_run.dag_id,
        task_id=ti.task_id,
        logical_date=datetime.fromtimestamp(logical.timestamp(), UTC),
        trigger_type=classify_trigger(run_type, triggered_by(context), conf),
        triggered_by=getattr(dag_run, "triggering_user_name", None),
        try_number=int(getattr(ti, "try_number", 1) or 1),
        conf={k: v for k, v in conf.items() if isinstance(v, str | int | float | bool) or v is None},
    )
