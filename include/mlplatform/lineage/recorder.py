"""The append-only lineage log.

Every task attempt appends one row: which run and task, how the run was triggered and by whom,
the tables it read and wrote with their Delta versions, the model version it touched, and its
outcome. The context is built by the Airflow glue; nothing here knows about Airflow.

Around the row, the attempt emits OpenLineage START and COMPLETE/FAIL events (``openlineage``), and
every Delta commit it makes carries ``{run_id, dag_id, task_id, try_number, model}`` as its commit
``userMetadata``, so ``DESCRIBE HISTORY`` tells which run wrote each version.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlplatform.core.context import RunContext
from mlplatform.core.provenance import code_version
from mlplatform.io.catalog import TABLES
from mlplatform.io.delta import append_rows

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pyspark.sql import SparkSession

    from mlplatform.config.settings import Settings
    from mlplatform.config.specs import ModelSpec
    from mlplatform.lineage.openlineage import LineageEmitter

log = logging.getLogger("mlplatform.lineage")


@dataclass
class TableRef:
    """A table read or written, with the Delta version seen (None for plain files)."""

    name: str
    uri: str
    version: int | None = None

    def as_row(self) -> dict[str, Any]:
        return {"name": self.name, "uri": self.uri, "version": self.version}


@dataclass
class LineageEntry:
    """What a task collects while it runs; appended as one lineage row at the end."""

    model_name: str | None = None
    model_version: int | None = None
    inputs: list[TableRef] = field(default_factory=list)
    outputs: list[TableRef] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    # For the OpenLineage events only (not the lineage row): the model's spec (schemas, column
    # lineage) and the handoffs the step was given.
    spec: ModelSpec | None = None
    step_inputs: dict[str, Any] = field(default_factory=dict)
    # The platform step, when an Airflow task runs several (retirement's final_scoring does).
    step: str | None = None

    def read(self, name: str, uri: str, version: int | None = None) -> None:
        self.inputs.append(TableRef(name, uri, version))

    def wrote(self, name: str, uri: str, version: int | None = None) -> None:
        self.outputs.append(TableRef(name, uri, version))


def lineage_row(
    ctx: RunContext,
    entry: LineageEntry,
    *,
    status: str,
    started_at: datetime,
    ended_at: datetime,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "lineage_id": str(uuid.uuid4()),
        "run_id": ctx.run_id,
        "dag_id": ctx.dag_id,
        "task_id": ctx.task_id,
        "try_number": ctx.try_number,
        "logical_date": ctx.logical_date,
        "trigger_type": str(ctx.trigger_type),
        "triggered_by": ctx.triggered_by,
        "model_name": entry.model_name,
        "model_version": entry.model_version,
        "inputs": [t.as_row() for t in entry.inputs],
        "outputs": [t.as_row() for t in entry.outputs],
        "params": json.dumps({**entry.params, "conf": ctx.conf}, default=str, sort_keys=True),
        "code_version": code_version(),
        "status": status,
        "error": error,
        "started_at": started_at,
        "ended_at": ended_at,
    }


USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


def commit_metadata(ctx: RunContext, model_name: str | None) -> str:
    """The ``userMetadata`` every Delta commit of the attempt carries (JSON)."""
    fields = {
        "run_id": ctx.run_id,
        "dag_id": ctx.dag_id,
        "task_id": ctx.task_id,
        "try_number": ctx.try_number,
        "model": model_name,
    }
    return json.dumps(fields, sort_keys=True)


@contextmanager
def commit_user_metadata(spark: SparkSession, value: str) -> Iterator[None]:
    """Stamp the session's Delta commits with ``value``; the previous setting is restored after."""
    previous = spark.conf.get(USER_METADATA, None)
    spark.conf.set(USER_METADATA, value)
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(USER_METADATA)
        else:
            spark.conf.set(USER_METADATA, previous)


