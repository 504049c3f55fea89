"""
### Model retirement (one DAG per model spec, manual only)

Trigger it from the UI form or the REST API with a reason. **final_scoring** (optional, param
`final_scoring`) scores the logical date's batch one last time with the champion →
**retire** archives every version, removes the champion alias, writes the retirement event to the
registry and lineage and an archive manifest (artifacts and their checksums). From then on the
model's scoring and training runs skip at their first task, and promotion is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

from airflow_glue import DAG_TAG, failure_callback, model_specs, retire_model, run_final_scoring

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(seconds=30)}


def retirement_dag(model: str, tags: list[str], owner: str) -> None:
    @dag(
        dag_id=f"{model}_retirement",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        doc_md=__doc__,
        tags=[DAG_TAG, "retirement", model, *tags],
        default_args={**DEFAULT_ARGS, "owner": owner, "on_failure_callback": failure_callback(model)},
        params={
            "reason": Param(type="string", minLength=3, description="Why the model is retired."),
            "final_scoring": Param(
                False, type="boolean", description="Score the logical date's batch first."
            ),
            "trigger_source": Param("manual", type="string", enum=["manual", "api"]),
        },
    )
    def retirement():
        @task
        def final_scoring(**context) -> dict | None:
            return run_final_scoring(model, context)

        @task
        def retire(final: dict | None, **context) -> dict:
            return retire_model(model, context, final)

        retire(final_scoring())

    retirement()


for _spec in model_specs():
    retirement_dag(_spec.name, _spec.tags, _spec.owner)
