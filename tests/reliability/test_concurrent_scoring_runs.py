"""Two real Airflow runs of ``churn_demo_scoring`` for one scoring date at once, with overlapping writes.

A real api-server, scheduler and dag-processor (LocalExecutor, 127.0.0.1, a private Airflow home
with SQLite), as in ``tests/e2e/test_rest_api_retraining.py`` (helpers copied from there). v1 is
trained beforehand through ``run_step`` on the same storage root.

Two facts of the platform shape the case, and the test checks both rather than assuming them:

* Airflow 3.3 keeps the unique key (dag_id, logical_date) on dag runs: a second run with the very
  same logical date is refused by the REST API (409). The closest honest equivalent is a second
  run whose logical date is an hour later on the same day: the platform keys every scoring write
  by the logical date's day (``ctx.ds``), so both runs read the same batch file and replace the
  same predictions partition.
* ``dags/model_scoring.py`` declares ``max_active_runs=1``: shipped as is, the second run waits
  queued and the writes never overlap. To make them overlap, this Airflow home's cluster policy
  (``airflow_local_settings.dag_policy``) lifts it to 2 and records the declared value; the DAG
  code itself is the project's. Cron scheduling is off (``use_job_schedule=False``) so that only
  the two triggered runs exist.

Started together, the runs meet at their first shared write: both ingest tasks replace the date's
bronze partition, Delta refuses the later commit (``ConcurrentAppendException``) and that task's
Airflow retry (30 s later) succeeds. The test asserts that the writes met (a recorded conflict, or
overlapping score tasks), that both runs succeed, and the row accounting of the date; it prints
every task try and the predictions table's history.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL = "churn_demo"
DAG_ID = f"{MODEL}_scoring"
DS = "2026-11-02"
RUNS = {"concurrent__a": f"{DS}T00:00:00Z", "concurrent__b": f"{DS}T01:00:00Z"}

POLICY = """
import json
from pathlib import Path

def dag_policy(dag):
    if dag.dag_id == "churn_demo_scoring":
        Path(__file__).with_name("declared.json").write_text(json.dumps({"max_active_runs": dag.max_active_runs}))
        dag.max_active_runs = 2
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
        return 0, str(err)


