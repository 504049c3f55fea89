"""Gated promotion with human approval, through Airflow's human-in-the-loop operator.

A spec with ``promotion.require_approval`` gets an ``approve_promotion`` task. While ``dag.test()``
waits on it, a responder thread answers through the same handler the Airflow UI and REST API use
(``update_hitl_detail``), as the assigned approver. Covered: approval (promoted, approver and comment
recorded), rejection of a challenger trained on more data (not promoted, champion unchanged),
and a worse challenger (gate fails, no
approval asked, the decision row says why).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL = "churn_demo"
APPROVER = "risk-officer"


def _respond_when_asked(
    dag_id: str, choice: str, comment: str, stop: threading.Event, errors: list[BaseException]
) -> threading.Thread:
    """Answer the approval request as APPROVER once the task is waiting for input.

    On any error the waiting task is failed, so ``dag.test()`` ends instead of waiting forever,
    and the error is kept for the test to report.
    """

    def respond() -> None:
        from airflow.api_fastapi.app import init_auth_manager
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
        from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
        from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import select

        waiting = select(TaskInstance).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.task_id == "approve_promotion",
            TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
        )
        try:
            init_auth_manager()  # as the api-server does at start-up; the handler checks the approver
            while not stop.is_set():
                with create_session() as session:
                    ti = session.scalars(waiting).first()
                    if ti is not None:
                        update_hitl_detail(
                            dag_id=dag_id,
                            dag_run_id=ti.run_id,
                            task_id="approve_promotion",
                            update_hitl_detail_payload=UpdateHITLDetailPayload(
                                chosen_options=[choice], params_input={"comment": comment}
                            ),
                            user=SimpleAuthManagerUser(username=APPROVER, role="admin"),
                            session=session,
                        )
                        return
                time.sleep(0.5)
        except BaseException as exc:
            errors.append(exc)
            with create_session() as session:
                for ti in session.scalars(waiting):
                    ti.state = TaskInstanceState.FAILED

    thread = threading.Thread(target=respond, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def approval_runs(airflow_db, spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    from mlplatform.demo.data import write_demo_landing
    from mlplatform.io.layout import StorageLayout
    from tests.support import platform_env

    base = tmp_path_factory.mktemp("approval")
    spec_dir = base / "specs"
    spec_dir.mkdir()
    spec = yaml.safe_load((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())
    spec["promotion"].update({"require_approval": True, "approvers": [APPROVER]})
    (spec_dir / f"{MODEL}.yaml").write_text(yaml.safe_dump(spec))
    root = base / "lake"
    with platform_env(MLP_STORAGE_ROOT=str(root), MLP_SPEC_DIR=str(spec_dir)):
        layout = StorageLayout(str(root))
        dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags[f"{MODEL}_training"]
        runs: dict[str, Any] = {"dag": dag}
        errors: list[BaseException] = []
        # The rejected challenger trains on twice the rows (a superset), so it is a different
        # booster that beats the champion: a retrain on the same rows is refused by the gate itself.
        for name, day, choice, rows, conf in [
            ("approved", 1, "Approve", 3000, {"reason": "first model"}),
            ("rejected", 2, "Reject", 6000, {"reason": "retrain, twice the data"}),
            ("worse", 3, None, 6000, {"reason": "tiny sample", "sample_size": 300}),
        ]:
            write_demo_landing(layout.landing_dir(MODEL), rows, 500, {}, seed=21)
            stop = threading.Event()
            responder = (
                _respond_when_asked(dag.dag_id, choice, f"{name} in test", stop, errors) if choice else None
            )
            runs[name] = dag.test(logical_date=datetime(2026, 10, day, tzinfo=UTC), run_conf=conf)
            stop.set()
            if responder:
                responder.join(timeout=10)
            assert not errors, f"the approver could not answer: {errors[0]!r}"
        runs["layout"] = layout
        yield runs


def _decisions(spark, layout) -> list[Any]:  # type: ignore[no-untyped-def]
    return (
        spark.read.format("delta")
        .load(layout.platform_table("promotion_decisions"))
        .orderBy("decided_at")
        .collect()
    )


def test_dag_has_the_approval_task(approval_runs) -> None:  # type: ignore[no-untyped-def]
    dag = approval_runs["dag"]
    assert "approve_promotion" in dag.task_ids
    assert "promote" in dag.get_task("approve_promotion").downstream_task_ids
    assert all(str(approval_runs[n].state).endswith("success") for n in ("approved", "rejected", "worse"))


def test_approval_promotes_and_records_the_approver(approval_runs, spark) -> None:  # type: ignore[no-untyped-def]
    first = _decisions(spark, approval_runs["layout"])[0]
    assert (first["version"], first["promoted"], first["approval"]) == (1, True, "approved")
    assert first["approver"] == APPROVER and first["approval_comment"] == "approved in test"
    events = spark.read.format("delta").load(approval_runs["layout"].platform_table("model_registry"))
    promoted = events.where("event = 'promoted' AND version = 1").first()
    assert promoted["actor"] == APPROVER


def test_rejection_keeps_the_champion(approval_runs, spark) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.registry import ModelRegistry

    second = _decisions(spark, approval_runs["layout"])[1]
    assert (second["version"], second["promoted"], second["approval"]) == (2, False, "rejected")
    assert second["approver"] == APPROVER and "rejected" in second["reason"]
    checks = {c["check"]: c for c in json.loads(second["checks"])}
    assert checks["beats_champion_auc"]["passed"] and checks["beats_champion_auc"]["same_holdout_rows"] > 0
    registry = approval_runs["layout"].platform_table("model_registry")
    assert ModelRegistry(spark, registry).champion_version(MODEL) == 1


def test_worse_challenger_is_not_promoted_and_says_why(approval_runs, spark) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.registry import ModelRegistry

    third = _decisions(spark, approval_runs["layout"])[2]
    assert (third["version"], third["promoted"], third["approval"]) == (3, False, "not_requested")
    checks = {c["check"]: c for c in json.loads(third["checks"])}
    assert not checks["beats_champion_auc"]["passed"]
    assert checks["beats_champion_auc"]["value"] < 0
    assert "beats_champion_auc" in third["reason"]
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run = approval_runs["worse"]
    with create_session() as session:
        state = session.scalar(
            select(TaskInstance.state).where(
                TaskInstance.dag_id == run.dag_id,
                TaskInstance.run_id == run.run_id,
                TaskInstance.task_id == "approve_promotion",
            )
        )
    assert str(state).endswith("skipped"), "no approval may be asked for a challenger that failed the gate"
    assert (
        ModelRegistry(spark, approval_runs["layout"].platform_table("model_registry")).champion_version(MODEL)
        == 1
    )


def test_audit_records_the_approval_and_the_rejection_by_the_approver(approval_runs) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.governance.audit import read_audit

    audit = read_audit(str(approval_runs["layout"].root), model=MODEL)
    decided = audit[audit["action"].isin(["approval", "rejection"])].sort_values("event_time")
    assert [(r.action, r.version, r.actor, r.reason) for r in decided.itertuples()] == [
        ("approval", 1, APPROVER, "approved in test"),
        ("rejection", 2, APPROVER, "rejected in test"),
    ]
    promoted = audit[audit["action"] == "promotion"]
    assert list(zip(promoted["version"], promoted["actor"], strict=True)) == [(1, APPROVER)]
    assert set(audit.loc[audit["action"] == "trigger", "run_id"]) == {
        approval_runs[n].run_id for n in ("approved", "rejected", "worse")
    }
