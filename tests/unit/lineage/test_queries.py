"""Lineage queries and the audit trail over a small lake written with delta-rs (no JVM)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from mlplatform.governance.audit import read_audit, record_read
from mlplatform.io.layout import StorageLayout
from mlplatform.io.table_reader import read_table, table_history, table_versions
from mlplatform.lineage import queries

MODEL = "churn"
TRAIN_RUN = "manual__2026-11-01"
SCORE_RUN = "scheduled__2026-11-02"
T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)
REF = pa.struct([("name", pa.string()), ("uri", pa.string()), ("version", pa.int64())])
LINEAGE = pa.schema(
    [
        ("run_id", pa.string()),
        ("dag_id", pa.string()),
        ("task_id", pa.string()),
        ("trigger_type", pa.string()),
        ("triggered_by", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.int32()),
        ("inputs", pa.list_(REF)),
        ("outputs", pa.list_(REF)),
        ("status", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("ended_at", pa.timestamp("us", tz="UTC")),
    ]
)


def _write(path: str, rows: list[dict], schema: pa.Schema | None = None) -> None:
    Path(path).mkdir(parents=True, exist_ok=True)
    write_deltalake(path, pa.Table.from_pylist(rows, schema=schema), mode="append", schema_mode="merge")


def _ref(name: str, version: int | None, uri: str = "") -> dict:
    return {"name": name, "uri": uri or f"/lake/{name}", "version": version}


def _task(run: str, task: str, inputs: list, outputs: list, minute: int, status: str = "success") -> dict:
    when = T0 + timedelta(minutes=minute) if run == TRAIN_RUN else T0 + timedelta(days=1, minutes=minute)
    return {
        "run_id": run,
        "dag_id": f"{MODEL}_{'training' if run == TRAIN_RUN else 'scoring'}",
        "task_id": task,
        "trigger_type": "manual" if run == TRAIN_RUN else "scheduled",
        "triggered_by": "ana" if run == TRAIN_RUN else None,
        "model_name": MODEL,
        "model_version": None,
        "inputs": inputs,
        "outputs": outputs,
        "status": status,
        "started_at": when,
        "ended_at": when + timedelta(seconds=30),
    }


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = str(tmp_path_factory.mktemp("lake"))
    layout = StorageLayout(root)
    source = "/landing/churn/train.csv"
    _write(
        layout.platform_table("lineage"),
        [
            _task(TRAIN_RUN, "ingest", [_ref("source", None, source)], [_ref("bronze", 0)], 0),
            _task(TRAIN_RUN, "validate", [_ref("bronze", 0)], [_ref("validated", 0)], 1),
            _task(TRAIN_RUN, "build_features", [_ref("validated", 0)], [_ref("features", 0)], 2),
            _task(TRAIN_RUN, "train", [_ref("features", 0)], [], 3),
            _task(TRAIN_RUN, "register", [_ref("features", 0)], [_ref("model_registry", 0)], 4),
            _task(
                SCORE_RUN,
                "ingest",
                [_ref("source", None, "/landing/churn/2026-11-02.csv")],
                [_ref("bronze", 1)],
                0,
            ),
            _task(SCORE_RUN, "validate", [_ref("bronze", 1)], [_ref("validated", 1)], 1),
            _task(SCORE_RUN, "build_features", [_ref("validated", 1)], [_ref("features", 1)], 2),
            _task(SCORE_RUN, "score", [_ref("features", 1)], [_ref("predictions", 3)], 3, "failed"),
            _task(SCORE_RUN, "score", [_ref("features", 1)], [_ref("predictions", 4)], 5),
        ],
        LINEAGE,
    )
    _write(
        layout.platform_table("model_registry"),
        [
            {
                "model_name": MODEL,
                "version": 1,
                "event": "registered",
                "run_id": TRAIN_RUN,
                "dag_id": f"{MODEL}_training",
                "actor": "ana",
                "reason": "first model",
                "artifact_uri": "/lake/models/churn/v1",
                "booster_sha256": "ab" * 32,
                "metrics": "{}",
                "spec_hash": "f00d",
                "training_inputs": '{"bronze": {"uri": "/b", "version": 0}, "features": {"uri": "/f", "version": 0},'
                ' "batch_id": "train__manual__2026-11-01", "source_uri": "/landing/churn/train.csv"}',
                "params": '{"xgb": {"seed": 7}, "conf": {"reason": "first model"}}',
                "code_version": "abc123",
                "event_time": T0 + timedelta(minutes=4),
            }
        ],
    )
    _write(
        layout.platform_table("predictions"),
        [
            {
                "model_name": MODEL,
                "score_date": date(2026, 11, 2),
                "entity_id": str(i),
                "score": i / 10,
                "prediction": int(i > 4),
                "model_version": 1,
                "run_id": SCORE_RUN,
                "scored_at": T0 + timedelta(days=1),
            }
            for i in range(10)
        ],
    )
    batch = "score__2026-11-02"
    _write(
        layout.model_table(MODEL, "bronze"),
        [{"_batch_id": "train__x", "_row_id": "r0", "_source_file": source}],
    )
    _write(
        layout.model_table(MODEL, "bronze"),
        [
            {"_batch_id": batch, "_row_id": f"r{i}", "_source_file": f"/landing/churn/2026-11-02.csv#{i}"}
            for i in range(10)
        ],
    )
    _write(
        layout.model_table(MODEL, "features"), [{"_batch_id": "train__x", "_row_id": "r0", "entity_id": "0"}]
    )
    _write(
        layout.model_table(MODEL, "features"),
        [
            {"_batch_id": batch, "_row_id": f"r{i}", "entity_id": str(i), "tenure": float(i)}
            for i in range(10)
        ],
    )
    _write(
        layout.platform_table("validation_results"),
        [
            {
                "model_name": MODEL,
                "batch_id": "train__manual__2026-11-01",
                "expectation": "expect_column_values_to_not_be_null",
                "column": "tenure",
                "success": True,
                "unexpected_count": 0,
                "data_docs_uri": "/gx/index.html",
            },
            {
                "model_name": "other",
                "batch_id": "train__manual__2026-11-01",
                "expectation": "x",
                "column": "y",
                "success": False,
                "unexpected_count": 1,
                "data_docs_uri": None,
            },
        ],
    )
    return root


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