@contextmanager
def record_lineage(
    spark: SparkSession,
    lineage_uri: str,
    ctx: RunContext,
    model_name: str | None = None,
    *,
    settings: Settings | None = None,
    spec: ModelSpec | None = None,
    inputs: Mapping[str, Any] | None = None,
    step: str | None = None,
) -> Iterator[LineageEntry]:
    """Collect a task's lineage and append it, as ``success`` or ``failed`` with the error.

    When the failed row cannot be appended either (the same full disk, say), that is logged and the
    step's own error is raised: it names what the step failed to do, the lineage write does not.
    OpenLineage START is emitted first, COMPLETE or FAIL after the row; emitting never fails the step.
    """
    from mlplatform.config.settings import get_settings
    from mlplatform.lineage.openlineage import LineageEmitter

    entry = LineageEntry(
        model_name=model_name,
        spec=spec,
        step_inputs=dict(inputs or {}),
        step=step if step != ctx.task_id else None,
    )
    emitter = LineageEmitter.from_settings(settings or get_settings())
    with commit_user_metadata(spark, commit_metadata(ctx, model_name)):
        try:
            _emit(emitter, "START", ctx, entry)
            yield from _record(spark, lineage_uri, ctx, entry, emitter)
        finally:
            emitter.close()


def _record(
    spark: SparkSession, lineage_uri: str, ctx: RunContext, entry: LineageEntry, emitter: LineageEmitter
) -> Iterator[LineageEntry]:
    started = datetime.now(UTC)
    t0 = time.monotonic()
    try:
        yield entry
    except BaseException as exc:
        entry.params["duration_s"] = round(time.monotonic() - t0, 3)
        error = f"{type(exc).__name__}: {exc}"[:4000]
        row = lineage_row(
            ctx, entry, status="failed", started_at=started, ended_at=datetime.now(UTC), error=error
        )
        try:
            append_rows(spark, lineage_uri, TABLES["lineage"], [row])
        except Exception as lineage_exc:
            log.error(
                "could not record the failed lineage row of task %s (run %s) in %s: %s",
                ctx.task_id,
                ctx.run_id,
                lineage_uri,
                lineage_exc,
            )
        _emit(emitter, "FAIL", ctx, entry, error=error, spark=spark)
        raise
    entry.params["duration_s"] = round(time.monotonic() - t0, 3)
    row = lineage_row(ctx, entry, status="success", started_at=started, ended_at=datetime.now(UTC))
    try:
        append_rows(spark, lineage_uri, TABLES["lineage"], [row])
    except BaseException as exc:
        _emit(
            emitter, "FAIL", ctx, entry, error=f"lineage row not recorded: {type(exc).__name__}: {exc}"[:4000]
        )
        raise
    _emit(emitter, "COMPLETE", ctx, entry, spark=spark)


def _emit(
    emitter: LineageEmitter,
    state: str,
    ctx: RunContext,
    entry: LineageEntry,
    *,
    error: str | None = None,
    spark: SparkSession | None = None,
) -> None:
    from mlplatform.lineage.openlineage import RunState, build_event

    if emitter.client is None:
        return
    assertions = _validation_assertions(spark, ctx, entry) if spark is not None else None
    emitter.emit(
        lambda: build_event(
            RunState[state],
            ctx,
            entry,
            namespace=emitter.namespace,
            code_version=code_version(),
            error=error,
            assertions=assertions,
            storage_root=emitter.storage_root,
        )
    )


def _validation_assertions(
    spark: SparkSession, ctx: RunContext, entry: LineageEntry
) -> list[dict[str, Any]] | None:
    """The GX results this attempt wrote to ``validation_results`` (None when it wrote none)."""
    ref = next((t for t in entry.outputs if t.name == "validation_results" and t.version is not None), None)
    batch = entry.params.get("result") or entry.step_inputs.get("batch")
    batch = batch.model_dump() if hasattr(batch, "model_dump") else batch
    batch_id = batch.get("batch_id") if isinstance(batch, dict) else None
    if ref is None or not batch_id:
        return None
    try:
        from pyspark.sql import functions as F

        rows = (
            spark.read.format("delta")
            .option("versionAsOf", int(ref.version))  # type: ignore[arg-type]
            .load(ref.uri)
            .where(
                (F.col("model_name") == entry.model_name)
                & (F.col("batch_id") == batch_id)
                & (F.col("run_id") == ctx.run_id)
            )
            .select(
                "expectation", "column", "success", "unexpected_count", "unexpected_percent", "element_count"
            )
            .collect()
        )
    except Exception as exc:
        log.warning("OpenLineage: no data-quality assertions for batch %s: %s", batch_id, exc)
        return None
    return [r.asDict() for r in rows]
