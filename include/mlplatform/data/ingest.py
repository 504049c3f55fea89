"""Ingest a source file into the bronze Delta table, losslessly.

Bronze keeps every declared column as a string, exactly as read, plus a row id, the batch id,
the source file and any malformed line in ``_corrupt_record``; typing and judging the values is
validation's job, so a bad value is never lost at ingest. A line whose bytes are invalid in the
source's declared encoding is never decoded with replacement characters: it becomes a bronze row
whose ``_corrupt_record`` holds its raw bytes in base64 (after ``UNDECODABLE_MARKER``), and
validation quarantines it.

Columns are renamed here (``columns.rename``: source name → spec name), so bronze and everything
downstream use the spec's names; the source names stay in the ingest's lineage (``renamed``) and
in errors. CSV files are read with RFC 4180 quoting (a quote inside a quoted value is doubled;
the spec's ``source.options`` may set ``escape`` otherwise), and every value keeps
its exact text: ``'<100'``, ``1<=X<4`` or ``other`` reach bronze as written.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mlplatform.config.spec_sections import SourceSpec
from mlplatform.config.specs import ModelSpec
from mlplatform.core.errors import DataProblem
from mlplatform.io.delta import replace_partition, sql_literal

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

CORRUPT = "_corrupt_record"
UNDECODABLE_MARKER = "[undecodable bytes, base64] "
# Bytes (as hex pairs) that windows-1252 leaves undefined, and that ASCII does not have.
_INVALID_HEX = {"windows-1252": "81|8D|8F|90|9D", "US-ASCII": "[89A-F][0-9A-F]"}
META_COLUMNS = ("_batch_id", "_row_id", "_source_file", "_ingested_at", CORRUPT)

log = logging.getLogger("mlplatform.data")


class SourceError(DataProblem, ValueError):
    """The source file is missing, unreadable, or lacks a declared column."""


def read_options(source: SourceSpec) -> dict[str, str]:
    """The Spark reader options of a source: the spec's, the encoding, and for CSV the RFC 4180
    escape (a doubled quote) unless the spec sets ``escape``; Spark's own default, a backslash,
    would keep a doubled quote inside a quoted value as written, outer quotes and all."""
    options = source.reader_options()
    if source.format == "csv" and not any(k.lower() == "escape" for k in options):
        options["escape"] = '"'
    return options


def source_schema(spark: SparkSession, source: SourceSpec, uri: str) -> dict[str, str]:
    """The file's columns (source names) and Spark types (CSV columns are all strings: no inference)."""
    reader = spark.read.format(source.format).options(**read_options(source))
    try:
        schema = reader.load(uri).schema
    except Exception as exc:  # Spark raises AnalysisException and friends; the message is what matters
        raise SourceError(f"cannot read source file {uri} ({source.format}): {exc}") from exc
    return {f.name: f.dataType.simpleString() for f in schema.fields}


def check_columns(spec: ModelSpec, present: list[str], uri: str, *, require_target: bool) -> None:
    """Refuse a file that lacks a declared column (the target only matters for training); a
    renamed column is named by its source name and its spec name."""
    cols = spec.columns
    needed = [c for c in cols.raw_columns if require_target or c != cols.target]
    missing = [c for c in needed if cols.source_name(c) not in present]
    if missing:
        named = [
            f"'{cols.source_name(c)}' (spec column '{c}', columns.rename)" if cols.source_name(c) != c else c
            for c in missing
        ]
        raise SourceError(
            f"source file {uri} for model '{spec.name}' lacks declared column(s) {named}; it has {present}"
        )


def renamed_columns(spec: ModelSpec, present: list[str]) -> dict[str, str]:
    """The renames applied to a file: its source name → the spec's name, for columns it has."""
    return {src: dst for src, dst in spec.columns.rename.items() if src in present and src != dst}


