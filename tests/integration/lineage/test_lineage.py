"""Lineage: trigger classification, run context and the lineage row."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mlplatform.core.context import RunContext, classify_trigger
from mlplatform.lineage import recorder as lineage
from mlplatform.lineage.recorder import LineageEntry, lineage_row


@pytest.mark.parametrize(
    ("run_type", "triggered_by", "conf", "expected"),
    [
        ("scheduled", "timetable", None, "scheduled"),
        ("BACKFILL", "backfill", None, "backfill"),
        ("asset_triggered", "asset", None, "asset"),
        ("operator_triggered", "operator", {"requested_by": "m_scoring/r"}, "policy"),
        ("manual", "ui", None, "manual"),
        ("manual", "rest_api", {}, "api"),
        ("manual", "cli", None, "cli"),
        ("manual", "test", None, "cli"),
        ("manual", "test", {"requested_by": "m_scoring/scheduled__2026-11-05"}, "policy"),
        ("manual", None, None, "manual"),
        (None, None, None, "manual"),
        # What a user types into the conf never decides the type:
        ("manual", "rest_api", {"trigger_source": "policy"}, "api"),
        ("manual", "ui", {"trigger_source": "policy", "requested_by": "forged"}, "manual"),
        ("scheduled", "timetable", {"trigger_source": "api"}, "scheduled"),
        ("manual", None, {"trigger_source": "api"}, "manual"),
    ],
)
def test_classify_trigger_from_airflow_facts_only(
    run_type: str | None, triggered_by: str | None, conf: dict | None, expected: str
) -> None:
    assert classify_trigger(run_type, triggered_by, conf) == expected


def _ctx(**kwargs) -> RunContext:  # type: ignore[no-untyped-def]
    return RunContext(
        run_id="manual__2024-05-01T02:00:00+00:00",
        dag_id="churn_demo_training",
        task_id="ingest",
        logical_date=datetime(2024, 5, 1, 2, 0, tzinfo=UTC),
        **kwargs,
    )


def test_run_context_ds_reason_and_for_task() -> None:
    ctx = _ctx(trigger_type="api", triggered_by="alice", try_number=2, conf={"reason": "retrain"})
    assert ctx.ds == "2024-05-01"
    assert ctx.reason == "retrain"
    assert _ctx().reason == ""
    other = ctx.for_task("validate")
    assert other.task_id == "validate"
    assert (other.run_id, other.dag_id, other.logical_date) == (ctx.run_id, ctx.dag_id, ctx.logical_date)
    assert (other.trigger_type, other.triggered_by, other.try_number, other.conf) == (
        "api",
        "alice",
        2,
        {"reason": "retrain"},
    )


def test_lineage_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lineage, "code_version", lambda: "abc123")
    entry = LineageEntry(model_name="churn_demo", model_version=3)
    entry.read("bronze", "/lake/delta/models/churn_demo/bronze", 4)
    entry.wrote("staged_booster", "/lake/staging/x/model.ubj")
    entry.params["rows"] = 10
    start, end = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 1, 0, 1, tzinfo=UTC)
    ctx = _ctx(trigger_type="api", conf={"reason": "why"})
    row = lineage_row(ctx, entry, status="failed", started_at=start, ended_at=end, error="boom")
    assert row["run_id"] == ctx.run_id and row["task_id"] == "ingest"
    assert row["trigger_type"] == "api"
    assert (row["model_name"], row["model_version"]) == ("churn_demo", 3)
    assert row["inputs"] == [{"name": "bronze", "uri": "/lake/delta/models/churn_demo/bronze", "version": 4}]
    assert row["outputs"] == [{"name": "staged_booster", "uri": "/lake/staging/x/model.ubj", "version": None}]
    assert json.loads(row["params"]) == {"rows": 10, "conf": {"reason": "why"}}
    assert (row["status"], row["error"], row["code_version"]) == ("failed", "boom", "abc123")
    other = lineage_row(ctx, entry, status="success", started_at=start, ended_at=end)
    assert other["lineage_id"] != row["lineage_id"]


@pytest.mark.spark
def test_record_lineage_appends_success_and_failure(
    spark, storage_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.lineage.recorder import record_lineage

    monkeypatch.setattr(lineage, "code_version", lambda: "abc123")
    uri = f"{storage_root}/delta/platform/lineage"
    with record_lineage(spark, uri, _ctx(), model_name="churn_demo") as entry:
        entry.wrote("bronze", "/b", 1)
    with pytest.raises(ZeroDivisionError):
        with record_lineage(spark, uri, _ctx().for_task("validate"), model_name="churn_demo"):
            _ = 1 / 0
    rows = {r["task_id"]: r for r in spark.read.format("delta").load(uri).collect()}
    assert set(rows) == {"ingest", "validate"}
    assert rows["ingest"]["status"] == "success" and rows["ingest"]["error"] is None
    assert rows["ingest"]["outputs"][0]["version"] == 1
    assert rows["validate"]["status"] == "failed"
    assert rows["validate"]["error"].startswith("ZeroDivisionError")
    assert "duration_s" in json.loads(rows["validate"]["params"])
