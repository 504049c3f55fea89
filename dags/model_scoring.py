"""
### Nightly batch scoring and monitoring (one DAG per model spec)

Generated from every YAML spec in `include/specs/`, on the spec's cron (catch-up and backfills
replay missed dates: every task is idempotent per logical date):

**ingest** the day's batch → **validate** it with Great Expectations → **build_features** with the
champion's fitted state → **score** with the champion resolved at that step (the predictions
partition for the date is replaced; each row carries the model version and run id) →
**check_performance**: the late labels that arrived today are joined to past predictions (AUC,
precision, recall per scoring date) → **check_drift**: per-feature drift (Wasserstein/KS numeric,
Jensen-Shannon/chi-squared categorical), prediction drift, train-serve skew, null and unseen-category
rates against the version's reference profile, with an HTML report → **decide_retraining** by the
spec's policy → **trigger_retraining** of the training DAG, with the reason in its conf.

Alerts (webhook, email) go out on drift, data-quality failures, task failures and retraining, as
the spec's `alerts` section says. A retired model's runs skip.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from airflow_glue import DAG_TAG, failure_callback, model_specs, run_lifecycle_step, run_monitoring_step

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(seconds=30)}


def scoring_dag(
    model: str, schedule: str | None, tags: list[str], owner: str, start_date: datetime, catchup: bool
) -> None:
    @dag(
        dag_id=f"{model}_scoring",
        schedule=schedule,
        start_date=start_date,
        catchup=catchup,
        max_active_runs=1,
        doc_md=__doc__,
        tags=[DAG_TAG, "scoring", model, *tags],
        default_args={**DEFAULT_ARGS, "owner": owner, "on_failure_callback": failure_callback(model)},
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
        def check_performance(scored: dict, **context) -> dict:
            return run_lifecycle_step("check_performance", model, context, scored=scored)

        @task
        def check_drift(scored: dict, **context) -> dict:
            return run_monitoring_step("check_drift", model, context, scored=scored)

        @task
        def decide_retraining(drift: dict, performance: dict, **context) -> dict:
            return run_monitoring_step(
                "decide_retraining", model, context, drift=drift, performance=performance
            )

        @task.short_circuit
        def retraining_requested(decision: dict) -> bool:
            return bool(decision["retrain"])

        trigger = TriggerDagRunOperator(
            task_id="trigger_retraining",
            trigger_dag_id=f"{model}_training",
            trigger_run_id="policy__{{ ds }}",
            conf={
                "reason": "{{ ti.xcom_pull(task_ids='decide_retraining')['reason'] }}",
                "trigger_source": "policy",
                "requested_by": "{{ dag.dag_id }}/{{ run_id }}",
            },
            skip_when_already_exists=True,
        )

        scored = score(build_features(validate(ingest())))
        performance = check_performance(scored)
        decision = decide_retraining(check_drift(performance), performance)
        retraining_requested(decision) >> trigger

    scoring()


for _spec in model_specs():
    scoring_dag(
        _spec.name,
        _spec.schedule.scoring,
        _spec.tags,
        _spec.owner,
        datetime.combine(_spec.schedule.start_date, datetime.min.time()),
        _spec.schedule.catchup,
    )
