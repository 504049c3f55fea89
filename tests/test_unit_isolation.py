"""``tests/unit`` is pure Python: it passes with pyspark, airflow, delta and GX unimportable."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import PROJECT_ROOT


def test_unit_tests_pass_without_a_jvm_or_airflow() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYSPARK"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "tests.isolation_guard", "-x"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
