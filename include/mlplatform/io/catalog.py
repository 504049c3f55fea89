"""Delta table schemas and the few write patterns the platform uses.

Every platform table has its schema here (the documented contract, mirrored in the README).
Registry, decisions and lineage are append-only; data tables are written per partition with
``replaceWhere`` so that a rerun for the same logical date replaces, never duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

TABLE_REF = "struct<name:string,uri:string,version:bigint>"


@dataclass(frozen=True)
class TableSchema:
    ddl: str
    partition_by: tuple[str, ...] = ()
    append_only: bool = False
    doc: str = ""


PLATFORM_SCHEMAS: dict[str, TableSchema] = {
    "quarantine": TableSchema(
        "model_name string, batch_id string, run_id string, row_id string, "
        "reasons array<string>, row_json string, quarantined_at timestamp",
        ("model_name",),
        doc="Rows that failed validation, with every expectation they failed and the raw row.",
    ),
    "validation_results": TableSchema(
        "model_name string, batch_id string, run_id string, expectation string, column string, "
        "success boolean, unexpected_count bigint, unexpected_percent double, element_count bigint, "
        "data_docs_uri string, validated_at timestamp",
        ("model_name",),
        doc="One row per expectation per validated batch (summary of the GX validation result).",
    ),
    "predictions": TableSchema(
        "model_name string, score_date date, row_id string, score double, prediction int, "
        "model_version int, run_id string, scored_at timestamp",
        ("model_name", "score_date"),
        doc="Batch predictions, one partition per model and logical date, stamped with the model version.",
    ),
    "drift_metrics": TableSchema(
        "model_name string, score_date date, run_id string, model_version int, scope string, "
        "feature string, feature_kind string, metric string, value double, threshold double, "
        "drifted boolean, psi double, wasserstein double, jensenshannon double, ks_statistic double, "
        "p_value double, null_rate_reference double, null_rate_current double, unseen_rate double, "
        "quality_flags array<string>, reference_rows bigint, current_rows bigint, computed_at timestamp",
        ("model_name", "score_date"),
        doc="One row per column per scoring run: raw-input drift (scope input), train-serve skew of "
        "the model's inputs (model_input) and prediction drift, with every statistic and quality flag.",
    ),
    "performance_metrics": TableSchema(
        "model_name string, score_date date, model_version int, labeled_rows bigint, "
        "predicted_rows bigint, positives bigint, auc double, precision double, recall double, "
        "accuracy double, threshold double, reference_auc double, labels_through date, "
        "run_id string, computed_at timestamp",
        ("model_name",),
        doc="Performance of past predictions once their late labels arrive, per model and scoring date.",
    ),
    "labels": TableSchema(
        "model_name string, row_id string, label int, label_date date, source_uri string, "
        "run_id string, loaded_at timestamp",
        ("model_name", "label_date"),
        doc="Late ground truth as it arrives, one partition per model and arrival date.",
    ),
    "monitoring_decisions": TableSchema(
        "model_name string, score_date date, run_id string, model_version int, degraded boolean, "
        "signals string, consecutive_degraded int, retrain boolean, reason string, "
        "triggered_dag_id string, decided_at timestamp",
        append_only=True,
        doc="The retraining policy's verdict after every scoring run: the signals, the streak, the action.",
    ),
    "model_registry": TableSchema(
        "model_name string, version int, event string, alias string, run_id string, dag_id string, "
        "actor string, reason string, artifact_uri string, booster_sha256 string, "
        "manifest_sha256 string, metrics string, spec_hash string, training_inputs string, "
        "params string, code_version string, event_time timestamp",
        ("model_name",),
        append_only=True,
        doc="Append-only model events (registered, promoted, demoted, archived, retired); aliases derive from them.",
    ),
    "promotion_decisions": TableSchema(
        "model_name string, version int, run_id string, champion_version int, checks string, "
        "promoted boolean, reason string, approval string, approver string, approval_comment string, "
        "decided_at timestamp",
        append_only=True,
        doc="Every promotion decision: each check's value, threshold and verdict, and the human approval.",
    ),
    "shap_importance": TableSchema(
        "model_name string, version int, feature string, mean_abs_shap double, rank int, "
        "rows_explained bigint, computed_at timestamp",
        ("model_name",),
        doc="Global SHAP ranking of each model version (mean |SHAP| per feature), for attribution drift.",
    ),
    "source_schemas": TableSchema(
        "model_name string, source string, schema_version int, columns string, changes string, "
        "source_uri string, run_id string, recorded_at timestamp",
        append_only=True,
        doc="Each schema seen for a model's training or scoring source; a new version when it changes.",
    ),
    "feature_catalog": TableSchema(
        "feature_name string, definition string, kind string, dtype string, source_columns array<string>, "
        "owner string, models array<string>, "
        "model_versions array<struct<model:string,first_version:int,last_version:int>>, updated_at timestamp",
        doc="One row per feature (name and definition): what it is, where it comes from, who uses it.",
    ),
    "lineage": TableSchema(
        "lineage_id string, run_id string, dag_id string, task_id string, try_number int, "
        "logical_date timestamp, trigger_type string, triggered_by string, model_name string, "
        f"model_version int, inputs array<{TABLE_REF}>, outputs array<{TABLE_REF}>, "
        "params string, code_version string, status string, error string, "
        "started_at timestamp, ended_at timestamp",
        append_only=True,
        doc="One row per task attempt: what it read and wrote (with Delta versions), who/what triggered it.",
    ),
}


def delta_version(spark: SparkSession, path: str) -> int | None:
    """Current version of a Delta table, or None when there is no table at ``path``."""
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, path):
        return None
    row = DeltaTable.forPath(spark, path).history(1).select("version").first()
    return int(row["version"]) if row else None


def ensure_table(spark: SparkSession, path: str, schema: TableSchema) -> None:
    """Create an empty Delta table with the schema and partitioning when none exists."""
    from delta.tables import DeltaTable

    if DeltaTable.isDeltaTable(spark, path):
        return
    empty = spark.createDataFrame([], schema.ddl)
    writer = empty.write.format("delta").mode("ignore")
    if schema.partition_by:
        writer = writer.partitionBy(*schema.partition_by)
    writer.save(path)


def conform(df: DataFrame, ddl: str) -> DataFrame:
    """Select and cast ``df``'s columns to the schema, naming any column it lacks."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    target = StructType.fromDDL(ddl)
    missing = [f.name for f in target.fields if f.name not in df.columns]
    if missing:
        raise ValueError(f"cannot write: columns {missing} are missing (have {df.columns})")
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in target.fields])


def append_rows(spark: SparkSession, path: str, schema: TableSchema, rows: list[dict[str, Any]]) -> int:
    """Append Python rows to a table (created on first use); returns the new table version."""
    ensure_table(spark, path, schema)
    if rows:
        spark.createDataFrame(rows, schema.ddl).write.format("delta").mode("append").save(path)
    return delta_version(spark, path) or 0


def replace_partition(
    spark: SparkSession, df: DataFrame, path: str, predicate: str, partition_by: tuple[str, ...] = ()
) -> int:
    """Overwrite exactly the rows matching ``predicate`` with ``df`` (idempotent reruns)."""
    from delta.tables import DeltaTable

    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    if not DeltaTable.isDeltaTable(spark, path) and partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)
    return delta_version(spark, path) or 0


def replace_platform_partition(
    spark: SparkSession, name: str, path: str, df: DataFrame, predicate: str
) -> int:
    schema = PLATFORM_SCHEMAS[name]
    ensure_table(spark, path, schema)
    return replace_partition(spark, conform(df, schema.ddl), path, predicate)


def sql_literal(value: str) -> str:
    """A value quoted for a replaceWhere predicate."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
