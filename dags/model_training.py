"""
### Model training (one DAG per model spec)

Generated from every YAML spec in `include/specs/`: **ingest** the training source into bronze →
**validate** with Great Expectations (bad rows quarantined) → **build_features** with Spark (the
fitted feature state is stored with the model) → **train** XGBoost → **evaluate** on the holdout →
**register** the version (native XGBoost format + sha256) → **explain** it with a SHAP report and
model card → **gate**: thresholds, training data quality, and the champion scored on the same
holdout rows → (**approve_promotion** in the UI when the spec asks for a human decision) →
**promote**, which records the decision and makes the version champion only if everything
passed → **champion_changed** updates the model's `champion` asset when it did.

With approval, `checks_passed` skips the approval form when the gate failed, and `promote` runs
anyway (`trigger_rule="none_failed"`) to record the refusal.

Trigger it from the UI form (reason, sample size) or the REST API with `conf={"reason": "..."}`;
every task writes a lineage row, whose trigger type Airflow itself decides (UI, REST API,
schedule, the retraining policy), never the conf.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, get_parsing_context, task

from airflow_glue import DAG_TAG
from airflow_glue.assets import model_assets
from airflow_glue.callbacks import failure_callback
from airflow_glue.context import model_specs
from airflow_glue.dag_docs import dag_description, dag_doc_md
from airflow_glue.tasks import lifecycle_task
from mlplatform.config.specs import ModelSpec

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(seconds=30)}
APPROVAL_TASK = "approve_promotion"
APPROVAL_BODY = """### Promote {model} v{{{{ ti.xcom_pull(task_ids='gate')['version'] }}}} to champion?
Reason for this run: {{{{ params.reason }}}}

| check | value | threshold | passed |
|---|---|---|---|
{{% for c in ti.xcom_pull(task_ids='gate')['checks'] %}}| {{{{ c.check }}}} | {{{{ c.value }}}} | {{{{ c.threshold }}}} | {{{{ c.passed }}}} |
{{% endfor %}}
**[Open v{{{{ ti.xcom_pull(task_ids='gate')['version'] }}}} in the model catalog](/mlplatform/models/{model}/versions/{{{{ ti.xcom_pull(task_ids='gate')['version'] }}}})**: its SHAP report, model card, training inputs and the champion it is compared with."""


def training_dag(spec: ModelSpec) -> None:
    model, rules = spec.name, spec.promotion
    champion = model_assets(model).champion

    @dag(
        dag_id=f"{model}_training",
        description=dag_description(spec, "training"),
        schedule=spec.schedule.training,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        doc_md=dag_doc_md(spec, "training", __doc__),
        tags=[DAG_TAG, "training", model, *spec.tags],
        default_args={**DEFAULT_ARGS, "owner": spec.owner, "on_failure_callback": failure_callback(model)},
        params={
            "reason": Param("manual retraining", type="string", minLength=1, description="Why this run."),
            "sample_size": Param(
                0, type="integer", minimum=0, description="Train on about this many rows (0 = all)."
            ),
        },
    )
    def training():
        def step(task_id: str, **kwargs):  # type: ignore[no-untyped-def]
            return lifecycle_task(model, task_id, **kwargs)

        batch = step("ingest")(mode="training")
        batch = step("validate")(batch=batch)
        batch = step("build_features")(batch=batch)
        trained = step("train")(batch=batch)
        evaluated = step("evaluate")(trained=trained)
        registered = step("register")(evaluated=evaluated)
        explained = step("explain")(registered=registered)
        gate_result = step("gate")(explained=explained)
        if rules.require_approval:

            @task.short_circuit(ignore_downstream_trigger_rules=False)
            def checks_passed(gate_result: dict) -> bool:
                return bool(gate_result["passed"])

            approve = HITLOperator(
                task_id=APPROVAL_TASK,
                subject=f"Promote a new {model} version to champion?",
                body=APPROVAL_BODY.format(model=model),
                options=["Approve", "Reject"],
                params={"comment": Param("", type="string", description="Why you approve or reject.")},
                assigned_users=[{"id": a, "name": a} for a in rules.approvers] or None,
                response_timeout=timedelta(hours=rules.approval_timeout_hours)
                if rules.approval_timeout_hours
                else None,
            )
            checks_passed(gate_result) >> approve
            promoted = step("promote", trigger_rule="none_failed")(gate=gate_result, approval=approve.output)
        else:
            promoted = step("promote", trigger_rule="none_failed")(gate=gate_result)

        @task(outlets=[champion], multiple_outputs=False)
        def champion_changed(promotion: dict) -> int:
            """Update the model's champion asset, only when this run promoted a version."""
            from airflow.sdk.exceptions import AirflowSkipException

            if not promotion["promoted"] or promotion.get("already"):
                raise AirflowSkipException(f"champion unchanged: {promotion['reason']}")
            return int(promotion["version"])

        champion_changed(promoted)

    training()


_building = get_parsing_context().dag_id
for _spec in model_specs():
    if _building in (None, f"{_spec.name}_training"):
        training_dag(_spec)
