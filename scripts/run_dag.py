"""Run one DAG end to end through Airflow (``dag.test()``) for a logical date; exit 1 unless it succeeds.

Used by ``make demo``, ``make run`` and ``mlplatform run``: the same code path as ``airflow dags
test``, and a one-line result per task at the end. ``dag.test()`` runs every task in this process
and its task logs go to this process's standard output, not to files: nothing is written under
``$AIRFLOW_HOME/logs``. They are filtered at ``AIRFLOW__LOGGING__LOGGING_LEVEL`` (``WARNING`` under
``make``: warnings, errors and tracebacks; set ``INFO`` to see every step's log). ``--queued RUN_ID`` executes a
run that another DAG queued (the retraining policy's ``TriggerDagRunOperator``) with its own conf
and logical date, doing what the scheduler would do with it; there is no scheduler in the demo.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime


def run_dag(dag_id: str, logical_date: datetime, conf: dict | None = None) -> str:
    """Run the DAG in-process and return the final DagRun state."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {json.dumps(bag.import_errors, indent=2)}")
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise SystemExit(f"no DAG '{dag_id}' in the dags folder; known: {sorted(bag.dag_ids)}")
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run = dag.test(logical_date=logical_date, run_conf=conf)
    with create_session() as session:
        query = select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
        tis = sorted(session.scalars(query), key=lambda t: t.start_date or datetime.max.replace(tzinfo=UTC))
        for ti in tis:
            took = (ti.end_date - ti.start_date).total_seconds() if ti.start_date and ti.end_date else 0.0
            print(f"  {dag_id}.{ti.task_id:<16} {str(ti.state):<10} {took:6.1f}s")
    return str(run.state)


def queued_run(dag_id: str, run_id: str) -> tuple[datetime, dict]:
    """Logical date and conf of a run another DAG queued; exits with a message when there is none."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).first()
        if run is None:
            raise SystemExit(f"no run '{run_id}' of {dag_id} was queued (did the retraining policy fire?)")
        return run.logical_date or run.run_after, dict(run.conf or {})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_id")
    parser.add_argument("logical_date", nargs="?", help="YYYY-MM-DD")
    parser.add_argument("--conf", default="{}", help="run conf as JSON")
    parser.add_argument("--queued", metavar="RUN_ID", help="execute this queued run (its date and conf)")
    args = parser.parse_args()
    if args.queued:
        logical, conf = queued_run(args.dag_id, args.queued)
        print(
            f"Running queued {args.dag_id} run {args.queued} (reason: {conf.get('reason')}) ...", flush=True
        )
    elif args.logical_date:
        logical = datetime.fromisoformat(args.logical_date).replace(tzinfo=UTC)
        conf = json.loads(args.conf)
        print(f"Running {args.dag_id} for {args.logical_date} through Airflow ...", flush=True)
    else:
        parser.error("give a logical date or --queued RUN_ID")
    started = time.monotonic()
    state = run_dag(args.dag_id, logical, conf)
    print(f"{args.dag_id} {logical:%Y-%m-%d}: {state} in {time.monotonic() - started:.0f}s", flush=True)
    level = os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    print(
        f"task logs: printed above by dag.test() at level {level} (no log files are written); "
        "AIRFLOW__LOGGING__LOGGING_LEVEL=INFO shows every step's log",
        flush=True,
    )
    return 0 if state.endswith("success") else 1


if __name__ == "__main__":
    sys.exit(main())
