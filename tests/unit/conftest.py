"""Unit tests: pure Python. ``tests/test_unit_isolation.py`` runs this tree with pyspark and airflow
made unimportable, so a unit test that reaches for a JVM or Airflow fails there."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The small delta-rs lake of ``tests/unit/small_lake.py``, written once per session."""
    from tests.unit.small_lake import build_lake

    return build_lake(str(tmp_path_factory.mktemp("lake")))