def _wait_for(what: str, check, timeout_s: float, procs: list[subprocess.Popen]) -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc in procs:
            assert proc.poll() is None, f"{proc.args} exited with {proc.returncode} while waiting for {what}"
        result = check()
        if result:
            return result
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _spec_dir(target: Path) -> Path:
    """The demo spec with a smaller booster and fewer bootstrap samples (speed only)."""
    target.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())
    raw["training"]["params"] = {**raw["training"].get("params", {}), "n_estimators": 40}
    raw["evaluation"] = {**raw.get("evaluation", {}), "bootstrap_samples": 50}
    raw["promotion"] = {**raw.get("promotion", {}), "bootstrap_samples": 50}
    (target / f"{MODEL}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


def _train_v1(settings) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext
    from mlplatform.lifecycle.runner import run_step

    chain = [
        ("ingest", "mode"),
        ("validate", "batch"),
        ("build_features", "batch"),
        ("train", "batch"),
        ("evaluate", "trained"),
        ("register", "evaluated"),
        ("explain", "registered"),
        ("gate", "explained"),
        ("promote", "gate"),
    ]
    value: Any = "training"
    for task, input_name in chain:
        ctx = RunContext("manual__v1", f"{MODEL}_training", task, datetime(2026, 11, 1, tzinfo=UTC), "test")
        value = run_step(task, MODEL, ctx, settings=settings, **{input_name: value})
    assert value["promoted"] is True


@pytest.fixture(scope="module")
def airflow_servers(spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.config.settings import Settings
    from mlplatform.demo.data import write_demo_landing
    from mlplatform.io.layout import StorageLayout

    base = tmp_path_factory.mktemp("concurrent")
    home, root, logs = base / "airflow", base / "lake", base / "logs"
    for folder in (home, home / "config", logs):
        folder.mkdir()
    specs = _spec_dir(base / "specs")
    write_demo_landing(StorageLayout(str(root)).landing_dir(MODEL), 1000, 400, {DS: False}, seed=23)
    _train_v1(Settings(storage_root=str(root), spec_dir=specs))
    (home / "config" / "airflow_local_settings.py").write_text(textwrap.dedent(POLICY))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    (home / "passwords.json").write_text(json.dumps({"admin": "admin"}))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API_AUTH__JWT_SECRET": "concurrent-scoring-test-secret",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "MLP_STORAGE_ROOT": str(root),
        "MLP_SPEC_DIR": str(specs),
        "MLP_SPARK_MASTER": "local[1]",
        "MLP_SPARK_SHUFFLE_PARTITIONS": "2",
        # Each task is a fresh, short-lived JVM: the C1 compiler alone and the serial collector
        # spend far less CPU on warming up (speed only; the platform's own Spark settings apply).
        "MLP_SPARK_CONF": json.dumps(
            {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
        ),
    }
    airflow = [sys.executable, "-m", "airflow"]
    migrate = subprocess.run([*airflow, "db", "migrate"], env=env, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    commands = {
        "api-server": [*airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
        "scheduler": [*airflow, "scheduler"],
        "dag-processor": [*airflow, "dag-processor"],
    }
    procs = [
        subprocess.Popen(
            cmd,
            env=env,
            stdout=(logs / f"{name}.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, cmd in commands.items()
    ]
    try:
        yield {"url": url, "root": root, "home": home, "procs": procs, "logs": logs}
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def two_runs(airflow_servers) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    url, procs = airflow_servers["url"], airflow_servers["procs"]
    _wait_for("the api-server", lambda: _call("GET", f"{url}/api/v2/version")[0] == 200, 180, procs)
    status, body = _call("POST", f"{url}/auth/token", {"username": "admin", "password": "admin"})
    assert status in (200, 201), body
    token = body["access_token"]
    _wait_for(
        f"{DAG_ID} to be parsed",
        lambda: _call("GET", f"{url}/api/v2/dags/{DAG_ID}", token=token)[0] == 200,
        180,
        procs,
    )
    status, details = _call("GET", f"{url}/api/v2/dags/{DAG_ID}/details", token=token)
    assert status == 200, details
    status, body = _call("PATCH", f"{url}/api/v2/dags/{DAG_ID}", {"is_paused": False}, token)
    assert status == 200, body
    triggered, refused = {}, None
    for run_id, logical_date in RUNS.items():
        status, run = _call(
            "POST",
            f"{url}/api/v2/dags/{DAG_ID}/dagRuns",
            {"dag_run_id": run_id, "logical_date": logical_date},
            token,
        )
        assert status in (200, 201), run
        triggered[run_id] = run
        if refused is None:  # the very same logical date again, under a third run id
            refused = _call(
                "POST",
                f"{url}/api/v2/dags/{DAG_ID}/dagRuns",
                {"dag_run_id": "concurrent__same_logical_date", "logical_date": logical_date},
                token,
            )

    def finished() -> dict | None:
        states = {}
        for run_id in RUNS:
            code, state = _call("GET", f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", token=token)
            if code != 200 or state["state"] not in ("success", "failed"):
                return None
            states[run_id] = state
        return states

    final = _wait_for("both scoring runs to finish", finished, 1200, procs)
    tries: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for run_id in RUNS:
        for task_id in ("ingest", "validate", "build_features", "score"):
            code, body = _call(
                "GET",
                f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/tries",
                token=token,
            )
            assert code == 200, body
            tries.setdefault(run_id, {})[task_id] = body["task_instances"]
    _, tasks_a = _call("GET", f"{url}/api/v2/dags/{DAG_ID}/dagRuns/concurrent__a/taskInstances", token=token)
    _, tasks_b = _call("GET", f"{url}/api/v2/dags/{DAG_ID}/dagRuns/concurrent__b/taskInstances", token=token)
    declared = json.loads((airflow_servers["home"] / "config" / "declared.json").read_text())
    return {
        "details": details,
        "declared": declared,
        "triggered": triggered,
        "refused": refused,
        "final": final,
        "tries": tries,
        "tasks": {"concurrent__a": tasks_a, "concurrent__b": tasks_b},
        "root": airflow_servers["root"],
    }


def _interval(ti: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"])


def test_same_logical_date_is_refused_and_the_dag_serialises_runs(two_runs) -> None:  # type: ignore[no-untyped-def]
    status, body = two_runs["refused"]
    assert status == 409, (status, body)
    assert two_runs["declared"] == {"max_active_runs": 1}, "dags/model_scoring.py serialises runs"
    assert two_runs["details"]["max_active_runs"] == 2, "this Airflow home's policy lifts it to 2"


def test_two_concurrent_runs_of_one_date_leave_one_predictions_set(spark, two_runs, capsys) -> None:  # type: ignore[no-untyped-def]
    from delta.tables import DeltaTable

    states = {
        run_id: {t["task_id"]: (t["state"], t["try_number"]) for t in tasks["task_instances"]}
        for run_id, tasks in two_runs["tasks"].items()
    }
    assert {r: s["state"] for r, s in two_runs["final"].items()} == dict.fromkeys(RUNS, "success"), states

    root = two_runs["root"]
    lake = root / "delta"
    path = str(lake / "platform" / "predictions")
    predictions = spark.read.format("delta").load(path).where(f"model_name = '{MODEL}'")
    dated = predictions.where(f"score_date = DATE '{DS}'")
    rows = dated.select("entity_id", "run_id").collect()
    validated = spark.read.format("delta").load(str(lake / "models" / MODEL / "validated"))
    validated_ids = {
        str(r["customer_id"])
        for r in validated.where(f"_batch_id = 'score__{DS}'").select("customer_id").collect()
    }
    ids = [str(r["entity_id"]) for r in rows]
    assert predictions.select("score_date").distinct().count() == 1, "exactly one scoring date's partition"
    assert len(ids) == len(validated_ids) > 0
    assert set(ids) == validated_ids, "no validated row lost, none extra"
    assert len(ids) == len(set(ids)), "no entity id duplicated"
    writers = {r["run_id"] for r in rows}
    assert len(writers) == 1 and writers <= set(RUNS), f"one run's outputs, not a mix: {writers}"

    history = [
        (int(h["version"]), h["timestamp"], h["operation"])
        for h in DeltaTable.forPath(spark, path).history().orderBy("version").collect()
    ]
    lineage = spark.read.format("delta").load(str(lake / "platform" / "lineage"))
    ours = lineage.where(f"run_id IN {tuple(RUNS)}")
    attempts = [
        (r["run_id"], r["task_id"], r["try_number"], r["status"], str(r["started_at"]), str(r["ended_at"]))
        for r in ours.where("task_id = 'score'").orderBy("started_at").collect()
    ]
    conflicts = [
        (r["run_id"], r["task_id"], r["try_number"], (r["error"] or "")[:200])
        for r in ours.where("status = 'failed' AND lower(error) LIKE '%concurrent%'").collect()
    ]
    windows = {
        run_id: {
            task: [(t["try_number"], t["state"], t["start_date"], t["end_date"]) for t in task_tries]
            for task, task_tries in by_task.items()
        }
        for run_id, by_task in two_runs["tries"].items()
    }
    scores = {r: [t for t in two_runs["tries"][r]["score"] if t["state"] == "success"][-1] for r in RUNS}
    (a_start, a_end), (b_start, b_end) = (_interval(scores[r]) for r in RUNS)
    score_overlap = (min(a_end, b_end) - max(a_start, b_start)).total_seconds()
    with capsys.disabled():
        print(f"\ntask tries (try, state, start, end): {windows}")
        print(f"successful score tries overlap by {score_overlap:.1f}s (negative: apart)")
        print(f"score step attempts (lineage): {attempts}")
        print(f"Delta write conflicts recorded in lineage: {conflicts}")
        print(f"predictions history: {history}; rows for {DS} written by {writers}")
    # The two runs' Delta writes met: a commit lost to a concurrent one, or the score writes overlapped.
    assert conflicts or score_overlap > 0, windows
