"""
### Model retirement (one DAG per model spec, manual only)

Trigger it from the UI form or the REST API with a reason. **final_scoring** (optional, param
`final_scoring`) scores the logical date's batch one last time with the champion →
**retire** archives every version, removes the champion alias, writes the retirement event to the
registry and lineage and an archive manifest (artifacts and their checksums). From then on the
model's scoring and training runs skip at their first task, and promotion is refused.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_parsing_context, task

from airflow_glue import DAG_TAG
from airflow_glue.callbacks import failure_callback
from airflow_glue.context import model_specs
from airflow_glue.dag_docs import dag_description, dag_doc_md
from airflow_glue.tasks import retire_model, run_final_scoring
from mlplatform.config.specs import ModelSpec

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(seconds=30)}


def retirement_dag(spec: ModelSpec) -> None:
    model, owner = spec.name, spec.owner

    @dag(
        dag_id=f"{model}_retirement",
        description=dag_description(spec, "retirement"),
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        doc_md=dag_doc_md(spec, "retirement", __doc__),
        tags=[DAG_TAG, "retirement", model, *spec.tags],
        default_args={**DEFAULT_ARGS, "owner": owner, "on_failure_callback": failure_callback(model)},
        params={
            "reason": Param(type="string", minLength=3, description="Why the model is retired."),
            "final_scoring": Param(
                False, type="boolean", description="Score the logical date's batch first."
            ),
        },
    )
    def retirement():
        @task(multiple_outputs=False)
        def final_scoring(**context) -> dict | None:
            """Score the logical date's batch one last time with the champion (param final_scoring)."""
            return run_final_scoring(model, context)

        @task(multiple_outputs=False)
        def retire(final: dict | None, **context) -> dict:
            """Archive every version, clear the champion alias, write the archive manifest."""
            return retire_model(model, context, final)

        retire(final_scoring())

    retirement()


_building = get_parsing_context().dag_id
for _spec in model_specs():
    if _building in (None, f"{_spec.name}_retirement"):
        retirement_dag(_spec)
