"""The onboarding commands' contracts that need no JVM: exit codes, messages, the run environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlplatform.cli import main
from mlplatform.config.settings import PROJECT_ROOT
from mlplatform.onboarding.commands import run_environment


def test_a_bad_spec_exits_2_naming_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(
        "name: broken\nsource: {training: {path: a.csv}, scoring: {path: b.csv}}\n"
        "columns: {target: y, numeric: [x], numerik: [z]}\n"
    )
    assert main(["spec", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "columns.numerik" in err


def test_init_refuses_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["spec", "init", str(tmp_path / "nope.csv"), "--target", "y"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_run_environment_fills_in_the_makefile_defaults_only_where_unset() -> None:
    env = run_environment(
        {"AIRFLOW_HOME": "/custom/home", "MLP_STORAGE_ROOT": "/custom/lake", "PATH": "/bin"}
    )
    assert env["AIRFLOW_HOME"] == "/custom/home"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith("/custom/home/")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(PROJECT_ROOT / "dags")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["PATH"] == "/bin"
    defaults = run_environment({})
    assert defaults["AIRFLOW_HOME"] == str(PROJECT_ROOT / ".airflow")
    assert defaults["MLP_SPEC_DIR"] and defaults["MLP_JARS_DIR"]


def test_the_makefile_and_run_agree_on_airflow_settings() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    env = run_environment({})
    for name in ("AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__CORE__UNIT_TEST_MODE", "GX_ANALYTICS_ENABLED"):
        assert f"export {name} := {env[name]}" in makefile
    assert "export AIRFLOW__LOGGING__LOGGING_LEVEL ?= INFO" in makefile
    assert env["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "INFO", "every step's story, as under make"


def test_help_lists_the_onboarding_commands(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "spec" in out and "run" in out and "reproduce" in out
    with pytest.raises(SystemExit):
        main(["spec", "--help"])
    out = capsys.readouterr().out
    assert all(word in out for word in ("init", "check", "reference"))
