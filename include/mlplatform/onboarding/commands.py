"""The onboarding subcommands of ``mlplatform``: ``spec init``, ``spec check``, ``spec reference``
and ``run``; ``mlplatform.cli`` registers them with ``register``."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from mlplatform.config.settings import PROJECT_ROOT, get_settings
from mlplatform.onboarding.profile import DEFAULT_SAMPLE_ROWS

REFERENCE_PATH = PROJECT_ROOT / "docs" / "spec_reference.md"


def cmd_spec_init(args: argparse.Namespace) -> int:
    """Profile a sample of DATA with Spark and write a commented draft spec; exit 2 when it cannot."""
    from mlplatform.config.specs import SpecError, load_spec
    from mlplatform.io.spark import get_spark
    from mlplatform.onboarding.draft import render, source_template
    from mlplatform.onboarding.plan import plan_spec
    from mlplatform.onboarding.profile import profile_file

    settings = get_settings()
    data = args.data
    if "://" not in data and not Path(data).exists():
        print(f"spec init: data file {data} does not exist", file=sys.stderr)
        return 2
    uri = data if "://" in data else str(Path(data).resolve())
    try:
        profile = profile_file(get_spark(settings), uri, args.target, sample_rows=args.sample_rows)
        plan = plan_spec(profile, args.name or Path(data.rstrip("/")).stem)
    except ValueError as exc:
        print(f"spec init: {exc}", file=sys.stderr)
        return 2
    training_path, note = source_template(
        data, datasets_dir=str(settings.datasets_dir), storage_root=settings.storage_root
    )
    output = Path(args.output) if args.output else Path(settings.spec_dir) / f"{plan.name}.yaml"
    text = render(
        plan,
        training_path=training_path,
        path_note=note,
        fmt=profile["source"]["format"],
        data_path=data,
        spec_path=str(output),
    )
    if output.exists() and not args.force:
        print(f"spec init: {output} exists; choose --output or pass --force", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:  # the draft must load before it is written
        trial = Path(tmp) / f"{plan.name}.yaml"
        trial.write_text(text)
        try:
            load_spec(trial)
        except SpecError as exc:
            print(f"spec init: the draft does not load (a bug, please report):\n{exc}", file=sys.stderr)
            return 2
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(_init_summary(plan, profile, output))
    return 0


def _init_summary(plan: object, profile: dict, output: Path) -> str:
    p = plan  # a Plan; typed loosely to keep the import lazy
    lines = [
        f"profiled {profile['rows']} of {profile['file_rows']} rows of {profile['source']['uri']}",
        f"  task: {p.task}; target: {p.target}"
        + (f" (positive {p.positive!r})" if p.task == "binary" else "")
        + (f" (classes {p.classes})" if p.task == "multiclass" else ""),
        f"  id: {p.id or '(none: rows get a content key)'}",
        f"  numeric ({len(p.numeric)}): {', '.join(p.numeric)}",
        f"  categorical ({len(p.categorical)}): {', '.join(p.categorical)}",
    ]
    if p.timestamps:
        lines.append(f"  timestamps: {', '.join(p.timestamps)}")
    if p.rename:
        lines.append("  renamed: " + ", ".join(f"{s} -> {d}" for s, d in p.rename.items()))
    if p.missing_values:
        lines.append(
            "  missing codes (REVIEW): " + "; ".join(f"{k}: {v}" for k, v in p.missing_values.items())
        )
    for name, why in p.excluded:
        lines.append(f"  left out: {name}: {why}")
    if p.duplicate_rows:
        lines.append(f"  exact duplicate rows in the sample: {p.duplicate_rows}")
    lines.append(f"wrote {output}: review the lines marked REVIEW, then `mlplatform spec check {output}`")
    return "\n".join(lines)


def cmd_spec_check(args: argparse.Namespace) -> int:
    """Dry-run a spec on a sample: 0 when the batch would pass validation, 1 when not, 2 for a bad spec."""
    from mlplatform.config.specs import SpecError, load_spec
    from mlplatform.core.errors import ConfigError, DataProblem
    from mlplatform.io.spark import get_spark
    from mlplatform.onboarding.check import check_spec, format_report

    try:
        spec = load_spec(args.spec)
    except SpecError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    settings = get_settings()
    try:
        report = check_spec(get_spark(settings), spec, settings, data=args.data, sample_rows=args.sample_rows)
    except DataProblem as exc:  # unreadable file, missing column: the batch would fail
        print(f"spec check: FAIL: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, ValueError) as exc:  # a refused source path, an unknown expectation
        print(f"spec check: model spec {args.spec}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(format_report(report))
    return 0 if report["passed"] else 1


def cmd_spec_reference(args: argparse.Namespace) -> int:
    """Write (or print) the Markdown reference of every spec field."""
    from mlplatform.onboarding.reference import render_reference

    text = render_reference()
    if args.output == "-":
        print(text, end="")
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    return 0


def run_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment ``make demo`` gives a DAG run (Makefile), for the variables not already set."""
    from mlplatform.config.settings import Settings

    env = dict(os.environ if environ is None else environ)
    home = env.get("AIRFLOW_HOME") or str(PROJECT_ROOT / ".airflow")
    settings = Settings()  # MLP_* from the environment, else the project's defaults
    defaults = {
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": f"{home}/simple_auth_manager_passwords.json",
        "GX_ANALYTICS_ENABLED": "False",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "MLP_STORAGE_ROOT": settings.storage_root,
        "MLP_SPEC_DIR": str(settings.spec_dir),
        "MLP_JARS_DIR": str(settings.jars_dir),
    }
    return {**defaults, **{k: v for k, v in env.items() if v != ""}}


