"""Schema drift: compare a source file's columns and types with the schema recorded for it.

The first file seen for a model's training or scoring source records its schema; later files are
compared with the latest recorded version. New columns, dropped columns and type changes are
reported (lineage, and a new schema version) and handled by the spec's policy, never silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlplatform.config.specs import ModelSpec
from mlplatform.core.errors import DataProblem
from mlplatform.io.catalog import TABLES
from mlplatform.io.delta import append_rows

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SchemaDriftError(DataProblem, ValueError):
    """A source file's schema changed in a way the spec's policy does not accept."""


@dataclass(frozen=True)
class SchemaDiff:
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    type_changed: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.dropped or self.type_changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "dropped": self.dropped,
            "type_changed": {k: {"was": a, "now": b} for k, (a, b) in self.type_changed.items()},
        }


def compare(recorded: dict[str, str], observed: dict[str, str]) -> SchemaDiff:
    """Columns added, dropped and retyped between two ``{column: type}`` schemas."""
    return SchemaDiff(
        added=[c for c in observed if c not in recorded],
        dropped=[c for c in recorded if c not in observed],
        type_changed={
            c: (recorded[c], observed[c]) for c in observed if c in recorded and recorded[c] != observed[c]
        },
    )


def policy_violations(spec: ModelSpec, diff: SchemaDiff, uri: str) -> list[str]:
    """What the spec's policy refuses in this diff, each naming the file and columns."""
    declared = {spec.columns.source_name(c) for c in spec.columns.raw_columns}  # the file's names
    problems = []
    if diff.added and spec.validation.extra_columns == "fail":
        problems.append(
            f"source file {uri} has new column(s) {diff.added} not in the recorded schema "
            f"(spec '{spec.name}' field validation.extra_columns is 'fail')"
        )
    retyped = {c: t for c, t in diff.type_changed.items() if c in declared}
    if retyped and spec.validation.type_changes == "fail":
        detail = ", ".join(f"'{c}' {a} → {b}" for c, (a, b) in retyped.items())
        problems.append(
            f"source file {uri} changed the type of column(s) {detail} "
            f"(spec '{spec.name}' field validation.type_changes is 'fail')"
        )
    return problems


def latest_schema(
    spark: SparkSession, uri: str, model: str, source: str
) -> tuple[int, dict[str, str]] | None:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if not DeltaTable.isDeltaTable(spark, uri):
        return None
    row = (
        spark.read.format("delta")
        .load(uri)
        .where((F.col("model_name") == model) & (F.col("source") == source))
        .orderBy(F.desc("schema_version"))
        .first()
    )
    if row is None:
        return None
    return int(row["schema_version"]), dict(json.loads(row["columns"]))


def plan_schema(
    spark: SparkSession,
    table_uri: str,
    spec: ModelSpec,
    source: str,
    observed: dict[str, str],
    source_uri: str,
    run_id: str,
) -> dict[str, Any]:
    """Compare with the recorded schema and apply the policy; nothing is written yet.

    Returns the schema version and changes, and under ``record`` the row to append once the
    file is accepted (``None`` when the schema is unchanged): a refused file never becomes a
    schema version, so the next good file is not reported as a change.
    """
    latest = latest_schema(spark, table_uri, spec.name, source)
    if latest is None:
        version, diff = 1, SchemaDiff()
    else:
        recorded_version, recorded = latest
        diff = compare(recorded, observed)
        problems = policy_violations(spec, diff, source_uri)
        if problems:
            raise SchemaDriftError("; ".join(problems))
        version = recorded_version + 1 if diff.changed else recorded_version
    record = None
    if latest is None or diff.changed:
        record = {
            "model_name": spec.name,
            "source": source,
            "schema_version": version,
            "columns": json.dumps(observed),
            "changes": json.dumps(diff.as_dict()),
            "source_uri": source_uri,
            "run_id": run_id,
        }
    return {"schema_version": version, "schema_changes": diff.as_dict(), "record": record}


def record_schema(spark: SparkSession, table_uri: str, record: dict[str, Any] | None) -> None:
    """Append a planned schema version (once its file was accepted); a no-op when unchanged.

    A rerun of the same run records its version once.
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if record is None:
        return
    if DeltaTable.isDeltaTable(spark, table_uri):
        same = (
            spark.read.format("delta")
            .load(table_uri)
            .where(
                (F.col("model_name") == record["model_name"])
                & (F.col("source") == record["source"])
                & (F.col("schema_version") == record["schema_version"])
            )
        )
        if not same.isEmpty():
            return
    append_rows(spark, table_uri, TABLES["source_schemas"], [{**record, "recorded_at": datetime.now(UTC)}])
