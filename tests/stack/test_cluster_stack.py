"""From laptop to cluster: the same DAGs on Postgres, Spark standalone, S3 and two Celery workers.

The fixture starts real services on 127.0.0.1 (``tests/stack/services.py``), each stopped by its
process id: Postgres as Airflow's metadata database, Redis as the Celery broker, moto's S3 server
as the object store, a Spark standalone master and worker (with shared-secret authentication).
Then ``make ui`` with two Celery workers and the cluster settings of ``tests/stack/settings.py``,
the same names ``docker-compose.yaml`` sets. The demo data lands in the bucket; a training run
and a scoring run go through the REST API. What they wrote is read back through s3a by the
platform's own code (``tests/stack/read_back.py``) on the cluster.

The only change to the demo is its spec's scoring schedule (null, in a copied spec folder), so
unpausing the scoring DAG starts only the REST run and not also the latest night's.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stack import services as svc
from tests.stack.settings import cluster_settings

# Two whole DAG runs on a cluster of seven JVMs and Python processes sharing two cores: ~40 minutes.
pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.stack, pytest.mark.timeout(5400)]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL = "churn_demo"
TRAINING, SCORING = f"{MODEL}_training", f"{MODEL}_scoring"
SCORE_DATE = "2026-11-03"
BATCH_ROWS = 800
BUCKET = "mlp-lake"
RESULTS = PROJECT_ROOT / "test-artifacts" / "stack_timings.json"
REQUIRED = os.environ.get("MLP_STACK_REQUIRED") == "1"  # CI: a missing service fails, never skips


def _need(binary: str) -> None:
    missing = not svc.POSTGRES_BIN if binary == "postgres" else shutil.which(binary) is None
    if missing:
        message = f"{binary} is not installed (apt-get install postgresql redis-server)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)


def _call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, Any]:
    from tests.e2e.test_rest_api_retraining import _call as call

    return call(method, url, body, token)


def _spec_dir(base: Path) -> Path:
    """The shipped specs, with the demo's scoring DAG triggered only (no cron)."""
    target = base / "specs"
    shutil.copytree(PROJECT_ROOT / "include" / "specs", target)
    spec_file = target / f"{MODEL}.yaml"
    spec = yaml.safe_load(spec_file.read_text())
    spec.setdefault("schedule", {})["scoring"] = None
    spec_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    return target


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:  # type: ignore[no-untyped-def]
    for binary in ("postgres", "redis-server", "java"):
        _need(binary)
    started = time.monotonic()
    # Not pytest's tmp_path: another pytest run would prune it while this one still runs.
    base = Path(tempfile.mkdtemp(prefix="mlp-stack-"))
    services = svc.Services(base)
    make_ui = None
    try:
        pg_password, redis_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        s3_key, s3_secret = f"AKIA{secrets.token_hex(8).upper()}", secrets.token_urlsafe(30)
        spark_secret = secrets.token_urlsafe(24)
        postgres = svc.postgres(services, pg_password)
        redis = svc.redis(services, redis_password)
        s3_endpoint = svc.s3_server(services)
        spark_master, spark_ui = svc.spark_cluster(services, spark_secret, cores=4, memory="4g")
        settings = cluster_settings(
            postgres=postgres,
            postgres_password=pg_password,
            redis=redis,
            redis_password=redis_password,
            spark_master=spark_master,
            spark_secret=spark_secret,
            storage_root=f"s3a://{BUCKET}/mlp",
            s3_endpoint=s3_endpoint,
            s3_key=s3_key,
            s3_secret=s3_secret,
        )
        home = base / "airflow"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "MLP_", "AWS_"))
            and k not in ("AIRFLOW_HOME", "MAKEFLAGS", "MAKELEVEL")
        }
        env.update(settings)
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
                "AIRFLOW__CORE__PARALLELISM": "2",
                "MLP_SPEC_DIR": str(_spec_dir(base)),
                "MLP_SPARK_SHUFFLE_PARTITIONS": "2",
                "SPARK_LOCAL_IP": svc.HOST,  # the drivers (task processes) listen on loopback too
                "UI_CELERY_WORKERS": "2",
                "UI_WORKER_CONCURRENCY": "1",
            }
        )
        # The test process itself only lands the data: boto3 with the bucket's own credentials.
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=s3_endpoint,
            aws_access_key_id=s3_key,
            aws_secret_access_key=s3_secret,
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket=BUCKET)
        landing = base / "landing"
        from mlplatform.demo.data import write_demo_landing

        write_demo_landing(landing, 3000, BATCH_ROWS, {SCORE_DATE: False}, seed=31)
        for path in sorted(p for p in landing.rglob("*") if p.is_file()):
            key = f"mlp/landing/{MODEL}/{path.relative_to(landing).as_posix()}"
            s3.upload_file(str(path), BUCKET, key)
        # Resolve the S3 jar set once, before two workers' tasks would race for it.
        jars = subprocess.run(
            [sys.executable, "-m", "mlplatform.cli", "jars"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert jars.returncode == 0, jars.stderr[-3000:]
        port = svc.free_port()
        url = f"http://{svc.HOST}:{port}"
        log = base / "make-ui.log"
        make_ui = subprocess.Popen(
            ["make", "-s", "ui", f"UI_PORT={port}"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        state = {"url": url, "home": home, "proc": make_ui, "log": log, "root": None}
        _wait(state, "make ui to say it is ready", lambda: "Airflow UI ready on" in log.read_text(), 900)
        state["password"] = json.loads((home / "simple_auth_manager_passwords.json").read_text())["admin"]
        state.update(
            env=env,
            s3=s3,
            spark_ui=spark_ui,
            services=services,
            started=started,
            ready_s=time.monotonic() - started,
        )
        yield state
    finally:
        if make_ui is not None:
            from tests.e2e.test_rest_api_retraining import stop_stack

            stop_stack({"proc": make_ui})
        left = services.stop()
        shutil.rmtree(services.details.get("postgres_dir", ""), ignore_errors=True)
        shutil.rmtree(base / "spark-work", ignore_errors=True)
        print(f"stack logs: {base}")
        assert not left, f"services needed SIGKILL: {left}"


def _wait(state: dict[str, Any], what: str, check, timeout_s: float) -> Any:  # type: ignore[no-untyped-def]
    from tests.e2e.test_rest_api_retraining import _wait_for

    return _wait_for(what, check, timeout_s, state)


def _token(state: dict[str, Any]) -> str:
    status, body = _call(
        "POST", f"{state['url']}/auth/token", {"username": "admin", "password": state["password"]}
    )
    assert status in (200, 201), body
    return str(body["access_token"])


def _run(state: dict[str, Any], dag_id: str, body: dict, timeout_s: float) -> dict[str, Any]:
    """Trigger ``dag_id`` through the REST API and wait for the run; its final state and tasks."""
    url, token = state["url"], _token(state)
    _wait(
        state,
        f"{dag_id} to be parsed",
        lambda: _call("GET", f"{url}/api/v2/dags/{dag_id}", token=token)[0] == 200,
        300,
    )
    status, body_ = _call("PATCH", f"{url}/api/v2/dags/{dag_id}", {"is_paused": False}, token)
    assert status == 200, body_
    status, run = _call("POST", f"{url}/api/v2/dags/{dag_id}/dagRuns", body, token)
    assert status in (200, 201), run
    run_id = run["dag_run_id"]

    def finished() -> dict | None:
        code, found = _call("GET", f"{url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", token=_token(state))
        return found if code == 200 and found["state"] in ("success", "failed") else None

    final = _wait(state, f"run {run_id} of {dag_id}", finished, timeout_s)
    _, tis = _call("GET", f"{url}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", token=_token(state))
    return {"run": final, "tasks": {t["task_id"]: t for t in tis["task_instances"]}}


def _seconds(run: dict[str, Any]) -> float:
    from datetime import datetime

    start, end = (datetime.fromisoformat(run[k].replace("Z", "+00:00")) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


@pytest.fixture(scope="module")
def runs(stack) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    training = _run(stack, TRAINING, {"logical_date": None, "conf": {"reason": "stack test"}}, 2400)
    scoring = _run(stack, SCORING, {"logical_date": f"{SCORE_DATE}T02:00:00Z", "conf": {}}, 1800)
    read = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "stack" / "read_back.py"), MODEL, SCORE_DATE],
        env={**stack["env"], **_connection_env(stack["env"])},
        capture_output=True,
        text=True,
        timeout=900,
        cwd=PROJECT_ROOT,
    )
    line = next((x for x in read.stdout.splitlines() if x.startswith("READ_BACK ")), None)
    assert read.returncode == 0 and line, read.stderr[-4000:]
    # The catalog in the api-server reads the same tables from the bucket (delta-rs, the connection).
    catalog = _call("GET", f"{stack['url']}/mlplatform/api/models", token=_token(stack))
    timings = {
        "stack_ready_s": round(stack["ready_s"], 1),
        "training_run_s": _seconds(training["run"]),
        "scoring_run_s": _seconds(scoring["run"]),
        "training_tasks_s": {t: v["duration"] for t, v in training["tasks"].items()},
        "scoring_tasks_s": {t: v["duration"] for t, v in scoring["tasks"].items()},
        "wall_s": round(time.monotonic() - stack["started"], 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(timings, indent=2) + "\n")
    print(f"stack timings: {json.dumps(timings)}")
    return {
        "training": training,
        "scoring": scoring,
        "read": json.loads(line.removeprefix("READ_BACK ")),
        "catalog": catalog,
    }


def _connection_env(env: dict[str, str]) -> dict[str, str]:
    """The reader runs outside Airflow: it takes the S3 credentials from the same connection JSON."""
    conn = json.loads(env["AIRFLOW_CONN_MLP_S3"])
    return {
        "AWS_ACCESS_KEY_ID": conn["login"],
        "AWS_SECRET_ACCESS_KEY": conn["password"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLP_S3_ENDPOINT_URL": conn["extra"]["endpoint_url"],
    }


def test_training_and_scoring_runs_succeed_through_the_rest_api(runs) -> None:  # type: ignore[no-untyped-def]
    for name in ("training", "scoring"):
        states = {t: v["state"] for t, v in runs[name]["tasks"].items()}
        assert runs[name]["run"]["state"] == "success", f"{name}: {states}"
        assert runs[name]["run"]["triggered_by"] == "rest_api"


def test_delta_tables_are_in_the_bucket_and_read_back_through_s3a(runs, stack) -> None:  # type: ignore[no-untyped-def]
    read = runs["read"]
    assert read["storage_root"] == f"s3a://{BUCKET}/mlp"
    assert read["spark_master"].startswith("spark://127.0.0.1:")
    assert all(count > 0 for count in read["tables"].values()), read["tables"]
    keys = {
        o["Key"]
        for page in stack["s3"].get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    }
    for table in ("platform/model_registry", "platform/predictions", f"models/{MODEL}/features"):
        assert any(k.startswith(f"mlp/delta/{table}/_delta_log/") for k in keys), table
    assert not any(Path(stack["home"]).rglob("_delta_log")), "no Delta table may land on local disk"


def test_predictions_equal_batch_rows_minus_quarantined(runs) -> None:  # type: ignore[no-untyped-def]
    read = runs["read"]
    assert read["batch_rows"] == BATCH_ROWS
    assert read["quarantined"] > 0, "the demo batch has bad rows"
    assert read["predictions"] == read["batch_rows"] - read["quarantined"] == read["distinct_entities"]
    assert read["prediction_versions"] == [read["champion"]]


def test_the_champions_artifacts_are_in_s3_with_matching_checksums(runs) -> None:  # type: ignore[no-untyped-def]
    read = runs["read"]
    assert read["champion"] == 1 and read["booster_trees"] > 0  # load_champion verified every sha256
    assert read["artifact_uri"] == f"s3a://{BUCKET}/mlp/models/{MODEL}/v1"
    names = {uri.rsplit("/", 1)[1] for uri in read["artifact_files"]}
    assert {"model.ubj", "manifest.json"} <= names, names


def test_shap_and_drift_reports_and_data_docs_are_in_s3(runs) -> None:  # type: ignore[no-untyped-def]
    read = runs["read"]
    assert read["shap_report"] and read["drift_report"]
    assert read["data_docs"] and read["data_docs_files"] > 3


def test_the_catalog_in_the_api_server_reads_the_bucket(runs) -> None:  # type: ignore[no-untyped-def]
    status, listing = runs["catalog"]
    assert status == 200, listing
    rows = {row["name"]: row for row in listing["models"]}
    assert rows[MODEL]["champion"] == 1, rows[MODEL]
    assert str(rows[MODEL]["last_scored"]).startswith(SCORE_DATE), rows[MODEL]


def test_the_spark_master_lists_the_runs_applications(runs, stack) -> None:  # type: ignore[no-untyped-def]
    status = svc.master_status(stack["spark_ui"])
    done = status["completedapps"] + status["activeapps"]
    spark_tasks = [t for run in ("training", "scoring") for t in runs[run]["tasks"]]
    assert len(status["completedapps"]) >= len(spark_tasks) // 2, [a["name"] for a in done]
    assert {a["name"] for a in done} == {"mlplatform"}
    assert any(a["id"] == runs["read"]["app_id"] for a in done)


def test_tasks_ran_on_both_celery_workers(runs) -> None:  # type: ignore[no-untyped-def]
    hosts = {
        t["hostname"] for run in ("training", "scoring") for t in runs[run]["tasks"].values() if t["hostname"]
    }
    assert hosts == {"worker1", "worker2"}, hosts
