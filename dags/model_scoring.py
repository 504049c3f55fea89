"""
### Nightly batch scoring and monitoring (one DAG per model spec)

Generated from every YAML spec in `include/specs/`, on the spec's cron (catch-up and backfills
replay missed dates: every task is idempotent per logical date):

**ingest** the day's batch → **validate** it with Great Expectations → **build_features** with the
champion's fitted state → **score** with the champion resolved at that step (the predictions
partition for the date is replaced; each row carries the model version and run id; updates the
`predictions` asset) → then, side by side, **check_performance** (the late labels that arrived
today are joined to past predictions: AUC, precision, recall per scoring date) and
**check_drift** (per-feature drift, Wasserstein/KS numeric and Jensen-Shannon/chi-squared
categorical, prediction drift, train-serve skew, null and unseen-category rates against the
version's reference profile, with an HTML report; updates the `drift_metrics` asset) →
**decide_retraining** by the spec's policy (with a training window, only once labels arrived
after the champion's cut-off; otherwise the decision is *held* and alerted) →
**trigger_retraining** of the training DAG for the same logical date, with the reason in its conf.

Alerts (webhook, email) go out on drift, data-quality failures, task failures and retraining, as
the spec's `alerts` section says. A retired model's runs skip.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, get_parsing_context, task

from airflow_glue import DAG_TAG
from airflow_glue.assets import model_assets
from airflow_glue.callbacks import failure_callback
from airflow_glue.context import model_specs
from airflow_glue.dag_docs import dag_description, dag_doc_md
from airflow_glue.tasks import lifecycle_task
from mlplatform.config.specs import ModelSpec

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(seconds=30)}


def scoring_dag(spec: ModelSpec) -> None:
    model = spec.name
    assets = model_assets(model)
    start = spec.schedule.start_date

    @dag(
        dag_id=f"{model}_scoring",
        description=dag_description(spec, "scoring"),
        schedule=spec.schedule.scoring,
        start_date=pendulum.datetime(start.year, start.month, start.day, tz="UTC"),
        catchup=spec.schedule.catchup,
        max_active_runs=1,
        doc_md=dag_doc_md(spec, "scoring", __doc__),
        tags=[DAG_TAG, "scoring", model, *spec.tags],
        default_args={**DEFAULT_ARGS, "owner": spec.owner, "on_failure_callback": failure_callback(model)},
    )
    def scoring():
        def step(task_id: str, **kwargs):  # type: ignore[no-untyped-def]
            return lifecycle_task(model, task_id, **kwargs)

        batch = step("ingest")(mode="scoring")
        batch = step("validate")(batch=batch)
        featured = step("build_features")(batch=batch)
        scored = step("score", outlets=[assets.predictions])(featured=featured)
        performance = step("check_performance")(scored=scored)
        drift = step("check_drift", alerts=True, outlets=[assets.drift_metrics])(scored=scored)
        decision = step("decide_retraining", alerts=True)(drift=drift, performance=performance)

        @task.short_circuit
        def retraining_requested(decision: dict) -> bool:
            return bool(decision["retrain"])

        trigger = TriggerDagRunOperator(
            task_id="trigger_retraining",
            trigger_dag_id=f"{model}_training",
            trigger_run_id="policy__{{ ds }}",
            # The training run is about the scoring date: its window's labels end there.
            logical_date="{{ ts }}",
            conf={
                "reason": "{{ ti.xcom_pull(task_ids='decide_retraining')['reason'] }}",
                "requested_by": "{{ dag.dag_id }}/{{ run_id }}",
            },
            skip_when_already_exists=True,
        )
        retraining_requested(decision) >> trigger

    scoring()


_building = get_parsing_context().dag_id
for _spec in model_specs():
    if _building in (None, f"{_spec.name}_scoring"):
        scoring_dag(_spec)
