"""The one place that knows both Airflow and the platform.

It turns Airflow's task context into a ``RunContext`` and runs a lifecycle step with it; DAG
files call only this module and ``mlplatform.specs``, so parsing a DAG file stays cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlplatform.lineage import RunContext, classify_trigger
from mlplatform.settings import get_settings
from mlplatform.specs import ModelSpec, load_specs

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
    """Run one platform step for ``model`` inside an Airflow task."""
    from mlplatform.pipeline import run_step

    return run_step(step, model, run_context(context), **inputs)
