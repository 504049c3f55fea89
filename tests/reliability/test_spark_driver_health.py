"""A dead Spark driver does not poison the process: ``get_spark()`` replaces it with a fresh session.

Each scenario runs in its own Python process, so killing a JVM there never touches the session
the test process shares through the ``spark`` fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Shared by both scenarios: a warning collector, and a real platform step (Delta append + read back).
_PRELUDE = """
import json, logging, os, signal, sys, time

warnings = []

class Collect(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())

logging.getLogger("mlplatform.io.spark").addHandler(Collect())

from mlplatform.io.catalog import TableSpec
from mlplatform.io.delta import append_rows
from mlplatform.io.spark import get_spark

TABLE = TableSpec(ddl="id BIGINT, name STRING", append_only=True, doc="driver health probe")

def delta_step(spark, path):
    version = append_rows(spark, path, TABLE, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    rows = spark.read.format("delta").load(path).orderBy("id").collect()
    return version, [[r["id"], r["name"]] for r in rows]

def jvm_pid(spark):
    return spark.sparkContext._gateway.proc.pid
"""

_KILLED = """
spark = get_spark()
first_pid = jvm_pid(spark)
assert spark.range(10).count() == 10
os.kill(first_pid, signal.SIGKILL)
spark.sparkContext._gateway.proc.wait(timeout=60)
again = get_spark()
version, rows = delta_step(again, sys.argv[1])
print(json.dumps({"first_pid": first_pid, "second_pid": jvm_pid(again), "version": version,
                  "rows": rows, "warnings": warnings}))
"""

_STOPPED = """
spark = get_spark()
assert spark.range(10).count() == 10
spark.stop()
again = get_spark()
version, rows = delta_step(again, sys.argv[1])
quiet = list(warnings)
again.sparkContext.stop()  # the context alone, leaving the session object cached
third = get_spark()
print(json.dumps({"same_object": again is spark, "version": version, "rows": rows,
                  "quiet": quiet,
                  "third_is_new": third is not again, "third_count": third.range(5).count(),
                  "warnings": warnings}))
"""


def _run(scenario: str, tmp_path: Path) -> dict:
    env = os.environ.copy()
    env.update(
        {
            "MLP_SPARK_MASTER": "local[1]",
            "MLP_SPARK_SHUFFLE_PARTITIONS": "1",
            "MLP_STORAGE_ROOT": str(tmp_path / "lake"),
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        }
    )
    table = str(tmp_path / "lake" / "probe")
    result = subprocess.run(
        [sys.executable, "-c", _PRELUDE + scenario, table],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_killed_jvm_is_replaced_by_a_fresh_session(tmp_path: Path) -> None:
    out = _run(_KILLED, tmp_path)
    assert out["second_pid"] != out["first_pid"], "the second session must run on a new JVM"
    assert out["version"] == 1  # created (0), then one append (1)
    assert out["rows"] == [[1, "a"], [2, "b"]]
    assert any("dead" in w for w in out["warnings"]), out["warnings"]


def test_a_stopped_session_is_replaced_by_a_working_one(tmp_path: Path) -> None:
    out = _run(_STOPPED, tmp_path)
    assert out["same_object"] is False
    assert out["rows"] == [[1, "a"], [2, "b"]]
    assert out["version"] == 1
    assert out["quiet"] == [], "an orderly stop() is not reported as a dead driver"
    # A context stopped under a still-cached session is noticed too.
    assert out["third_is_new"] is True
    assert out["third_count"] == 5
    assert any("SparkContext is stopped" in w for w in out["warnings"]), out["warnings"]
