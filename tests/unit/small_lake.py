"""A small lake written with delta-rs (no JVM): one model's lineage, registry, predictions and
model tables, for the lineage queries and the catalog pages.

``build_lake(root)`` writes it; ``tests/unit/conftest.py`` offers it as the session's ``lake``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from mlplatform.io.layout import StorageLayout

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


def build_lake(root: str) -> str:
    """Write the small lake under ``root`` and return ``root``."""
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
                "artifact_uri": f"{root}/models/churn/v1",
                "booster_sha256": "ab" * 32,
                "metrics": "{}",
                "spec_hash": "f00d",
                "training_inputs": '{"bronze": {"uri": "/b", "version": 0}, "features": {"uri": "/f", "version": 0},'
                ' "batch_id": "train__manual__2026-11-01", "source_uri": "/landing/churn/train.csv"}',
                "params": '{"xgb": {"seed": 7}, "conf": {"reason": "first model"},'
                ' "confidence_intervals": {"auc": {"low": 0.78, "high": 0.84, "level": 0.95}}}',
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
    _write_governance(root, layout)
    return root


# A 1x1 PNG, as the SHAP report embeds its beeswarm.
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def _write_governance(root: str, layout: StorageLayout) -> None:
    """The promotion, monitoring and catalog tables and the version's artifacts on disk."""
    promoted = T0 + timedelta(minutes=6)
    _write(
        layout.platform_table("model_registry"),
        [
            {
                "model_name": MODEL,
                "version": 1,
                "event": "promoted",
                "alias": "champion",
                "run_id": TRAIN_RUN,
                "actor": "lead",
                "reason": "approved: better than nothing",
                "event_time": promoted,
            }
        ],
    )
    _write(
        layout.platform_table("promotion_decisions"),
        [
            {
                "model_name": MODEL,
                "version": 1,
                "run_id": TRAIN_RUN,
                "checks": '[{"check": "min_auc", "value": 0.81, "threshold": 0.7, "passed": true}]',
                "promoted": True,
                "reason": "all checks passed",
                "approval": "approved",
                "approver": "lead",
                "approval_comment": "ship it",
                "decided_at": promoted,
            }
        ],
    )
    _write(
        layout.platform_table("performance_metrics"),
        [
            {
                "model_name": MODEL,
                "score_date": date(2026, 11, 2 + i),
                "model_version": 1,
                "auc": 0.8 - 0.05 * i,
                "reference_auc": 0.81,
            }
            for i in range(3)
        ],
    )
    _write(
        layout.platform_table("drift_metrics"),
        [
            {
                "model_name": MODEL,
                "score_date": date(2026, 11, 2 + i),
                "run_id": f"scheduled__2026-11-0{2 + i}",
                "scope": "input",
                "feature": feature,
                "drifted": i == 2 and feature == "tenure",
            }
            for i in range(3)
            for feature in ("tenure", "charges")
        ],
    )
    _write(
        layout.platform_table("monitoring_decisions"),
        [
            {
                "model_name": MODEL,
                "score_date": date(2026, 11, 4),
                "run_id": "scheduled__2026-11-04",
                "model_version": 1,
                "degraded": True,
                "consecutive_degraded": 1,
                "retrain": False,
                "reason": "AUC 0.70 below 0.75 (1 of 2 days)",
                "decided_at": T0 + timedelta(days=3),
            }
        ],
    )
    _write(
        layout.platform_table("feature_catalog"),
        [
            {
                "feature_name": "tenure",
                "definition": "months since signup",
                "kind": "numeric",
                "dtype": "double",
                "source_columns": ["tenure"],
                "owner": "ana",
                "models": [MODEL],
            }
        ],
    )
    artifacts = Path(root) / "models" / MODEL / "v1"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "manifest.json").write_text('{"files": {"model.ubj": "' + "cd" * 32 + '"}}')
    (artifacts / "model_card.md").write_text("# churn v1\n\nTrained on <b>tenure</b>.\n")
    drift = Path(layout.drift_report(MODEL, "2026-11-04"))
    drift.parent.mkdir(parents=True, exist_ok=True)
    drift.write_text("<html><body><h1>Drift on 2026-11-04</h1></body></html>")
    report = Path(layout.shap_report(MODEL, 1))
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        f'<html><body><img alt="SHAP beeswarm (test)" src="data:image/png;base64,{PNG_1PX}"></body></html>'
    )
