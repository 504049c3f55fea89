"""The ``mlplatform`` console script, as a user runs it (installed by pyproject's [project.scripts])."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mlplatform.io.catalog import markdown_table


def _mlplatform(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("mlplatform", path=str(Path(sys.executable).parent))
    assert exe, "the console script is not installed (pip install -e .)"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )


def test_help_lists_the_commands() -> None:
    out = _mlplatform("--help")
    assert out.returncode == 0
    for command in (
        "jars",
        "tables",
        "spec-schema",
        "catalog",
        "demo-data",
        "retire",
        "reproduce",
        "summary",
    ):
        assert command in out.stdout


def test_tables_prints_the_catalog() -> None:
    out = _mlplatform("tables")
    assert out.returncode == 0 and out.stdout.rstrip("\n") == markdown_table()


def test_demo_data_writes_the_files_it_reports(tmp_path: Path) -> None:
    args = ["demo-data", "--model", "churn_demo", "--train-rows", "600", "--batch-rows", "100"]
    out = _mlplatform(
        *args, "--clean", "2026-11-02", "--drifted", "2026-11-03", MLP_STORAGE_ROOT=str(tmp_path)
    )
    assert out.returncode == 0, out.stderr
    reported = dict(line.split(": ", 1) for line in out.stdout.strip().splitlines())
    assert set(reported) == {"training", "2026-11-02", "2026-11-03", "labels:2026-11-03", "labels:2026-11-04"}
    for path in reported.values():
        assert Path(path).is_file() and Path(path).is_relative_to(tmp_path / "landing" / "churn_demo")
    assert len(Path(reported["training"]).read_text().splitlines()) == 601
    assert len(Path(reported["2026-11-03"]).read_text().splitlines()) == 101


def test_an_unknown_command_is_a_usage_error() -> None:
    out = _mlplatform("trian")
    assert out.returncode == 2 and "invalid choice: 'trian'" in out.stderr
