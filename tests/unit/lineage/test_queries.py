"""Lineage queries and the audit trail over a small lake written with delta-rs (no JVM)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlplatform.governance.audit import read_audit, record_read
from mlplatform.io.layout import StorageLayout
from mlplatform.io.table_reader import read_table, table_history, table_versions
from mlplatform.lineage import queries
from tests.unit.small_lake import MODEL, SCORE_RUN, TRAIN_RUN


def test_upstream_names_inputs_validations_code_and_seed(lake: str) -> None:
    answer = queries.upstream(lake, MODEL, 1)
    assert answer["inputs"] == {
        "bronze": {"uri": "/b", "version": 0},
        "features": {"uri": "/f", "version": 0},
    }
    assert [v["column"] for v in answer["validations"]] == ["tenure"]
    assert (answer["code_version"], answer["params"]["xgb"]["seed"]) == ("abc123", 7)
    assert [t["task_id"] for t in answer["tasks"]] == [
        "ingest",
        "validate",
        "build_features",
        "train",
        "register",
    ]


def test_unknown_version_is_refused_naming_what_is_registered(lake: str) -> None:
    with pytest.raises(queries.LineageNotFound, match=r"no registered version 9; registered: \[1\]"):
        queries.upstream(lake, MODEL, 9)


def test_downstream_lists_partitions_with_the_successful_runs_version(lake: str) -> None:
    parts = queries.downstream(lake, MODEL, 1)["partitions"]
    assert [(p["score_date"], p["rows"], p["run_id"], p["predictions_version"]) for p in parts] == [
        ("2026-11-02", 10, SCORE_RUN, 4)
    ]


def test_trace_follows_one_prediction_to_its_rows_and_versions(lake: str) -> None:
    answer = queries.trace(lake, MODEL, "2026-11-02", "7")
    assert answer["model_version"] == 1
    assert answer["input_versions"] == {"features": 1, "validated": 1, "bronze": 1}
    assert answer["row_id"] == "r7"
    assert answer["source_file"] == "/landing/churn/2026-11-02.csv#7"
    assert answer["features"]["tenure"] == 7.0
    with pytest.raises(queries.LineageNotFound, match="entity 'nobody'"):
        queries.trace(lake, MODEL, "2026-11-02", "nobody")


def test_who_touched_lists_every_write_since_a_date(lake: str) -> None:
    rows = queries.who_touched(lake, "predictions", "2026-11-02")
    assert [(r["version"], r["status"], r["trigger_type"]) for r in rows] == [
        (3, "failed", "scheduled"),
        (4, "success", "scheduled"),
    ]
    assert queries.who_touched(lake, "predictions", "2026-11-03") == []
    with pytest.raises(KeyError, match="unknown table"):
        queries.who_touched(lake, "nope", "2026-11-01")


def test_graph_runs_from_source_file_to_prediction_partition(lake: str) -> None:
    graph = queries.lineage_graph(lake, MODEL, 1)
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    chain = [
        "file:/landing/churn/train.csv",
        "bronze@0",
        "validated@0",
        "features@0",
        f"run:{TRAIN_RUN}",
        f"model:{MODEL}@1",
        "predictions:2026-11-02",
    ]
    assert set(zip(chain, chain[1:], strict=False)) <= edges
    assert {n["id"] for n in graph["nodes"]} >= set(chain)


def test_missing_table_reads_empty_with_declared_columns(tmp_path: Path) -> None:
    frame = read_table(str(tmp_path), "audit")
    assert frame.empty and "actor" in frame.columns
    assert table_versions(str(tmp_path), "audit") is None and table_history(str(tmp_path), "audit") == []


def test_reads_are_audited_append_only_and_filterable(tmp_path: Path) -> None:
    root = str(tmp_path)
    record_read(root, actor="ana", model=MODEL, version=1, artifact="shap_report")
    record_read(root, actor="bo", model="other", version=2, artifact="model_card", source="api")
    assert list(read_audit(root, actor="ana")["artifact"]) == ["shap_report"]
    assert list(read_audit(root, model="other")["source"]) == ["api"]
    today = datetime.now(UTC).date().isoformat()
    assert len(read_audit(root, since=today, until=today)) == 2
    assert read_audit(root, until="2000-01-01").empty
    from deltalake import DeltaTable

    table = DeltaTable(StorageLayout(root).platform_table("audit"))
    assert table.metadata().configuration.get("delta.appendOnly") == "true"
    with pytest.raises(Exception, match="(?i)append"):
        table.delete("actor = 'ana'")
