"""Fail fast on permanent errors, retry transient ones: the task glue under Airflow's own retry loop.

``dag.test()`` runs the scoring DAG's ``ingest`` in this process with its real retry settings (one
retry after 30 s), so the step behind the glue can be a stand-in that fails the way a real step
does: a missing source file (``SourceError``, as ingest raises it) or a Delta commit conflict
(delta-spark's own exception). The rest of the DAG is marked successful without running.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("airflow_db")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _run_ingest(logical_date: str, monkeypatch, failure: Exception):  # type: ignore[no-untyped-def]
    """The scoring DAG's ingest (its real retries), its step raising ``failure`` on the first call;
    the other tasks are marked successful. Returns (state, try number, the tries the step saw)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    import mlplatform.lifecycle.runner as runner

    calls: list[int] = []

    def step_failing_once(task_id, model, ctx, **inputs):  # type: ignore[no-untyped-def]
        calls.append(ctx.try_number)
        if len(calls) == 1:
            raise failure
        return {"batch_id": "b", "rows": 3}

    monkeypatch.setattr(runner, "run_step", step_failing_once)
    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["churn_demo_scoring"]
    assert dag.get_task("ingest").retries == 1
    when = datetime.fromisoformat(logical_date).replace(tzinfo=UTC)
    run = dag.test(logical_date=when, mark_success_pattern="(?!ingest$).*")
    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag.dag_id,
                TaskInstance.run_id == run.run_id,
                TaskInstance.task_id == "ingest",
            )
        ).one()
        return str(ti.state), ti.try_number, calls


def test_a_missing_source_file_fails_on_the_first_try_without_retry(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.ingest import SourceError

    missing = SourceError(
        "cannot read source file /lake/landing/churn_demo/2026-11-03.csv (csv): [PATH_NOT_FOUND] "
        "Path does not exist"
    )
    state, tries, calls = _run_ingest("2026-12-01", monkeypatch, missing)
    assert state == "failed"
    assert (tries, calls) == (1, [1]), "a permanent error is not retried"


def test_a_delta_commit_conflict_is_retried_and_the_retry_succeeds(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from delta.exceptions import ConcurrentAppendException

    conflict = ConcurrentAppendException(
        message="[DELTA_CONCURRENT_APPEND] Files were added to the root of the table by a concurrent update"
    )
    state, tries, calls = _run_ingest("2026-12-02", monkeypatch, conflict)
    assert state == "success"
    assert (tries, calls) == (2, [1, 2]), "Airflow retried the conflict once"
