"""DAG integrity: every DAG file imports cleanly, fast, without heavy libraries, with tags and retries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((PROJECT_ROOT / "dags").glob("*.py"))
HEAVY_MODULES = [
    "pyspark",
    "xgboost",
    "shap",
    "great_expectations",
    "pandas",
    "sklearn",
    "matplotlib",
    "delta",
]


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}


def test_training_scoring_and_retirement_dag_per_spec(dagbag) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.config.specs import load_specs

    specs = load_specs(PROJECT_ROOT / "include" / "specs")
    assert specs, "no model specs found"
    expected = {f"{m}_{kind}" for m in specs for kind in ("training", "scoring", "retirement")}
    assert expected | {"platform_maintenance"} == set(dagbag.dag_ids)


def test_dags_have_tags_retries_docs_and_owner(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id, dag in dagbag.dags.items():
        assert "mlplatform" in dag.tags, dag_id
        assert dag.doc_md and len(dag.doc_md) > 100, f"{dag_id} lacks doc_md"
        assert dag.max_active_runs == 1, dag_id
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
            assert task.owner == "ml-platform", f"{dag_id}.{task.task_id}"
            assert task.on_failure_callback, f"{dag_id}.{task.task_id} sends no failure alert"


def test_each_dag_page_describes_its_model_from_the_spec(dagbag) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.config.specs import load_specs

    for name, spec in load_specs(PROJECT_ROOT / "include" / "specs").items():
        for kind in ("training", "scoring", "retirement"):
            dag = dagbag.dags[f"{name}_{kind}"]
            assert dag.description and spec.description in dag.description, dag.dag_id
            assert f"## {name}: {kind}" in dag.doc_md
            assert f"| owner | {spec.owner} |" in dag.doc_md and f"| task type | {spec.task} |" in dag.doc_md
            assert spec.source.scoring.path in dag.doc_md
            assert f"(/mlplatform/models/{name})" in dag.doc_md, "links the model's catalog page"
        training = dagbag.dags[f"{name}_training"].doc_md
        if spec.task == "regression":
            assert "| max_rmse |" in training and "| min_auc |" not in training
        else:
            assert f"| min_auc | {spec.promotion.min_auc} |" in training and "| max_rmse |" not in training


def _edges(dag) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(task.task_id, down) for task in dag.tasks for down in task.downstream_task_ids}


def test_training_dag_shape_and_params(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["churn_demo_training"]
    order = [
        "ingest",
        "validate",
        "build_features",
        "train",
        "evaluate",
        "register",
        "explain",
        "gate",
        "promote",
        "champion_changed",
    ]
    assert set(dag.task_ids) == set(order)
    assert set(zip(order, order[1:], strict=False)) == _edges(dag)
    params = dag.params.dump()
    assert set(params) == {"reason", "sample_size"}, "no form field can claim how the run was triggered"
    assert dag.start_date.tzinfo is not None
    assert [a.name for a in dag.get_task("champion_changed").outlets] == ["churn_demo.champion"]


def test_every_task_returns_one_xcom_and_documents_itself(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id in ("churn_demo_training", "churn_demo_scoring"):
        for task in dagbag.dags[dag_id].tasks:
            if hasattr(task, "multiple_outputs"):
                assert task.multiple_outputs is False, f"{dag_id}.{task.task_id} pushes one XCom per key"
    score = dagbag.dags["churn_demo_scoring"].get_task("score")
    assert score.doc_md and "champion" in score.doc_md


def test_scoring_dag_is_scheduled_nightly(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["churn_demo_scoring"]
    assert dag.timetable.expression == "0 2 * * *"
    assert dag.catchup is False
    assert dag.start_date.tzinfo is not None
    assert _edges(dag) == {
        ("ingest", "validate"),
        ("validate", "build_features"),
        ("build_features", "score"),
        ("score", "check_performance"),
        ("score", "check_drift"),
        ("check_performance", "decide_retraining"),
        ("check_drift", "decide_retraining"),
        ("decide_retraining", "retraining_requested"),
        ("retraining_requested", "trigger_retraining"),
    }, "drift and performance run side by side; both feed the policy"
    assert [a.name for a in dag.get_task("score").outlets] == ["churn_demo.predictions"]
    assert [a.name for a in dag.get_task("check_drift").outlets] == ["churn_demo.drift_metrics"]
    trigger = dag.get_task("trigger_retraining")
    assert trigger.trigger_dag_id == "churn_demo_training"
    assert "reason" in trigger.conf and "requested_by" in trigger.conf
    assert "trigger_source" not in trigger.conf, "Airflow's run type says the policy triggered it"
    assert trigger.skip_when_already_exists is True
    assert trigger.logical_date == "{{ ts }}", "the training run's window ends on the scoring date"


def test_retirement_dag_is_manual_with_a_reason(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["churn_demo_retirement"]
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert set(dag.task_ids) == {"final_scoring", "retire"}
    params = dag.params.dump()
    assert {"reason", "final_scoring"} <= set(params) and params["final_scoring"] is False


def test_maintenance_dag_is_weekly_optimize_then_vacuum(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["platform_maintenance"]
    assert dag.timetable.expression == "0 4 * * 0" and dag.catchup is False
    assert _edges(dag) == {("optimize", "vacuum")}
    assert dag.params.dump() == {"dry_run": False}
    assert "retired" in dag.doc_md and "pinned" in dag.doc_md


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[f.name for f in DAG_FILES])
def test_dag_file_parses_fast_without_heavy_imports(dag_file: Path) -> None:
    """Parsing in a fresh interpreter must not pull in Spark, XGBoost, GX, pandas and friends.

    (Parse time is a speed target, so it is not asserted here: it depends on the machine's load.)
    """
    probe = (
        "import json, runpy, sys, time\n"
        "t = time.perf_counter()\n"
        f"runpy.run_path({str(dag_file)!r})\n"
        "elapsed = time.perf_counter() - t\n"
        f"heavy = [m for m in {HEAVY_MODULES!r} if m in sys.modules]\n"
        "print(json.dumps({'elapsed': elapsed, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], f"{dag_file.name} imports {result['heavy']} at parse time"


def test_dag_files_have_no_module_level_heavy_imports() -> None:
    import ast

    for path in DAG_FILES:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in HEAVY_MODULES, f"{path.name} imports {name}"


def test_a_task_process_builds_only_its_own_dag() -> None:
    """With Airflow's parsing context set (as in a task process), a DAG file builds that DAG only."""
    import os

    probe = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(PROJECT_ROOT / 'dags')!r})\n"
        "print(sorted(bag.dag_ids))\n"
    )
    env = {**os.environ, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "churn_demo_scoring"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "['churn_demo_scoring']"
