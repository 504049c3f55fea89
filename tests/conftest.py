"""Shared fixtures: one SparkSession per test process and an isolated storage root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"


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
