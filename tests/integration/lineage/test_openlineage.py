"""OpenLineage events and Delta commit userMetadata of real steps run through ``run_step``.

ingest → validate → build_features on a small demo batch with the file transport into the test's
storage root; then a step that fails (scoring features without a champion). The events are read
back from ``<root>/openlineage/events.jsonl`` and the Delta history from ``DESCRIBE HISTORY``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.spark

MODEL = "churn_demo"
DS = "2026-11-01"
RUN_ID = "manual__openlineage"


def _ctx(task: str, run_id: str = RUN_ID, dag: str = "training"):  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext

    return RunContext(run_id, f"{MODEL}_{dag}", task, datetime.fromisoformat(DS).replace(tzinfo=UTC), "test")


def _events(root: str) -> list[dict[str, Any]]:
    path = Path(root) / "openlineage" / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _by_task(events: list[dict[str, Any]], job: str) -> list[dict[str, Any]]:
    return [e for e in events if e["job"]["name"] == job]


def _output(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    return next(o for o in event["outputs"] if o["name"].endswith(suffix))


def _input(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    return next(i for i in event["inputs"] if i["name"].endswith(suffix))


def _history(spark, uri: str) -> dict[int, dict[str, Any] | None]:  # type: ignore[no-untyped-def]
    rows = spark.sql(f"DESCRIBE HISTORY delta.`{uri}`").select("version", "userMetadata").collect()
    return {int(r["version"]): json.loads(r["userMetadata"]) if r["userMetadata"] else None for r in rows}


@pytest.fixture(scope="module")
def steps(spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.config.settings import Settings
    from mlplatform.demo.data import write_demo_landing
    from mlplatform.io.layout import StorageLayout
    from mlplatform.lifecycle.runner import run_step
    from tests.support import PROJECT_ROOT

    base = tmp_path_factory.mktemp("openlineage")
    settings = Settings(storage_root=str(base / "lake"), spec_dir=PROJECT_ROOT / "include" / "specs")
    layout = StorageLayout(settings.storage_root)
    write_demo_landing(layout.landing_dir(MODEL), 600, 100, {"2026-11-02": False}, seed=3)
    out: dict[str, Any] = {}
    value: Any = "training"
    for task, name in (("ingest", "mode"), ("validate", "batch"), ("build_features", "batch")):
        value = run_step(task, MODEL, _ctx(task), settings=settings, **{name: value})
        out[task] = value
    scoring = {**out["validate"], "mode": "scoring"}
    with pytest.raises(Exception) as failure:  # noqa: PT011 (any error: no champion is registered)
        run_step(
            "build_features",
            MODEL,
            _ctx("build_features", "scheduled__x", "scoring"),
            settings=settings,
            batch=scoring,
        )
    return {"settings": settings, "layout": layout, "failure": failure.value, **out}


def test_each_step_gives_start_then_complete_with_its_delta_versions(steps, spark) -> None:  # type: ignore[no-untyped-def]
    events = _events(steps["layout"].root)
    for task in ("ingest", "validate", "build_features"):
        mine = _by_task(events, f"{MODEL}_training.{task}")
        assert [e["eventType"] for e in mine] == ["START", "COMPLETE"], task
        assert mine[0]["run"]["runId"] == mine[1]["run"]["runId"]
        assert mine[1]["run"]["facets"]["parent"]["job"]["name"] == f"{MODEL}_training"
    ingest = _by_task(events, f"{MODEL}_training.ingest")[1]
    assert _output(ingest, "/bronze")["facets"]["version"]["datasetVersion"] == str(
        steps["ingest"]["bronze_version"]
    )
    validate = _by_task(events, f"{MODEL}_training.validate")[1]
    bronze_in = _input(validate, "/bronze")
    assert bronze_in["facets"]["version"]["datasetVersion"] == str(steps["ingest"]["bronze_version"])
    validated = _output(validate, "/validated")
    assert validated["facets"]["version"]["datasetVersion"] == str(steps["validate"]["validated_version"])
    assertions = validated["facets"]["dataQualityAssertions"]["assertions"]
    assert assertions and {"expect_column_values_to_not_be_null"} <= {a["assertion"] for a in assertions}
    results = (
        spark.read.format("delta")
        .load(steps["layout"].platform_table("validation_results"))
        .where(f"model_name = '{MODEL}' AND batch_id = '{steps['validate']['batch_id']}'")
        .collect()
    )
    assert sorted((a["assertion"], a.get("column"), a["success"]) for a in assertions) == sorted(
        (r["expectation"], r["column"], r["success"]) for r in results
    )
    features = _by_task(events, f"{MODEL}_training.build_features")[1]
    validated_in = _input(features, "/validated")
    assert validated_in["facets"]["version"]["datasetVersion"] == str(steps["validate"]["validated_version"])
    out = _output(features, "/features")
    assert out["facets"]["version"]["datasetVersion"] == str(steps["build_features"]["features_version"])
    lineage = out["facets"]["columnLineage"]["fields"]
    assert [i["field"] for i in lineage["charges_per_tenure"]["inputFields"]] == [
        "total_charges",
        "tenure_months",
    ]
    assert {i["name"] for i in lineage["charges_per_tenure"]["inputFields"]} == {validated_in["name"]}


def test_a_failing_step_gives_start_then_fail_with_the_error(steps) -> None:  # type: ignore[no-untyped-def]
    mine = _by_task(_events(steps["layout"].root), f"{MODEL}_scoring.build_features")
    assert [e["eventType"] for e in mine] == ["START", "FAIL"]
    assert mine[0]["run"]["runId"] == mine[1]["run"]["runId"]
    message = mine[1]["run"]["facets"]["errorMessage"]["message"]
    assert message.startswith(type(steps["failure"]).__name__)


def test_delta_commits_name_the_run_that_made_them(steps, spark) -> None:  # type: ignore[no-untyped-def]
    layout = steps["layout"]
    validated = _history(spark, layout.model_table(MODEL, "validated"))
    assert validated[steps["validate"]["validated_version"]] == {
        "run_id": RUN_ID,
        "dag_id": f"{MODEL}_training",
        "task_id": "validate",
        "try_number": 1,
        "model": MODEL,
    }
    lineage = _history(spark, layout.platform_table("lineage"))
    assert all(lineage.values())  # the table's creation and every appended row
    assert {(m["run_id"], m["task_id"]) for m in lineage.values()} == {
        (RUN_ID, "ingest"),
        (RUN_ID, "validate"),
        (RUN_ID, "build_features"),
        ("scheduled__x", "build_features"),
    }
    assert lineage[max(lineage)]["dag_id"] == f"{MODEL}_scoring"
    from mlplatform.lineage.recorder import USER_METADATA

    assert spark.conf.get(USER_METADATA, None) is None  # unset again once the steps are done