def _init_airflow(env: dict[str, str]) -> None:
    """``airflow db migrate`` once per Airflow home (what ``make airflow-init`` does)."""
    home = Path(env["AIRFLOW_HOME"])
    if (home / ".initialised").exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    passwords = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    if not passwords.exists() or not passwords.read_text().strip():
        passwords.touch(mode=0o600)
        passwords.write_text(json.dumps({"admin": secrets.token_urlsafe(12)}) + "\n")  # never a default
    log = home / "db-migrate.log"
    print(f"initialising Airflow's metadata in {home} (log: {log}) ...", flush=True)
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, stdout=out, stderr=out, check=False
        )
    if done.returncode != 0:
        raise SystemExit(f"airflow db migrate failed; see {log}")
    (home / ".initialised").touch()


def cmd_run(args: argparse.Namespace) -> int:
    """Run a DAG for a date through Airflow (``scripts/run_dag.py``, ``dag.test()``) with the
    project's environment; exit 0 when the run succeeds."""
    env = run_environment()
    _init_airflow(env)
    command = [sys.executable, str(PROJECT_ROOT / "scripts" / "run_dag.py"), args.dag_id]
    command += [args.date] if args.date else []
    command += ["--conf", args.conf] if args.conf else []
    command += ["--queued", args.queued] if args.queued else []
    print(
        f"AIRFLOW_HOME={env['AIRFLOW_HOME']}  MLP_STORAGE_ROOT={env['MLP_STORAGE_ROOT']}  "
        f"MLP_SPEC_DIR={env['MLP_SPEC_DIR']}",
        flush=True,
    )
    return subprocess.run(command, env=env, check=False).returncode


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``spec init|check|reference`` and ``run`` to the CLI."""
    spec = sub.add_parser("spec", help="onboard a data set: draft a spec, dry-run it, document the fields")
    spec_sub = spec.add_subparsers(dest="spec_command", required=True)
    init = spec_sub.add_parser("init", help="profile a CSV/Parquet sample and write a commented draft spec")
    init.add_argument("data", help="the training data file (CSV or Parquet)")
    init.add_argument("--target", required=True, help="the column to predict (as named in the file)")
    init.add_argument("--name", help="the model's name (default: the file's name, made valid)")
    init.add_argument("--output", help="where to write the draft (default: MLP_SPEC_DIR/<name>.yaml)")
    init.add_argument("--sample-rows", type=int, default=DEFAULT_SAMPLE_ROWS)
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=cmd_spec_init)
    check = spec_sub.add_parser(
        "check", help="dry-run a spec on a sample of its training data (writes nothing)"
    )
    check.add_argument("spec", help="the spec file")
    check.add_argument("--data", help="read this file instead of the spec's training source")
    check.add_argument("--sample-rows", type=int, default=DEFAULT_SAMPLE_ROWS)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=cmd_spec_check)
    ref = spec_sub.add_parser("reference", help="write the Markdown reference of every spec field")
    ref.add_argument("--output", default=str(REFERENCE_PATH), help="file to write, or - for stdout")
    ref.set_defaults(func=cmd_spec_reference)
    run = sub.add_parser("run", help="run a model's DAG for a date through Airflow (dag.test) here")
    run.add_argument("dag_id", help="e.g. churn_demo_training")
    run.add_argument("date", nargs="?", help="the logical date, YYYY-MM-DD")
    run.add_argument("--conf", help="run conf as JSON")
    run.add_argument("--queued", metavar="RUN_ID", help="execute a run another DAG queued")
    run.set_defaults(func=cmd_run)
