"""Run context and the append-only lineage log.

Every task attempt appends one row: which run and task, how the run was triggered and by whom,
the tables it read and wrote with their Delta versions, the model version it touched, and its
outcome. The context is built by the Airflow glue; nothing here knows about Airflow.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mlplatform.config.settings import PROJECT_ROOT
from mlplatform.io.catalog import TABLES
from mlplatform.io.delta import append_rows

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TRIGGER_TYPES = ("manual", "scheduled", "api", "asset", "backfill", "policy", "test")


@dataclass(frozen=True)
class RunContext:
    """Who and what is running: the facts lineage records about a task attempt."""

    run_id: str
    dag_id: str
    task_id: str
    logical_date: datetime
    trigger_type: str = "manual"
    triggered_by: str | None = None
    try_number: int = 1
    conf: dict[str, Any] = field(default_factory=dict)

    @property
    def ds(self) -> str:
        return self.logical_date.strftime("%Y-%m-%d")

    @property
    def reason(self) -> str:
        return str(self.conf.get("reason") or "")

    def for_task(self, task_id: str) -> RunContext:
        return RunContext(
            self.run_id,
            self.dag_id,
            task_id,
            self.logical_date,
            self.trigger_type,
            self.triggered_by,
            self.try_number,
            self.conf,
        )


def classify_trigger(run_type: str | None, conf: dict[str, Any] | None) -> str:
    """Map Airflow's run type (and the conf's ``trigger_source``) to a lineage trigger type.

    Airflow gives UI and REST API runs the same run type ("manual"); the REST call documented in
    the README sets ``conf.trigger_source = "api"`` so that lineage can tell them apart.
    """
    source = str((conf or {}).get("trigger_source") or "").lower()
    kind = (run_type or "manual").lower()
    if kind == "scheduled":
        return "scheduled"
    if kind == "backfill":
        return "backfill"
    if kind.startswith("asset") or kind == "dataset_triggered":
        return "asset"
    if source in TRIGGER_TYPES:
        return source
    return "manual"


@lru_cache(maxsize=1)
def code_version() -> str:
    """Git commit of the project (with ``-dirty`` for local edits), or ``unknown``."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not sha:
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


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
        "trigger_type": ctx.trigger_type,
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
    """Collect a task's lineage and append it, as ``success`` or ``failed`` with the error."""
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
        append_rows(spark, lineage_uri, TABLES["lineage"], [row])
        raise
    entry.params["duration_s"] = round(time.monotonic() - t0, 3)
    row = lineage_row(ctx, entry, status="success", started_at=started, ended_at=datetime.now(UTC))
    append_rows(spark, lineage_uri, TABLES["lineage"], [row])
