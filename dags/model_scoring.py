"""
### Nightly batch scoring (one DAG per model spec)

Generated from every YAML spec in `include/specs/`, on the spec's cron: **ingest** the day's batch →
**validate** it with Great Expectations → **build_features** with the champion's fitted state →
**score** with the champion (the predictions partition for the logical date is replaced, so reruns
are idempotent; each row carries the model version and run id) → **check_drift** of features and
predictions against the champion's reference profile (PSI), with an HTML report.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

_INCLUDE = str(Path(__file__).resolve().parents[1] / "include")
if _INCLUDE not in sys.path:
    sys.path.insert(0, _INCLUDE)

from airflow.sdk import dag, task  # noqa: E402

from airflow_glue import DAG_TAG, model_specs, run_lifecycle_step  # noqa: E402

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(seconds=30)}


def scoring_dag(model: str, schedule: str | None, tags: list[str], owner: str) -> None:
    @dag(
        dag_id=f"{model}_scoring",
        schedule=schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        doc_md=__doc__,
        tags=[DAG_TAG, "scoring", model, *tags],
        default_args={**DEFAULT_ARGS, "owner": owner},
    )
    def scoring():
        @task
        def ingest(**context) -> dict:
            return run_lifecycle_step("ingest", model, context, mode="scoring")

        @task
        def validate(batch: dict, **context) -> dict:
            return run_lifecycle_step("validate", model, context, batch=batch)

        @task
        def build_features(batch: dict, **context) -> dict:
            return run_lifecycle_step("build_features", model, context, batch=batch)

        @task
        def score(featured: dict, **context) -> dict:
            return run_lifecycle_step("score", model, context, featured=featured)

        @task
        def check_drift(scored: dict, **context) -> dict:
            return run_lifecycle_step("check_drift", model, context, scored=scored)

        check_drift(score(build_features(validate(ingest()))))

    scoring()


for _spec in model_specs():
    scoring_dag(_spec.name, _spec.schedule.scoring, _spec.tags, _spec.owner)
