"""
### Model training (one DAG per model spec)

Generated from every YAML spec in `include/specs/`: **ingest** the training source into bronze →
**validate** with Great Expectations (bad rows quarantined) → **build_features** with Spark (the
fitted feature state is stored with the model) → **train** XGBoost on Spark → **evaluate** on the
holdout → **register** the version (native XGBoost format + sha256) → **explain** it with a SHAP
report → **gate**: thresholds, training data quality, and the champion scored on the same holdout
rows → (**approve_promotion** in the UI when the spec asks for a human decision) → **promote**,
which records the decision and makes the version champion only if everything passed.

Trigger it from the UI form (reason, sample size) or the REST API with
`conf={"reason": "...", "trigger_source": "api"}`; every task writes a lineage row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, task

from airflow_glue import DAG_TAG, failure_callback, model_specs, run_lifecycle_step

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(seconds=30)}
APPROVAL_TASK = "approve_promotion"
APPROVAL_BODY = """### Promote {{ params.model }} v{{ ti.xcom_pull(task_ids='gate')['version'] }} to champion?
Reason for this run: {{ params.reason }}

| check | value | threshold | passed |
|---|---|---|---|
{% for c in ti.xcom_pull(task_ids='gate')['checks'] %}| {{ c.check }} | {{ c.value }} | {{ c.threshold }} | {{ c.passed }} |
{% endfor %}
The SHAP report is in the version's folder; see the `explain` task's result."""


def training_dag(
    model: str,
    schedule: str | None,
    tags: list[str],
    owner: str,
    require_approval: bool = False,
    approvers: list[str] | None = None,
    approval_timeout_hours: float | None = None,
) -> None:
    @dag(
        dag_id=f"{model}_training",
        schedule=schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        doc_md=__doc__,
        tags=[DAG_TAG, "training", model, *tags],
        default_args={**DEFAULT_ARGS, "owner": owner, "on_failure_callback": failure_callback(model)},
        params={
            "model": Param(model, type="string", enum=[model], description="Model spec to train."),
            "reason": Param("manual retraining", type="string", minLength=1, description="Why this run."),
            "sample_size": Param(
                0, type="integer", minimum=0, description="Train on about this many rows (0 = all)."
            ),
            "trigger_source": Param("manual", type="string", enum=["manual", "api", "policy"]),
        },
    )
    def training():
        @task
        def ingest(**context) -> dict:
            return run_lifecycle_step("ingest", model, context, mode="training")

        @task
        def validate(batch: dict, **context) -> dict:
            return run_lifecycle_step("validate", model, context, batch=batch)

        @task
        def build_features(batch: dict, **context) -> dict:
            return run_lifecycle_step("build_features", model, context, batch=batch)

        @task
        def train(batch: dict, **context) -> dict:
            return run_lifecycle_step("train", model, context, batch=batch)

        @task
        def evaluate(trained: dict, **context) -> dict:
            return run_lifecycle_step("evaluate", model, context, trained=trained)

        @task
        def register(evaluated: dict, **context) -> dict:
            return run_lifecycle_step("register", model, context, evaluated=evaluated)

        @task
        def explain(registered: dict, **context) -> dict:
            return run_lifecycle_step("explain", model, context, registered=registered)

        @task
        def gate(explained: dict, **context) -> dict:
            return run_lifecycle_step("gate", model, context, explained=explained)

        @task(trigger_rule="none_failed")
        def promote(gate_result: dict, **context) -> dict:
            approval = context["ti"].xcom_pull(task_ids=APPROVAL_TASK) if require_approval else None
            return run_lifecycle_step("promote", model, context, gate=gate_result, approval=approval)

        gate_result = gate(explain(register(evaluate(train(build_features(validate(ingest())))))))
        promoted = promote(gate_result)
        if require_approval:

            @task.short_circuit(ignore_downstream_trigger_rules=False)
            def checks_passed(gate_result: dict) -> bool:
                return bool(gate_result["passed"])

            approve = HITLOperator(
                task_id=APPROVAL_TASK,
                subject=f"Promote a new {model} version to champion?",
                body=APPROVAL_BODY,
                options=["Approve", "Reject"],
                params={"comment": Param("", type="string", description="Why you approve or reject.")},
                assigned_users=[{"id": a, "name": a} for a in approvers or []] or None,
                response_timeout=timedelta(hours=approval_timeout_hours) if approval_timeout_hours else None,
            )
            checks_passed(gate_result) >> approve >> promoted

    training()


for _spec in model_specs():
    training_dag(
        _spec.name,
        _spec.schedule.training,
        _spec.tags,
        _spec.owner,
        _spec.promotion.require_approval,
        _spec.promotion.approvers,
        _spec.promotion.approval_timeout_hours,
    )
