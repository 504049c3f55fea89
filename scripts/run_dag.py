"""Run one DAG end to end through Airflow (``dag.test()``) for a logical date; exit 1 unless it succeeds.

Used by ``make demo``, ``make run`` and ``mlplatform run``: the same code path as ``airflow dags
test``, and a one-line result per task at the end. ``dag.test()`` runs every task in this process
and prints its log here (filtered at ``AIRFLOW__LOGGING__LOGGING_LEVEL``); each task's log is
also written where the Airflow UI reads it, ``$AIRFLOW_HOME/logs/dag_id=…/run_id=…/task_id=…/
attempt=N.log``, as the executor would, so ``make ui`` shows these runs' logs too.
``--queued RUN_ID`` executes a run that another DAG queued (the retraining policy's
``TriggerDagRunOperator``) with its own conf and logical date, doing what the scheduler would do
with it; there is no scheduler in the demo.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path


class TaskLogFile(logging.Handler):
    """One task try's log as JSON lines, the format and place Airflow's log view reads."""

    def __init__(self, path: Path) -> None:
        super().__init__(level=logging.INFO)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.stream = path.open("a", encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        line = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        if record.exc_info:
            line["event"] += "\n" + logging.Formatter().formatException(record.exc_info)
        self.stream.write(json.dumps(line, default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()
        super().close()


def write_task_logs() -> None:
    """Wrap ``dag.test()``'s task runner so that each try also logs to its file under Airflow's logs."""
    import airflow.sdk.definitions.dag as dag_module
    from airflow.configuration import conf
    from airflow.utils.log.file_task_handler import FileTaskHandler

    run_task = dag_module._run_task
    folder = Path(conf.get("logging", "base_log_folder"))
    naming = FileTaskHandler(str(folder))

    def run_task_with_log_file(*, ti, **kwargs):  # type: ignore[no-untyped-def]
        handler = TaskLogFile(folder / naming._render_filename(ti, ti.try_number))
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            return run_task(ti=ti, **kwargs)
        finally:
            root.removeHandler(handler)
            handler.close()

    dag_module._run_task = run_task_with_log_file


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

    write_task_logs()
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
    from airflow.configuration import conf as airflow_conf

    folder = Path(airflow_conf.get("logging", "base_log_folder")) / f"dag_id={args.dag_id}"
    print(f"task logs: {folder}/run_id=.../task_id=.../attempt=N.log (and in the UI: make ui)", flush=True)
    return 0 if state.endswith("success") else 1


if __name__ == "__main__":
    sys.exit(main())
