"""Real cluster services on 127.0.0.1 for the stack test, each started and stopped by process id.

Postgres (Debian's ``postgresql``), Redis (``redis-server``), an S3 server (moto's, from PyPI) and
a Spark standalone master and worker (``spark-class`` from the pyspark wheel). Every one listens
on loopback only, on a free port, with a random password or shared secret where it takes one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
POSTGRES_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_until(
    what: str, ready: Callable[[], bool], proc: subprocess.Popen, log: Path, timeout_s: float = 120
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{what} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            if ready():
                return
        except Exception:  # not answering yet
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {timeout_s:.0f}s: {log.read_text(errors='replace')[-2000:]}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


@dataclass
class Services:
    """The started services: their processes (stopped in reverse order) and connection details."""

    base: Path
    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)

    def start(
        self, name: str, command: list[str], *, env: dict[str, str] | None = None, user: str | None = None
    ) -> tuple[subprocess.Popen, Path]:
        log = self.base / f"{name}.log"
        if user is not None:
            command = ["runuser", "-u", user, "--", *command]
        proc = subprocess.Popen(
            command,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.procs.append((name, proc))
        return proc, log

    def stop(self) -> list[str]:
        """SIGTERM each service's process group, SIGKILL after 20 s; names of those still alive."""
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        stubborn = []
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                stubborn.append(name)
        return stubborn


def postgres(services: Services, password: str) -> str:
    """A fresh cluster with superuser ``airflow`` (scram-sha-256) and database ``airflow``; its URL."""
    if not POSTGRES_BIN:
        raise FileNotFoundError(
            "Postgres binaries not found under /usr/lib/postgresql (apt-get install postgresql)"
        )
    bin_dir = POSTGRES_BIN[-1]
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else None
    data = Path(tempfile.mkdtemp(prefix="mlp-pg-"))  # outside pytest's root-only tmp dirs
    services.details["postgres_dir"] = str(data)
    pwfile = data / "pw"
    pwfile.write_text(password + "\n")
    if as_root:
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    cluster = data / "cluster"
    init = ["runuser", "-u", "postgres", "--"] if as_root else []
    subprocess.run(
        [
            *init,
            str(bin_dir / "initdb"),
            "-D",
            str(cluster),
            "-U",
            "airflow",
            f"--pwfile={pwfile}",
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc, log = services.start(
        "postgres",
        [
            str(bin_dir / "postgres"),
            "-D",
            str(cluster),
            "-h",
            HOST,
            "-p",
            str(port),
            "-k",
            str(data),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
        user=user,
    )
    wait_until("postgres", lambda: port_open(port), proc, log)
    import psycopg2

    def connects() -> bool:
        psycopg2.connect(host=HOST, port=port, user="airflow", password=password, dbname="postgres").close()
        return True

    wait_until("postgres login", connects, proc, log)
    conn = psycopg2.connect(host=HOST, port=port, user="airflow", password=password, dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute("CREATE DATABASE airflow")
    conn.close()
    services.details["postgres_port"] = str(port)
    return f"{HOST}:{port}"


def redis(services: Services, password: str) -> str:
    port = free_port()
    proc, log = services.start(
        "redis",
        [
            "redis-server",
            "--bind",
            HOST,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            password,
            "--protected-mode",
            "yes",
        ],
    )
    wait_until("redis", lambda: port_open(port), proc, log)
    return f"{HOST}:{port}"


def s3_server(services: Services) -> str:
    """moto's S3 server (its own process); returns the endpoint URL."""
    port = free_port()
    proc, log = services.start("s3", [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)])
    wait_until("s3 server", lambda: port_open(port), proc, log)
    return f"http://{HOST}:{port}"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def spark_cluster(services: Services, secret: str, *, cores: int, memory: str) -> tuple[str, str]:
    """A standalone master and one worker with shared-secret authentication; (master URL, master UI URL)."""
    home = spark_home()
    port, ui_port, worker_ui = free_port(), free_port(), free_port()
    work_dir = services.base / "spark-work"
    work_dir.mkdir(exist_ok=True)
    auth = f"-Dspark.authenticate=true -Dspark.authenticate.secret={secret}"
    env = {
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_MASTER_OPTS": auth,
        # Each application fetches the driver's jars (Delta, hadoop-aws, the AWS SDK: ~560 MB); a
        # finished application's copy is removed a minute later so the disk does not fill.
        "SPARK_WORKER_OPTS": f"{auth} -Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.interval=60"
        " -Dspark.worker.cleanup.appDataTtl=60",
        "PYSPARK_PYTHON": sys.executable,
    }
    spark_class = str(home / "bin" / "spark-class")
    master, log = services.start(
        "spark-master",
        [
            spark_class,
            "org.apache.spark.deploy.master.Master",
            "--host",
            HOST,
            "--port",
            str(port),
            "--webui-port",
            str(ui_port),
        ],
        env=env,
    )
    ui = f"http://{HOST}:{ui_port}"
    wait_until("spark master", lambda: port_open(port) and port_open(ui_port), master, log)
    url = f"spark://{HOST}:{port}"
    worker, wlog = services.start(
        "spark-worker",
        [
            spark_class,
            "org.apache.spark.deploy.worker.Worker",
            "--cores",
            str(cores),
            "--memory",
            memory,
            "--work-dir",
            str(work_dir),
            "--webui-port",
            str(worker_ui),
            "--host",
            HOST,
            url,
        ],
        env=env,
    )
    wait_until("spark worker registration", lambda: len(master_status(ui)["workers"]) == 1, worker, wlog)
    return url, ui


def master_status(ui: str) -> dict:
    with urllib.request.urlopen(f"{ui}/json/", timeout=5) as response:
        return json.loads(response.read())
