"""The platform as a user runs it: ``make ui``, then the REST API, then Airflow's own views.

The fixture starts ``make ui`` itself (its own Airflow home, SQLite, the LocalExecutor) and waits
for its "ready" line. Then, through the README's REST calls: a training run whose conf claims
``trigger_source: policy`` (lineage must still say ``api`` and the user), then the scoring DAG is
unpaused: the scheduler starts the latest night's run, whose batch never landed, and its ingest
must fail on the first try, without a retry. The training run's task logs are read back through
the REST API as the UI shows them. The last test stops ``make ui``
with Ctrl-C while a task runs and finds no process of the stack left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL = "churn_demo"
DAG_ID = f"{MODEL}_training"
SCORING_DAG_ID = f"{MODEL}_scoring"
REASON = "drift on monthly_charges (REST API test)"
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
        return 0, str(err)


def _wait_for(what: str, check, timeout_s: float, stack: dict[str, Any]) -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        proc = stack["proc"]
        assert proc.poll() is None, (
            f"make ui exited with {proc.returncode} waiting for {what}: {_tail(stack)}"
        )
        result = check()
        if result:
            return result
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}: {_tail(stack)}")


def _tail(stack: dict[str, Any]) -> str:
    return stack["log"].read_text(errors="replace")[-3000:]


def stack_processes(home: Path) -> list:  # type: ignore[type-arg]
    """Live processes of the stack: everything whose environment names its Airflow home."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "name"]):
        try:
            if proc.environ().get("AIRFLOW_HOME") == str(home):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def stop_stack(stack: dict[str, Any], timeout_s: float = 90) -> float:
    """Ctrl-C on ``make ui`` (SIGINT to its process group); seconds until make exited."""
    proc = stack["proc"]
    started = time.monotonic()
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def airflow_servers(tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.demo.data import write_demo_landing
    from mlplatform.io.layout import StorageLayout

    base = tmp_path_factory.mktemp("ui")
    home, root = base / "airflow", base / "lake"
    write_demo_landing(StorageLayout(str(root)).landing_dir(MODEL), 3000, 500, {}, seed=31)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW__", "MLP_")) and key not in ("AIRFLOW_HOME", "MAKEFLAGS", "MAKELEVEL")
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # The DAG files do not change during the test: parse them once, not every 30 s, so the
            # dag-processor leaves the 2 cores to the tasks.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
            "MLP_STORAGE_ROOT": str(root),
            "MLP_SPARK_MASTER": "local[2]",
            "MLP_SPARK_SHUFFLE_PARTITIONS": "2",
        }
    )
    log = base / "make-ui.log"
    proc = subprocess.Popen(
        ["make", "-s", "ui", f"UI_PORT={port}"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack = {"url": url, "root": root, "home": home, "proc": proc, "log": log}
    try:
        _wait_for("make ui to say it is ready", lambda: "Airflow UI ready on" in log.read_text(), 600, stack)
        passwords = json.loads((home / "simple_auth_manager_passwords.json").read_text())
        stack["password"] = passwords["admin"]
        yield stack
    finally:
        stop_stack(stack)


def _token(stack: dict[str, Any]) -> str:
    status, body = _call(
        "POST", f"{stack['url']}/auth/token", {"username": "admin", "password": stack["password"]}
    )
    assert status in (200, 201), body
    return str(body["access_token"])


def _wait_run(stack: dict[str, Any], dag_id: str, run_id: str, token: str, timeout_s: float = 900) -> dict:
    url = stack["url"]

    def finished() -> dict | None:
        code, state = _call("GET", f"{url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", token=token)
        return state if code == 200 and state["state"] in ("success", "failed") else None

    return _wait_for(f"run {run_id} of {dag_id} to finish", finished, timeout_s, stack)


def _tasks(stack: dict[str, Any], dag_id: str, run_id: str, token: str) -> dict[str, dict]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
    _, body = _call("GET", stack["url"] + path, token=token)
    return {t["task_id"]: t for t in body["task_instances"]}


def task_log(
    stack: dict[str, Any], dag_id: str, run_id: str, task_id: str, token: str, tries: int = 1
) -> list:  # type: ignore[type-arg]
    """The structured log lines of one try, as the UI's log view gets them."""
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{tries}"
    status, body = _call("GET", stack["url"] + path, token=token)
    assert status == 200, body
    return [line for line in body["content"] if isinstance(line, dict)]


@pytest.fixture(scope="module")
def api_run(airflow_servers) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    stack, url = airflow_servers, airflow_servers["url"]
    token = _token(stack)
    _wait_for(
        f"{DAG_ID} to be parsed",
        lambda: _call("GET", f"{url}/api/v2/dags/{DAG_ID}", token=token)[0] == 200,
        180,
        stack,
    )
    status, run = _call(
        "POST",
        f"{url}/api/v2/dags/{DAG_ID}/dagRuns",
        # A caller who claims the retraining policy started the run: Airflow knows better.
        {"logical_date": None, "conf": {"reason": REASON, "trigger_source": "policy"}},
        token,
    )
    assert status in (200, 201), run
    final = _wait_run(stack, DAG_ID, run["dag_run_id"], token)
    tasks = _tasks(stack, DAG_ID, run["dag_run_id"], token)
    return {"run": run, "final": final, "tasks": tasks, "root": stack["root"], "url": url, "token": token}


@pytest.fixture(scope="module")
def scoring_runs(api_run, airflow_servers) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Unpause scoring: the scheduler starts the latest night's run, whose batch never landed."""
    stack, url, token = airflow_servers, api_run["url"], _token(airflow_servers)
    status, body = _call("PATCH", f"{url}/api/v2/dags/{SCORING_DAG_ID}", {"is_paused": False}, token)
    assert status == 200, body

    def scheduled() -> dict | None:
        _, runs = _call("GET", f"{url}/api/v2/dags/{SCORING_DAG_ID}/dagRuns?run_type=scheduled", token=token)
        return runs["dag_runs"][0] if isinstance(runs, dict) and runs["dag_runs"] else None

    latest = _wait_for("the scheduler's run of the latest night", scheduled, 120, stack)
    final = _wait_run(stack, SCORING_DAG_ID, latest["dag_run_id"], token)
    tasks = _tasks(stack, SCORING_DAG_ID, latest["dag_run_id"], token)
    return {"scheduled": {**final, "tasks": tasks}, "token": token, "stack": stack}


def test_make_ui_reports_every_component_healthy(airflow_servers) -> None:  # type: ignore[no-untyped-def]
    status, health = _call("GET", f"{airflow_servers['url']}/api/v2/monitor/health")
    assert status == 200, health
    states = {
        name: health[name]["status"] for name in ("metadatabase", "scheduler", "triggerer", "dag_processor")
    }
    assert set(states.values()) == {"healthy"}, states
    secret = airflow_servers["home"] / "jwt_secret"
    assert secret.stat().st_mode & 0o077 == 0 and len(secret.read_text().strip()) >= 48
    assert airflow_servers["password"] != "admin", "no default admin password"


def test_rest_triggered_run_succeeds(api_run) -> None:  # type: ignore[no-untyped-def]
    states = {name: t["state"] for name, t in api_run["tasks"].items()}
    assert api_run["final"]["state"] == "success", states
    assert api_run["run"]["triggered_by"] == "rest_api"
    assert api_run["run"]["conf"]["reason"] == REASON


def test_lineage_records_airflows_trigger_not_the_conf_and_the_user(api_run, spark) -> None:  # type: ignore[no-untyped-def]
    root = api_run["root"]
    run_id = api_run["run"]["dag_run_id"]
    lineage = spark.read.format("delta").load(str(root / "delta" / "platform" / "lineage"))
    rows = lineage.where(f"run_id = '{run_id}'").collect()
    assert {r["task_id"] for r in rows} >= {"ingest", "train", "register", "promote"}
    assert {r["trigger_type"] for r in rows} == {"api"}, "conf said policy; Airflow said rest_api"
    assert {r["triggered_by"] for r in rows} == {"admin"}
    assert all(json.loads(r["params"])["conf"]["reason"] == REASON for r in rows)
    registered = next(r for r in rows if r["task_id"] == "register")
    assert registered["model_version"] == 1
    registry = spark.read.format("delta").load(str(root / "delta" / "platform" / "model_registry"))
    entry = registry.where("event = 'registered'").first()
    assert (entry["version"], entry["reason"], entry["actor"]) == (1, REASON, "admin")
    audit = spark.read.format("delta").load(str(root / "delta" / "platform" / "audit"))
    trigger = audit.where(f"run_id = '{run_id}' AND action = 'trigger'").collect()
    assert [(t["source"], t["actor"]) for t in trigger] == [("api", "admin")]


def _levels_and_events(lines: list) -> tuple[set[str], str]:  # type: ignore[type-arg]
    return {str(line.get("level", "")).lower() for line in lines}, "\n".join(
        str(line.get("event")) for line in lines
    )


TRAINING_STEPS = ("ingest", "validate", "build_features", "train", "evaluate", "register", "explain", "gate")


def test_a_training_runs_task_logs_tell_the_story_without_errors(api_run, airflow_servers) -> None:  # type: ignore[no-untyped-def]
    """Under the real supervisor, where the JVM's stderr used to make every line an ERROR. (A
    scoring run's logs, rows scored included, are checked in tests/e2e/test_lifecycle.py.)"""
    run_id, token = api_run["run"]["dag_run_id"], api_run["token"]
    logs = {task: task_log(airflow_servers, DAG_ID, run_id, task, token) for task in TRAINING_STEPS}
    for task, lines in logs.items():
        levels, text = _levels_and_events(lines)
        assert "error" not in levels and "critical" not in levels, f"{task}: {text[-3000:]}"
        assert f"{task} done. Summary (the task's XCom):" in text, task
        assert "Using Spark's default log4j profile" not in text and "NativeCodeLoader" not in text
    _, ingest = _levels_and_events(logs["ingest"])
    assert "ingested 3000 rows of" in ingest and "wrote bronze version 0" in ingest
    _, validate = _levels_and_events(logs["validate"])
    assert "input bronze:" in validate and "(Delta version 0)" in validate
    assert " passed, " in validate and " quarantined (" in validate and "top reasons:" in validate
    _, train = _levels_and_events(logs["train"])
    assert "input features:" in train and "trained on " in train
    _, register = _levels_and_events(logs["register"])
    assert "registered version 1 of churn_demo" in register and "  version: 1" in register


def test_a_missing_batch_fails_its_ingest_on_the_first_try_without_retry(scoring_runs) -> None:  # type: ignore[no-untyped-def]
    latest = scoring_runs["scheduled"]
    ingest = latest["tasks"]["ingest"]
    assert latest["state"] == "failed"
    assert (ingest["state"], ingest["try_number"], ingest["max_tries"]) == ("failed", 1, 1)
    lines = task_log(
        scoring_runs["stack"], SCORING_DAG_ID, latest["dag_run_id"], "ingest", scoring_runs["token"]
    )
    _, text = _levels_and_events(lines)
    assert "ingest failed with a permanent SourceError (not retried): cannot read source file" in text
    assert f"batches/{latest['logical_date'][:10]}.csv" in text


def _catalog_paths() -> list[str]:
    """Every route of the catalog as mounted, with sample path parameters."""
    from airflow_glue.catalog_plugin import URL_PREFIX, ModelCatalogPlugin

    app = ModelCatalogPlugin.fastapi_apps[0]["app"]
    samples = {"{model}": MODEL, "{version}": "1", "{dag_id}": DAG_ID, "{run_id:path}": "manual__x"}
    paths = []
    for route in app.routes:
        if getattr(route, "include_in_schema", False):
            path = route.path.replace("{score_date}", "2026-11-02")
            for name, value in samples.items():
                path = path.replace(name, value)
            paths.append(URL_PREFIX + path)
    return paths


def test_every_catalog_route_refuses_a_missing_or_bad_token(airflow_servers) -> None:  # type: ignore[no-untyped-def]
    import jwt

    url = airflow_servers["url"]
    forged = jwt.encode(
        {"sub": "admin", "role": "ADMIN", "aud": "apache-airflow"}, "not-the-secret-" * 8, "HS512"
    )
    paths = _catalog_paths()
    assert len(paths) >= 12
    for path in paths:
        assert _call("GET", f"{url}{path}")[0] == 401, path
        assert _call("GET", f"{url}{path}", token="not-a-jwt")[0] in (401, 403), path
        assert _call("GET", f"{url}{path}", token=forged)[0] in (401, 403), path
    status, listing = _call("GET", f"{url}/mlplatform/api/models", token=_token(airflow_servers))
    assert status == 200 and "models" in listing


def test_catalog_and_task_log_in_a_browser(api_run, airflow_servers) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    url, run_id = api_run["url"], api_run["run"]["dag_run_id"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/mlplatform/models", wait_until="load")
            page.click("#sign-in")  # the catalog sends a signed-out browser to Airflow's login
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", airflow_servers["password"])
            page.click("button[type=submit]")
            page.wait_for_url("**/mlplatform/models", timeout=60_000)
            row = page.locator(f"tr[data-model={MODEL}]")
            assert row.locator("td.champion").inner_text().startswith("v1")
            page.goto(f"{url}/plugin/models")  # the same page inside Airflow's navigation
            page.frame_locator("iframe[title=Models]").locator(f"tr[data-model={MODEL}]").wait_for(
                timeout=60_000
            )
            page.screenshot(path=str(SCREENSHOTS / "catalog_models.png"))
            page.goto(f"{url}/mlplatform/models/{MODEL}/versions/1")
            beeswarm = page.locator("#shap-beeswarm")
            beeswarm.wait_for()
            assert beeswarm.evaluate("img => img.complete && img.naturalWidth") > 0
            page.screenshot(path=str(SCREENSHOTS / "catalog_version.png"), full_page=True)
            page.click("text=lineage graph")
            graph = page.locator("svg#lineage-graph")
            graph.wait_for()
            assert graph.locator("a[href*='/versions/1']").count() >= 1
            assert graph.locator("text=bronze v").count() >= 1
            page.screenshot(path=str(SCREENSHOTS / "catalog_lineage.png"), full_page=True)
            page.goto(f"{url}/dags/{DAG_ID}/runs/{run_id}/plugin/catalog")  # the run view's catalog tab
            tab = page.frame_locator("iframe[title='Model catalog']")
            tab.locator("#shap-beeswarm").wait_for(timeout=60_000)
            page.screenshot(path=str(SCREENSHOTS / "catalog_run_tab.png"))
            page.goto(f"{url}/dags/{DAG_ID}/runs/{run_id}/tasks/validate")  # the task's log view
            page.get_by_text("validate done. Summary").first.wait_for(timeout=60_000)
            page.screenshot(path=str(SCREENSHOTS / "task_log_validate.png"))
        finally:
            browser.close()
    names = ("catalog_models", "catalog_version", "catalog_lineage", "catalog_run_tab", "task_log_validate")
    for name in names:
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000, name


def test_ctrl_c_on_make_ui_stops_the_stack_and_the_tasks_it_runs(
    api_run, scoring_runs, airflow_servers
) -> None:  # type: ignore[no-untyped-def]
    """Last in the module: Ctrl-C while a training run's Spark-backed task is running."""
    stack, url, token = airflow_servers, api_run["url"], _token(airflow_servers)
    status, run = _call("POST", f"{url}/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None}, token)
    assert status in (200, 201), run

    def spark_driver_running() -> bool:
        return any("java" in (p.info["name"] or "") for p in stack_processes(stack["home"]))

    _wait_for("a task's Spark driver to run", spark_driver_running, 300, stack)
    before = len(stack_processes(stack["home"]))
    took = stop_stack(stack)
    assert stack["proc"].returncode is not None
    time.sleep(2)
    left = [(p.pid, p.info["name"]) for p in stack_processes(stack["home"]) if p.is_running()]
    assert left == [], f"{len(left)} of {before} processes outlived make ui ({took:.0f}s to stop)"
    assert "Stopping Airflow and the tasks it runs" in _tail(stack)
