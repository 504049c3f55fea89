"""API-triggered retraining against a real Airflow: api-server, scheduler and dag-processor on 127.0.0.1.

Follows the README's REST call exactly: get a token, ``POST /api/v2/dags/{dag_id}/dagRuns`` with a
reason in ``conf``, poll until the run ends, then check that the new version's lineage records
trigger type ``api``, the user, and the reason. The servers get their own Airflow home (SQLite) and
run tasks with the LocalExecutor, each in its own process, as a user's ``make ui`` does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
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
REASON = "drift on monthly_charges (REST API test)"
JWT_SECRET = "rest-api-test-secret"
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


@pytest.fixture(scope="module")
def airflow_servers(tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.demo.data import write_demo_landing
    from mlplatform.io.layout import StorageLayout

    base = tmp_path_factory.mktemp("rest")
    home, root, logs = base / "airflow", base / "lake", base / "logs"
    for folder in (home, logs):
        folder.mkdir()
    write_demo_landing(StorageLayout(str(root)).landing_dir(MODEL), 3000, 500, {}, seed=31)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    (home / "passwords.json").write_text(json.dumps({"admin": "admin"}))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "MLP_STORAGE_ROOT": str(root),
        "MLP_SPARK_MASTER": "local[2]",
        "MLP_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    env.pop("MLP_SPEC_DIR", None)
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
        yield {"url": url, "root": root, "procs": procs, "logs": logs}
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
def api_run(airflow_servers) -> dict[str, Any]:  # type: ignore[no-untyped-def]
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
    status, body = _call("PATCH", f"{url}/api/v2/dags/{DAG_ID}", {"is_paused": False}, token)
    assert status == 200, body
    status, run = _call(
        "POST",
        f"{url}/api/v2/dags/{DAG_ID}/dagRuns",
        {"logical_date": None, "conf": {"reason": REASON, "trigger_source": "api"}},
        token,
    )
    assert status in (200, 201), run
    run_id = run["dag_run_id"]

    def finished() -> dict | None:
        code, state = _call("GET", f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", token=token)
        return state if code == 200 and state["state"] in ("success", "failed") else None

    final = _wait_for(f"run {run_id} to finish", finished, 900, procs)
    _, tasks = _call("GET", f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", token=token)
    return {"run": run, "final": final, "tasks": tasks, "root": airflow_servers["root"], "url": url}


def test_rest_triggered_run_succeeds(api_run) -> None:  # type: ignore[no-untyped-def]
    states = {t["task_id"]: t["state"] for t in api_run["tasks"]["task_instances"]}
    assert api_run["final"]["state"] == "success", states
    assert api_run["run"]["triggered_by"] == "rest_api"
    assert api_run["run"]["conf"]["reason"] == REASON


def test_lineage_records_api_trigger_and_reason(api_run, spark) -> None:  # type: ignore[no-untyped-def]
    root = api_run["root"]
    run_id = api_run["run"]["dag_run_id"]
    lineage = spark.read.format("delta").load(str(root / "delta" / "platform" / "lineage"))
    rows = lineage.where(f"run_id = '{run_id}'").collect()
    assert {r["task_id"] for r in rows} >= {"ingest", "train", "register", "promote"}
    assert {r["trigger_type"] for r in rows} == {"api"}
    assert {r["triggered_by"] for r in rows} == {"admin"}
    assert all(json.loads(r["params"])["conf"]["reason"] == REASON for r in rows)
    registered = next(r for r in rows if r["task_id"] == "register")
    assert registered["model_version"] == 1
    registry = spark.read.format("delta").load(str(root / "delta" / "platform" / "model_registry"))
    entry = registry.where("event = 'registered'").first()
    assert (entry["version"], entry["reason"], entry["actor"]) == (1, REASON, "admin")


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

    url, procs = airflow_servers["url"], airflow_servers["procs"]
    _wait_for("the api-server", lambda: _call("GET", f"{url}/api/v2/version")[0] == 200, 180, procs)
    forged = jwt.encode({"sub": "admin", "role": "ADMIN", "aud": "apache-airflow"}, "not-the-secret", "HS512")
    paths = _catalog_paths()
    assert len(paths) >= 12
    for path in paths:
        assert _call("GET", f"{url}{path}")[0] == 401, path
        assert _call("GET", f"{url}{path}", token="not-a-jwt")[0] in (401, 403), path
        assert _call("GET", f"{url}{path}", token=forged)[0] in (401, 403), path
    _, body = _call("POST", f"{url}/auth/token", {"username": "admin", "password": "admin"})
    status, listing = _call("GET", f"{url}/mlplatform/api/models", token=body["access_token"])
    assert status == 200 and "models" in listing


def test_catalog_in_a_browser_shows_the_champion_its_shap_and_its_lineage(api_run) -> None:  # type: ignore[no-untyped-def]
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
            page.fill("input[name=password]", "admin")
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
        finally:
            browser.close()
    for name in ("catalog_models", "catalog_version", "catalog_lineage", "catalog_run_tab"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000, name
