"""The few Delta write patterns the platform uses, over tables declared in the catalog.

Append-only tables are created with ``delta.appendOnly=true``, so Delta itself refuses an update
or delete there. Data tables are written per partition with ``replaceWhere``, so a rerun for the
same logical date replaces, never duplicates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplatform.core.errors import EnvironmentProblem, TransientError
from mlplatform.io.catalog import TableSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class TableWriteError(TransientError, EnvironmentProblem):
    """A Delta write failed for a reason of the storage (full disk, permissions, an outage).

    Delta commits atomically, so the table stays at its previous version; the message names the
    table and the root cause that Spark buries in a Java stack trace. A retry may pass once the
    storage recovers.
    """


class TableSchemaError(TableWriteError):
    """The table on disk has other column types than the catalog declares: it needs a migration."""

    permanent = True


CREATE_RACE_SECONDS = 10.0
_STORAGE_FAILURES = ("IOException", "FSError", "AccessDenied", "No space left", "Permission denied")


def root_cause(exc: BaseException) -> str:
    """The innermost cause's message: for a Py4J error, the Java exception's last cause."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            while java.getCause() is not None:
                java = java.getCause()
            return f"{java.getClass().getName()}: {java.getMessage()}"
        except Exception:  # a dead gateway cannot be asked; fall back to the Python text
            pass
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def save(writer: Any, path: str) -> None:
    """``writer.save(path)``, with a storage failure reported as ``TableWriteError`` naming the table."""
    from py4j.protocol import Py4JJavaError

    try:
        writer.save(path)
    except Py4JJavaError as exc:
        cause = root_cause(exc)
        if not any(mark in cause for mark in _STORAGE_FAILURES):
            raise  # analysis errors and Delta's concurrent-commit conflicts keep their own type
        raise TableWriteError(f"cannot write Delta table {path}: {cause}") from exc


def delta_version(spark: SparkSession, path: str) -> int | None:
    """Current version of a Delta table, or None when there is no table at ``path``."""
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, path):
        return None
    row = DeltaTable.forPath(spark, path).history(1).select("version").first()
    return int(row["version"]) if row else None


def ensure_table(spark: SparkSession, path: str, table: TableSpec) -> None:
    """Create the table from its catalog entry (schema, partitioning, append-only) when absent.

    Writers may race to create a table. A losing creator can see the winner's half-made location
    ("not empty and also not a Delta table") before its first commit lands, so a failed create is
    retried for a few seconds; the error is raised only when the location never becomes a table.
    """
    from delta.tables import DeltaTable
    from pyspark.sql.types import StructType
    from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

    if DeltaTable.isDeltaTable(spark, path):
        _add_declared_columns(spark, path, table)
        return
    builder = (
        DeltaTable.createIfNotExists(spark)
        .location(path)
        .addColumns(StructType.fromDDL(table.ddl))
        .comment(table.doc)
    )
    if table.partition_by:
        builder = builder.partitionedBy(*table.partition_by)
    if table.append_only:
        builder = builder.property("delta.appendOnly", "true")

    def create() -> None:
        if DeltaTable.isDeltaTable(spark, path):
            return
        try:
            builder.execute()
        except Exception:
            if not DeltaTable.isDeltaTable(spark, path):  # another writer's table is the outcome we wanted
                raise

    try:
        Retrying(
            retry=retry_if_exception_type(Exception),
            stop=stop_after_delay(CREATE_RACE_SECONDS),
            wait=wait_exponential(multiplier=0.1, max=1.0),
            reraise=True,
        )(create)
    except Exception as exc:
        raise TableWriteError(f"cannot create Delta table {path}: {root_cause(exc)}") from exc


def _add_declared_columns(spark: SparkSession, path: str, table: TableSpec) -> None:
    """A table made by an earlier release gains the columns its catalog entry has declared since
    (nullable: its old rows read null). A column whose type changed is refused by name, before
    any write: Delta would otherwise fail the write with a merge error naming neither."""
    from pyspark.sql.types import StructType

    declared = StructType.fromDDL(table.ddl)

    def existing() -> dict[str, Any]:
        return {f.name: f.dataType for f in spark.read.format("delta").load(path).schema}

    have = existing()
    changed = [
        f"'{f.name}' is {have[f.name].simpleString()}, declared {f.dataType.simpleString()}"
        for f in declared
        if f.name in have and have[f.name].simpleString() != f.dataType.simpleString()  # nullability aside
    ]
    if changed:
        raise TableSchemaError(
            f"Delta table {path} has other column types than the catalog declares ({'; '.join(changed)}): "
            "migrate it (ALTER TABLE ... ALTER COLUMN ... TYPE where Delta can widen it, else rewrite it)"
        )
    missing = [f for f in declared if f.name not in have]
    if not missing:
        return
    columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
    try:
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({columns})")
    except Exception as exc:
        if any(f.name not in existing() for f in missing):  # not a racing writer's identical ALTER
            raise TableWriteError(
                f"cannot add columns {columns} to Delta table {path}: {root_cause(exc)}"
            ) from exc


def conform(df: DataFrame, ddl: str) -> DataFrame:
    """Select and cast ``df``'s columns to the schema, naming any column it lacks."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    target = StructType.fromDDL(ddl)
    missing = [f.name for f in target.fields if f.name not in df.columns]
    if missing:
        raise ValueError(f"cannot write: columns {missing} are missing (have {df.columns})")
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in target.fields])


def append_rows(spark: SparkSession, path: str, table: TableSpec, rows: list[dict[str, Any]]) -> int:
    """Append Python rows to a table (created on first use); returns the new table version."""
    ensure_table(spark, path, table)
    if rows:
        save(spark.createDataFrame(rows, table.ddl).write.format("delta").mode("append"), path)
    return delta_version(spark, path) or 0


def replace_partition(
    spark: SparkSession, df: DataFrame, path: str, predicate: str, partition_by: tuple[str, ...] = ()
) -> int:
    """Overwrite exactly the rows matching ``predicate`` with ``df`` (idempotent reruns)."""
    from delta.tables import DeltaTable

    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    if not DeltaTable.isDeltaTable(spark, path) and partition_by:
        writer = writer.partitionBy(*partition_by)
    save(writer, path)
    return delta_version(spark, path) or 0


def replace_table_partition(
    spark: SparkSession, table: TableSpec, path: str, df: DataFrame, predicate: str
) -> int:
    """``replace_partition`` for a catalog table: created from its entry, rows conformed to its schema."""
    ensure_table(spark, path, table)
    return replace_partition(spark, conform(df, table.ddl), path, predicate)


def sql_literal(value: str) -> str:
    """A value quoted for a replaceWhere predicate."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
