"""Shared fixtures: one SparkSession per test process and an isolated storage root."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"

# Airflow reads its home and config when first imported: point it at a private, throwaway home
# (SQLite metadata) before any test module imports airflow.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="mlp-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PROJECT_ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
_include = str(PROJECT_ROOT / "include")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [_include, os.environ.get("PYTHONPATH", "")] if p)


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated Airflow metadata database (SQLite) in the private Airflow home."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mlp")


@pytest.fixture(scope="session")
def spark(session_tmp: Path):  # type: ignore[no-untyped-def]
    """The process's one SparkSession (2 local cores, UI off, 2 shuffle partitions)."""
    os.environ.setdefault("MLP_SPARK_MASTER", "local[2]")
    os.environ.setdefault("MLP_SPARK_SHUFFLE_PARTITIONS", "2")
    from mlplatform.settings import get_settings
    from mlplatform.spark import get_spark

    get_settings.cache_clear()
    session = get_spark()
    yield session
    session.stop()


@pytest.fixture()
def storage_root(tmp_path: Path) -> Iterator[str]:
    """A fresh storage root for one test."""
    root = tmp_path / "lake"
    root.mkdir()
    yield str(root)


@pytest.fixture(scope="session")
def telco_csv() -> Path:
    path = SHARED_DATASETS / "telco_customer_churn.csv"
    if not path.exists():
        pytest.skip(f"shared dataset {path} is absent")
    return path