def read_source(
    spark: SparkSession, spec: ModelSpec, source: SourceSpec, uri: str, *, require_target: bool
) -> tuple[DataFrame, list[str], dict[str, str]]:
    """The source as all-string columns (declared columns only, under the spec's names), the
    undeclared extras (source names) and the renames applied (source name → spec name)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    present = list(source_schema(spark, source, uri))
    check_columns(spec, present, uri, require_target=require_target)
    declared = spec.columns.raw_columns
    source_names = {c: spec.columns.source_name(c) for c in declared}
    extras = [c for c in present if c not in source_names.values()]
    if source.format in ("csv", "json"):
        fields = [StructField(c, StringType()) for c in present] + [StructField(CORRUPT, StringType())]
        df = _read_text_format(spark, source, uri, StructType(fields))
    else:
        df = spark.read.format(source.format).options(**source.options).load(uri)
        df = df.withColumn(CORRUPT, F.lit(None).cast("string")).withColumn(
            "_source_file", F.input_file_name()
        )
    cols = [
        (
            F.col(f"`{source_names[c]}`").cast("string")
            if source_names[c] in present
            else F.lit(None).cast("string")
        ).alias(c)
        for c in declared
    ]
    return df.select(*cols, F.col(CORRUPT), F.col("_source_file")), extras, renamed_columns(spec, present)


def _valid_in(encoding: str) -> Column:
    """Whether a raw line (``value`` of Spark's text reader, bytes untouched) is valid in ``encoding``."""
    from pyspark.sql import functions as F

    if encoding == "UTF-8":
        return F.expr("is_valid_utf8(value)")
    if encoding in _INVALID_HEX:
        return ~F.hex(F.col("value").cast("binary")).rlike(f"^(..)*?({_INVALID_HEX[encoding]})")
    return F.lit(True)  # ISO-8859-1 and -15 give every byte a character


def _read_text_format(spark: SparkSession, source: SourceSpec, uri: str, schema: StructType) -> DataFrame:
    """A CSV or JSON-lines source, PERMISSIVE, with lines invalid in its encoding kept as raw bytes.

    The common case (every line valid) is Spark's own reader on the file. Otherwise the valid lines
    of each file are decoded and parsed by the same reader, and each invalid line becomes a row
    whose only value is ``_corrupt_record``: the marker and the line's bytes in base64.
    """
    from pyspark.sql import functions as F

    options = {**read_options(source), "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    lines = spark.read.text(uri).select("value", F.input_file_name().alias("_source_file"))
    lines = lines.withColumn("_valid", _valid_in(source.java_encoding))
    invalid = lines.where(~F.col("_valid")).cache()
    if invalid.isEmpty():
        invalid.unpersist()
        reader = spark.read.format(source.format).options(**options).schema(schema)
        return reader.load(uri).withColumn("_source_file", F.input_file_name())
    if str(source.options.get("multiLine", source.options.get("multiline", "false"))).lower() == "true":
        count = invalid.count()
        raise SourceError(
            f"source file {uri}: {count} line(s) hold bytes that are not valid {source.encoding} "
            "(source.encoding), and with multiLine records they cannot be set apart; nothing was ingested"
        )
    undecodable = invalid.select(
        *[F.lit(None).cast("string").alias(f.name) for f in schema.fields if f.name != CORRUPT],
        F.concat(F.lit(UNDECODABLE_MARKER), F.base64(F.col("value").cast("binary"))).alias(CORRUPT),
        F.col("_source_file"),
    )
    parsed = []
    for row in lines.select("_source_file").distinct().collect():
        name = row["_source_file"]
        good = lines.where(F.col("_valid") & (F.col("_source_file") == name))
        text = good.select(F.decode(F.col("value").cast("binary"), source.java_encoding).alias("line"))
        rdd = text.rdd.map(lambda r: r["line"])
        reader = spark.read.options(**options).schema(schema)
        frame = reader.csv(rdd) if source.format == "csv" else reader.json(rdd)
        parsed.append(frame.withColumn("_source_file", F.lit(name)))
    out = undecodable
    for frame in parsed:
        out = out.unionByName(frame)
    return out


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

    df, extras, renamed = read_source(spark, spec, source, uri, require_target=require_target)
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
    log.info(
        "ingested %s rows of %s into %s (batch %s); renamed %s", rows, uri, bronze_uri, batch_id, renamed
    )
    return {
        "rows": rows,
        "bronze_version": version,
        "extra_columns": extras,
        "renamed": renamed,
        "source_uri": uri,
    }


def read_batch(spark: SparkSession, table_uri: str, batch_id: str) -> DataFrame:
    from pyspark.sql import functions as F

    return spark.read.format("delta").load(table_uri).where(F.col("_batch_id") == batch_id)
