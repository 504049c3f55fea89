"""The table catalog: every Delta table the platform writes, declared once.

Each entry names the table, where it lives (one per platform, or one per model), its schema, its
partitioning, whether Delta itself must refuse updates and deletes (``delta.appendOnly``), and
what one row means. The storage layout builds paths from it, the writers create tables from it,
and the README's table list is generated from it (``mlplatform tables --markdown``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TABLE_REF = "struct<name:string,uri:string,version:bigint>"
# Columns every model table carries; the rest come from the model's spec.
MODEL_META = "_batch_id string, _row_id string"


@dataclass(frozen=True)
class TableSpec:
    """One Delta table: schema (DDL), partition columns, append-only or not, and what a row is."""

    ddl: str
    partition_by: tuple[str, ...] = ()
    append_only: bool = False
    doc: str = ""
    scope: Literal["platform", "model"] = "platform"

    @property
    def columns(self) -> list[str]:
        from_ddl = [part.strip().split(" ", 1)[0] for part in _split_top_level(self.ddl)]
        return [c for c in from_ddl if c]


def _split_top_level(ddl: str) -> list[str]:
    """Split a DDL column list on the commas outside ``<...>``."""
    parts, depth, current = [], 0, []
    for ch in ddl:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


TABLES: dict[str, TableSpec] = {
    "bronze": TableSpec(
        f"{MODEL_META}, _source_file string, _ingested_at timestamp, _corrupt_record string",
        ("_batch_id",),
        doc="Source rows exactly as read: every declared column as text, plus the malformed line if any.",
        scope="model",
    ),
    "validated": TableSpec(
        MODEL_META,
        ("_batch_id",),
        doc="Rows that passed validation, typed as the spec declares, with the label as `_label`.",
        scope="model",
    ),
    "features": TableSpec(
        f"{MODEL_META}, entity_id string, label int, split string",
        ("_batch_id",),
        doc="Model inputs per row (the spec's features, all doubles), with the entity id and split.",
        scope="model",
    ),
    "quarantine": TableSpec(
        "model_name string, batch_id string, run_id string, row_key string, entity_id string, "
        "reasons array<string>, row_json string, quarantined_at timestamp",
        ("model_name",),
        doc="Rows that failed validation, with every expectation they failed and the raw row; `row_key` "
        "is the synthetic key of the row in its batch, `entity_id` the id column's value when known.",
    ),
    "validation_results": TableSpec(
        "model_name string, batch_id string, run_id string, expectation string, column string, "
        "success boolean, unexpected_count bigint, unexpected_percent double, element_count bigint, "
        "data_docs_uri string, validated_at timestamp",
        ("model_name",),
        doc="One row per expectation per validated batch (summary of the GX validation result).",
    ),
    "predictions": TableSpec(
        "model_name string, score_date date, entity_id string, score double, prediction int, "
        "predicted_label string, class_probabilities map<string,double>, "
        "model_version int, run_id string, scored_at timestamp",
        ("model_name", "score_date"),
        doc="Batch predictions, one partition per model and logical date, stamped with the model version: "
        "the positive-class probability and the 0/1 decision (binary), the class and every class's "
        "probability (multiclass; score is the chosen class's), or the value (regression; score).",
    ),
    "drift_metrics": TableSpec(
        "model_name string, score_date date, run_id string, model_version int, scope string, "
        "feature string, feature_kind string, metric string, value double, threshold double, "
        "drifted boolean, psi double, wasserstein double, jensenshannon double, ks_statistic double, "
        "p_value double, null_rate_reference double, null_rate_current double, unseen_rate double, "
        "quality_flags array<string>, reference_rows bigint, current_rows bigint, computed_at timestamp",
        ("model_name", "score_date"),
        doc="One row per column per scoring run: raw-input drift (scope input), train-serve skew of "
        "the model's inputs (model_input) and prediction drift, with every statistic and quality flag.",
    ),
    "performance_metrics": TableSpec(
        "model_name string, score_date date, model_version int, labeled_rows bigint, "
        "predicted_rows bigint, positives bigint, auc double, precision double, recall double, "
        "accuracy double, threshold double, reference_auc double, labels_through date, "
        "macro_f1 double, logloss double, rmse double, mae double, r2 double, reference_rmse double, "
        "run_id string, computed_at timestamp",
        ("model_name",),
        doc="Performance of past predictions once their late labels arrive, per model and scoring date "
        "(AUC, precision, recall for binary; AUC, macro-F1, accuracy, logloss for multiclass; RMSE, "
        "MAE, R² for regression).",
    ),
    "labels": TableSpec(
        "model_name string, entity_id string, label double, label_date date, source_uri string, "
        "run_id string, loaded_at timestamp",
        ("model_name", "label_date"),
        doc="Late ground truth as it arrives, one partition per model and arrival date.",
    ),
    "monitoring_decisions": TableSpec(
        "model_name string, score_date date, run_id string, model_version int, degraded boolean, "
        "signals string, consecutive_degraded int, retrain boolean, reason string, "
        "triggered_dag_id string, decided_at timestamp",
        append_only=True,
        doc="The retraining policy's verdict after every scoring run: the signals, the streak, the action.",
    ),
    "model_registry": TableSpec(
        "model_name string, version int, event string, alias string, run_id string, dag_id string, "
        "actor string, reason string, artifact_uri string, booster_sha256 string, "
        "manifest_sha256 string, metrics string, spec_hash string, training_inputs string, "
        "params string, code_version string, event_time timestamp",
        ("model_name",),
        append_only=True,
        doc="Append-only model events (registered, explained, promoted, demoted, archived, retired); "
        "aliases derive from them.",
    ),
    "promotion_decisions": TableSpec(
        "model_name string, version int, run_id string, champion_version int, checks string, "
        "promoted boolean, reason string, approval string, approver string, approval_comment string, "
        "decided_at timestamp",
        append_only=True,
        doc="Every promotion decision: each check's value, threshold and verdict, and the human approval.",
    ),
    "shap_importance": TableSpec(
        "model_name string, version int, feature string, mean_abs_shap double, rank int, "
        "rows_explained bigint, computed_at timestamp, class_label string",
        ("model_name",),
        doc="Global SHAP ranking of each model version (mean |SHAP| per feature), for attribution drift.",
    ),
    "source_schemas": TableSpec(
        "model_name string, source string, schema_version int, columns string, changes string, "
        "source_uri string, run_id string, recorded_at timestamp",
        append_only=True,
        doc="Each schema seen for a model's training or scoring source; a new version when it changes.",
    ),
    "feature_catalog": TableSpec(
        "feature_name string, definition string, kind string, dtype string, source_columns array<string>, "
        "owner string, models array<string>, "
        "model_versions array<struct<model:string,first_version:int,last_version:int>>, updated_at timestamp",
        doc="One row per feature (name and definition): what it is, where it comes from, who uses it.",
    ),
    "audit": TableSpec(
        "audit_id string, action string, actor string, source string, model_name string, version int, "
        "artifact string, reason string, run_id string, dag_id string, details string, event_time timestamp",
        append_only=True,
        doc="Who did what, when: every trigger (UI, API, schedule, asset, policy, CLI), approval, "
        "promotion, demotion, retirement, and each read of a model artifact through the catalog.",
    ),
    "lineage": TableSpec(
        "lineage_id string, run_id string, dag_id string, task_id string, try_number int, "
        "logical_date timestamp, trigger_type string, triggered_by string, model_name string, "
        f"model_version int, inputs array<{TABLE_REF}>, outputs array<{TABLE_REF}>, "
        "params string, code_version string, status string, error string, "
        "started_at timestamp, ended_at timestamp",
        append_only=True,
        doc="One row per task attempt: what it read and wrote (with Delta versions), who/what triggered it.",
    ),
}

PLATFORM_TABLES = tuple(name for name, t in TABLES.items() if t.scope == "platform")
MODEL_TABLES = tuple(name for name, t in TABLES.items() if t.scope == "model")


def table_spec(name: str) -> TableSpec:
    """The catalog entry for ``name``; the error lists the known tables."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table '{name}'; known: {', '.join(TABLES)}") from None


def markdown_table() -> str:
    """The catalog as the README's Markdown table (a test keeps the README equal to it)."""
    lines = ["| table | columns | partitioned by | append-only | one row is |", "|---|---|---|---|---|"]
    for name, t in TABLES.items():
        where = f"models/<m>/{name}" if t.scope == "model" else f"platform/{name}"
        cols = ", ".join(f"`{c}`" for c in t.columns)
        if t.scope == "model":
            cols += ", the spec's columns"
        parts = ", ".join(f"`{c}`" for c in t.partition_by) or "-"
        lines.append(f"| `{where}` | {cols} | {parts} | {'yes' if t.append_only else 'no'} | {t.doc} |")
    return "\n".join(lines)
