"""``make ui``: Airflow's api-server, scheduler, dag-processor and triggerer, ready when it says so.

With ``--celery-workers N`` (and ``AIRFLOW__CORE__EXECUTOR=CeleryExecutor`` plus a broker in the
environment) it also starts N Celery workers, named ``worker1`` … on their task instances.

- Every component runs in a session of its own, so Ctrl-C reaches this launcher only; it then
  stops them all, and with them every process they started (the executor's task supervisors,
  the tasks' Spark JVMs and Python workers): each carries this launch's ``MLP_UI_SESSION`` in
  its environment, so nothing that came from here is left running, orphans included.
- The URL is printed once ``/api/v2/monitor/health`` reports every component healthy.
- The JWT secret is random per install, kept in ``$AIRFLOW_HOME/jwt_secret`` (mode 0600) unless
  ``AIRFLOW__API_AUTH__JWT_SECRET`` is set; nothing ships a default.
- Component logs go to ``$AIRFLOW_HOME/logs/ui/<component>.log``; task logs are where the UI
  reads them, under ``$AIRFLOW_HOME/logs/dag_id=.../run_id=.../task_id=.../attempt=N.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
SESSION_VARIABLE = "MLP_UI_SESSION"


def jwt_secret(home: Path) -> str:
    """This install's JWT signing secret: made once with ``secrets``, stored readable by its owner only."""
    path = home / "jwt_secret"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(64))
    return path.read_text().strip()


def login_hint(home: Path) -> str:
    """Who can sign in: the simple auth manager's users and where their passwords are."""
    path = Path(
        os.environ.get(
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", home / "simple_auth_manager_passwords.json"
        )
    )
    try:
        users = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"passwords in {path}"
    return "; ".join(f"user {user}, password {password}" for user, password in users.items())


def health(url: str) -> dict[str, str]:
    """Each component's status from the api-server's health endpoint ({} while it does not answer)."""
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return {}
    return {name: str((body.get(name) or {}).get("status")) for name in HEALTH_COMPONENTS}


def session_processes(session: str) -> list:  # type: ignore[type-arg]
    """Every live process started from this launch (found by the marker in its environment)."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(SESSION_VARIABLE) == session:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def stop_all(procs: dict[str, subprocess.Popen], session: str, grace_s: float = 20.0) -> int:
    """SIGTERM the components and all their descendants, SIGKILL what is left after ``grace_s``;
    returns how many processes had to be killed."""
    import psutil

    for proc in procs.values():
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    _, alive = psutil.wait_procs([psutil.Process(p.pid) for p in procs.values() if p.poll() is None], grace_s)
    leftovers = session_processes(session)
    for proc in leftovers:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, stubborn = psutil.wait_procs(leftovers, timeout=10)
    for proc in [*alive, *stubborn]:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    for proc in procs.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    return len(alive) + len(stubborn)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-workers", type=int, default=2, help="api-server worker processes")
    parser.add_argument("--ready-timeout", type=float, default=300.0, help="seconds to wait for health")
    parser.add_argument(
        "--celery-workers",
        type=int,
        default=int(os.environ.get("UI_CELERY_WORKERS", "0")),
        help="Celery workers to start (with AIRFLOW__CORE__EXECUTOR=CeleryExecutor); 0: none",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=int(os.environ.get("UI_WORKER_CONCURRENCY", "2")),
        help="task slots per Celery worker",
    )
    args = parser.parse_args()

    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    logs = home / "logs" / "ui"
    logs.mkdir(parents=True, exist_ok=True)
    url = f"http://{args.host}:{args.port}"
    session = uuid.uuid4().hex
    env = {
        **os.environ,
        SESSION_VARIABLE: session,
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
    }
    env.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", jwt_secret(home))
    airflow = [sys.executable, "-m", "airflow"]
    commands = {
        "api-server": [
            *airflow,
            "api-server",
            "--host",
            args.host,
            "--port",
            str(args.port),
            "--workers",
            str(args.api_workers),
        ],
        "scheduler": [*airflow, "scheduler"],
        "dag-processor": [*airflow, "dag-processor"],
        "triggerer": [*airflow, "triggerer"],
    }
    for number in range(1, args.celery_workers + 1):
        name = f"worker{number}"
        commands[name] = [
            *airflow,
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--concurrency",
            str(args.worker_concurrency),
            "--skip-serve-logs",  # workers share this machine's log folder, which the api-server reads
        ]
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for name, command in commands.items():
            log_file = (logs / f"{name}.log").open("a")
            # Workers sharing one machine need their own names on the task instances they run.
            component_env = {**env, "MLP_WORKER_HOSTNAME": name} if name.startswith("worker") else env
            procs[name] = subprocess.Popen(
                command, env=component_env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
            )
        print(f"Starting Airflow ({', '.join(commands)}); component logs in {logs}", flush=True)
        deadline = time.monotonic() + args.ready_timeout
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                    print(f"ERROR: airflow {name} exited with {proc.returncode}:\n{tail}", file=sys.stderr)
                    return 1
            status = health(url)
            if status and all(s == "healthy" for s in status.values()):
                break
            if time.monotonic() > deadline:
                print(f"ERROR: not healthy after {args.ready_timeout:.0f}s: {status}", file=sys.stderr)
                return 1
            time.sleep(2)
        print(f"Airflow UI ready on {url}  ({login_hint(home)})")
        print(f"health: {status}; Ctrl-C stops everything it started.", flush=True)
        while all(proc.poll() is None for proc in procs.values()):
            time.sleep(1)
        gone = [name for name, proc in procs.items() if proc.poll() is not None]
        print(f"ERROR: airflow {', '.join(gone)} exited; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopping Airflow and the tasks it runs ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        killed = stop_all(procs, session)
        left = session_processes(session)
        print(f"stopped ({killed} process(es) needed SIGKILL; {len(left)} left)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
