"""The append-only lineage log.

Every task attempt appends one row: which run and task, how the run was triggered and by whom,
the tables it read and wrote with their Delta versions, the model version it touched, and its
outcome. The context is built by the Airflow glue; nothing here knows about Airflow.
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
    from pyspark.sql import SparkSession

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


@contextmanager
def record_lineage(
    spark: SparkSession, lineage_uri: str, ctx: RunContext, model_name: str | None = None
) -> Iterator[LineageEntry]:
    """Collect a task's lineage and append it, as ``success`` or ``failed`` with the error.

    When the failed row cannot be appended either (the same full disk, say), that is logged and the
    step's own error is raised: it names what the step failed to do, the lineage write does not.
    """
    entry = LineageEntry(model_name=model_name)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    try:
        yield entry
    except BaseException as exc:
        entry.params["duration_s"] = round(time.monotonic() - t0, 3)
        row = lineage_row(
            ctx,
            entry,
            status="failed",
            started_at=started,
            ended_at=datetime.now(UTC),
            error=f"{type(exc).__name__}: {exc}"[:4000],
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
        raise
    entry.params["duration_s"] = round(time.monotonic() - t0, 3)
    row = lineage_row(ctx, entry, status="success", started_at=started, ended_at=datetime.now(UTC))
    append_rows(spark, lineage_uri, TABLES["lineage"], [row])
