"""Ingest a source file into the bronze Delta table, losslessly.

Bronze keeps every declared column as a string, exactly as read, plus a row id, the batch id,
the source file and any malformed line in ``_corrupt_record``; typing and judging the values is
validation's job, so a bad value is never lost at ingest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlplatform.config.spec_sections import SourceSpec
from mlplatform.config.specs import ModelSpec
from mlplatform.core.errors import DataProblem
from mlplatform.io.delta import replace_partition, sql_literal

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CORRUPT = "_corrupt_record"
META_COLUMNS = ("_batch_id", "_row_id", "_source_file", "_ingested_at", CORRUPT)


class SourceError(DataProblem, ValueError):
    """The source file is missing, unreadable, or lacks a declared column."""


def source_schema(spark: SparkSession, source: SourceSpec, uri: str) -> dict[str, str]:
    """The file's columns and Spark types (CSV columns are all strings: no type inference)."""
    reader = spark.read.format(source.format).options(**source.options)
    try:
        schema = reader.load(uri).schema
    except Exception as exc:  # Spark raises AnalysisException and friends; the message is what matters
        raise SourceError(f"cannot read source file {uri} ({source.format}): {exc}") from exc
    return {f.name: f.dataType.simpleString() for f in schema.fields}


def read_source(
    spark: SparkSession, spec: ModelSpec, source: SourceSpec, uri: str, *, require_target: bool
) -> tuple[DataFrame, list[str]]:
    """The source as all-string columns (declared columns only) and the undeclared extras."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    present = list(source_schema(spark, source, uri))
    declared = spec.columns.raw_columns
    needed = [c for c in declared if require_target or c != spec.columns.target]
    missing = [c for c in needed if c not in present]
    if missing:
        raise SourceError(
            f"source file {uri} for model '{spec.name}' lacks declared column(s) {missing}; it has {present}"
        )
    extras = [c for c in present if c not in declared]
    reader = spark.read.format(source.format).options(**source.options)
    if source.format in ("csv", "json"):
        fields = [StructField(c, StringType()) for c in present] + [StructField(CORRUPT, StringType())]
        reader = reader.schema(StructType(fields)).option("mode", "PERMISSIVE")
        reader = reader.option("columnNameOfCorruptRecord", CORRUPT)
        df = reader.load(uri)
    else:
        df = reader.load(uri).withColumn(CORRUPT, F.lit(None).cast("string"))
    cols = [
        (F.col(c).cast("string") if c in present else F.lit(None).cast("string")).alias(c) for c in declared
    ]
    return df.select(*cols, F.col(CORRUPT), F.input_file_name().alias("_source_file")), extras


def ingest_to_bronze(
    spark: SparkSession,
    spec: ModelSpec,
    source: SourceSpec,
    uri: str,
    bronze_uri: str,
    batch_id: str,
    *,
    require_target: bool,
) -> dict[str, object]:
    """Replace the batch's bronze partition with the source file; returns counts and the version."""
    from pyspark.sql import functions as F

    df, extras = read_source(spark, spec, source, uri, require_target=require_target)
    df = df.cache()
    rows = df.count()
    bronze = df.select(
        F.lit(batch_id).alias("_batch_id"),
        F.concat_ws(":", F.lit(batch_id), F.monotonically_increasing_id().cast("string")).alias("_row_id"),
        *[F.col(c) for c in spec.columns.raw_columns],
        F.col("_source_file"),
        F.current_timestamp().alias("_ingested_at"),
        F.col(CORRUPT),
    )
    version = replace_partition(
        spark, bronze, bronze_uri, f"_batch_id = {sql_literal(batch_id)}", partition_by=("_batch_id",)
    )
    df.unpersist()
    return {"rows": rows, "bronze_version": version, "extra_columns": extras, "source_uri": uri}


def read_batch(spark: SparkSession, table_uri: str, batch_id: str) -> DataFrame:
    from pyspark.sql import functions as F

    return spark.read.format("delta").load(table_uri).where(F.col("_batch_id") == batch_id)
