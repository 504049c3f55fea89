"""The registry's append-only Delta event log: reading and replaying it, and committing to it.

Every write is ONE insert-only Delta ``MERGE`` whose condition re-checks what the writer read
(see ``mlplatform.registry.store`` for the conditions). A MERGE that inserts nothing found its
read outdated (``STALE``); one that Delta fails with a concurrent-modification error lost a race.
Both are retried by ``commit_with_retries`` with jittered exponential backoff, at most
``MAX_COMMIT_ATTEMPTS`` times. Rows are built by ``event_row`` only.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

from mlplatform.core.errors import RegistryError, TransientError
from mlplatform.io.catalog import TABLES
from mlplatform.io.delta import ensure_table

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession

log = logging.getLogger(__name__)

REGISTRY_SCHEMA = TABLES["model_registry"]
#: Events that move aliases or change a version's or model's lifecycle.
LIFECYCLE_EVENTS = ("promoted", "demoted", "archived", "retired")
MAX_COMMIT_ATTEMPTS = 5
BACKOFF_SECONDS = 0.2
#: Delta's concurrent-modification errors, by class name or error-class prefix.
CONFLICT_MARKERS = (
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "ConcurrentWriteException",
    "DeltaConcurrentModificationException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DELTA_CONCURRENT_",
    "DELTA_METADATA_CHANGED",
    "DELTA_PROTOCOL_CHANGED",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")


class CommitConflictError(TransientError, RegistryError):
    """A registry write kept conflicting with concurrent writers and gave up (a later try may pass)."""


class Stale(enum.Enum):
    STALE = "stale"


#: What an attempt returns when its MERGE inserted nothing because another writer committed first.
STALE = Stale.STALE


class CommitStats:
    """Counts of one registry's commits, thread-safe.

    ``commits``: transactions that wrote; ``conflicts``: MERGEs Delta failed because a concurrent
    commit landed during them; ``stale``: MERGEs that inserted nothing because another writer had
    committed after this one read; ``exhausted``: writes that gave up.
    """

    KEYS = ("commits", "conflicts", "stale", "exhausted")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {key: self._counts[key] for key in self.KEYS}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


# --- replaying events (pure) --------------------------------------------------------------------


def registered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``registered`` events, in log order."""
    return [e for e in events if e["event"] == "registered"]


def registered_versions(events: list[dict[str, Any]]) -> set[int]:
    return {int(e["version"]) for e in registered(events)}


def current_aliases(events: list[dict[str, Any]]) -> dict[str, int]:
    """Replay promotion and demotion events into the current alias → version map."""
    aliases: dict[str, int] = {}
    for event in events:
        alias = event.get("alias")
        if not alias:
            continue
        if event["event"] == "promoted":
            aliases[alias] = int(event["version"])
        elif event["event"] in ("demoted", "archived", "retired") and aliases.get(alias) == event["version"]:
            del aliases[alias]
    return aliases


def archived_versions(events: list[dict[str, Any]]) -> set[int]:
    """Versions with an ``archived`` event (archiving is final)."""
    return {int(e["version"]) for e in events if e["event"] == "archived"}


def retirement(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first ``retired`` event of a model's events, or None when it is not retired."""
    return next((e for e in events if e["event"] == "retired"), None)


def lifecycle_state(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Where a model stands: registered versions, aliases, archived versions, retirement."""
    retired = retirement(events)
    return {
        "versions": sorted(registered_versions(events)),
        "aliases": current_aliases(events),
        "archived": sorted(archived_versions(events)),
        "retired": retired is not None,
        "retired_by": retired.get("actor") if retired else None,
        "retired_reason": retired.get("reason") if retired else None,
    }


# --- building rows --------------------------------------------------------------------------------


def event_row(
    model: str,
    version: int,
    event: str,
    *,
    alias: str | None = None,
    run_id: str | None,
    dag_id: str | None,
    actor: str,
    reason: str,
    artifact_uri: str | None = None,
    booster_sha256: str | None = None,
    manifest_sha256: str | None = None,
    metrics: str | None = None,
    spec_hash: str | None = None,
    training_inputs: str | None = None,
    params: str | None = None,
    code_version: str | None = None,
    event_time: datetime | None = None,
) -> dict[str, Any]:
    """One registry row; the only place rows are built, so every writer fills every column."""
    return {
        "model_name": model,
        "version": int(version),
        "event": event,
        "alias": alias,
        "run_id": run_id,
        "dag_id": dag_id,
        "actor": actor,
        "reason": reason,
        "artifact_uri": artifact_uri,
        "booster_sha256": booster_sha256,
        "manifest_sha256": manifest_sha256,
        "metrics": metrics,
        "spec_hash": spec_hash,
        "training_inputs": training_inputs,
        "params": params,
        "code_version": code_version,
        "event_time": event_time,
    }


def stamp_after(micros: int) -> datetime:
    """Now, or 1µs after ``micros`` (epoch µs) when the clock says otherwise: events stay ordered."""
    now_us = (datetime.now(UTC) - _EPOCH) // timedelta(microseconds=1)
    return _EPOCH + timedelta(microseconds=max(now_us, micros + 1))


# --- retrying -------------------------------------------------------------------------------------


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is one of Delta's concurrent-modification errors (retrying may succeed)."""
    names = " ".join(cls.__name__ for cls in type(exc).__mro__)
    text = f"{names}: {exc}"
    return any(marker in text for marker in CONFLICT_MARKERS)


def commit_with_retries(
    model: str,
    action: str,
    attempt: Callable[[], T | Stale],
    *,
    stats: CommitStats,
    backoff_seconds: float = BACKOFF_SECONDS,
) -> T:
    """Run ``attempt`` until it returns something other than ``STALE`` without a Delta conflict.

    Other errors propagate at once. After ``MAX_COMMIT_ATTEMPTS`` stale or conflicting attempts
    this raises ``CommitConflictError`` naming the model and the action.
    """

    def record(state: RetryCallState) -> None:
        failed = state.outcome is not None and state.outcome.failed
        stats.count("conflicts" if failed else "stale")
        why = type(state.outcome.exception()).__name__ if failed else "the registry changed since the read"
        log.info("registry: %s for '%s', attempt %d: %s", action, model, state.attempt_number, why)

    def give_up(state: RetryCallState) -> T:
        stats.count("exhausted")
        last = state.outcome.exception() if state.outcome is not None and state.outcome.failed else None
        raise CommitConflictError(
            f"model '{model}': {action} did not commit after {MAX_COMMIT_ATTEMPTS} attempts because "
            "other writers kept changing the registry at the same time; retry the task"
        ) from last

    retrying = Retrying(
        stop=stop_after_attempt(MAX_COMMIT_ATTEMPTS),
        wait=wait_random_exponential(multiplier=backoff_seconds),
        retry=retry_if_exception(is_conflict) | retry_if_result(lambda value: value is STALE),
        after=record,
        retry_error_callback=give_up,
    )
    return retrying(attempt)  # type: ignore[return-value]


# --- the Delta table --------------------------------------------------------------------------------


class EventLog:
    """The registry table at ``uri``: one read per replay, one conditional MERGE per write."""

    def __init__(self, spark: SparkSession, uri: str, *, backoff_seconds: float = BACKOFF_SECONDS) -> None:
        self.spark = spark
        self.uri = uri
        self.backoff_seconds = backoff_seconds
        self.stats = CommitStats()

    def read(self, model: str) -> tuple[list[dict[str, Any]], int]:
        """The model's events oldest first, and the time of its latest lifecycle event in epoch
        microseconds (-1 when none), both from one read of the table."""
        from delta.tables import DeltaTable
        from pyspark.sql import functions as F

        if not DeltaTable.isDeltaTable(self.spark, self.uri):
            return [], -1
        rows = (
            self.spark.read.format("delta")
            .load(self.uri)
            .where(F.col("model_name") == model)
            .withColumn("_event_us", F.unix_micros("event_time"))
            .orderBy("event_time", "version")
            .collect()
        )
        events: list[dict[str, Any]] = []
        latest = -1
        for row in rows:
            event = row.asDict()
            micros = event.pop("_event_us")
            if event["event"] in LIFECYCLE_EVENTS and micros is not None:
                latest = max(latest, int(micros))
            events.append(event)
        return events, latest

    def events(self, model: str) -> list[dict[str, Any]]:
        return self.read(model)[0]

    def event_time(self, model: str, version: int, event: str) -> datetime:
        """The (UTC) time of the first ``event`` of a version."""
        from pyspark.sql import functions as F

        row = (
            self.spark.read.format("delta")
            .load(self.uri)
            .where((F.col("model_name") == model) & (F.col("version") == version) & (F.col("event") == event))
            .select(F.min(F.unix_micros("event_time")).alias("us"))
            .first()
        )
        if row is None or row["us"] is None:
            raise RegistryError(f"model '{model}' v{version} has no '{event}' event in {self.uri}")
        return _EPOCH + timedelta(microseconds=int(row["us"]))

    def ensure(self) -> None:
        """Create the table when missing; two processes creating it at once is fine."""
        Retrying(
            stop=stop_after_attempt(MAX_COMMIT_ATTEMPTS),
            wait=wait_random_exponential(multiplier=self.backoff_seconds),
            retry=retry_if_exception(is_conflict),
            reraise=True,
        )(ensure_table, self.spark, self.uri, REGISTRY_SCHEMA)

    def commit(self, model: str, action: str, attempt: Callable[[], T | Stale]) -> T:
        """``commit_with_retries`` against this table (created first when missing)."""
        self.ensure()
        return commit_with_retries(
            model, action, attempt, stats=self.stats, backoff_seconds=self.backoff_seconds
        )

    def insert_unless(self, rows: list[dict[str, Any]], condition: Column) -> bool:
        """Insert ``rows`` unless ``condition`` (over target ``t`` and source ``s``) matches an
        existing row, in one Delta transaction. Returns whether they were inserted; raises Delta's
        conflict errors when another commit landed between this transaction's read and its commit."""
        import delta.exceptions.captured  # noqa: F401  (maps Delta's JVM conflict errors to Python classes)
        from delta.tables import DeltaTable

        source = self.spark.createDataFrame(rows, REGISTRY_SCHEMA.ddl)
        result = (
            DeltaTable.forPath(self.spark, self.uri)
            .alias("t")
            .merge(source.alias("s"), condition)
            .whenNotMatchedInsertAll()
            .execute()
        )
        metrics = result.first() if result is not None and "num_inserted_rows" in result.columns else None
        if metrics is None:
            raise RegistryError(
                f"registry {self.uri}: MERGE reported no row counts; cannot confirm the write"
            )
        inserted = int(metrics["num_inserted_rows"])
        if inserted not in (0, len(rows)):
            raise RegistryError(f"registry {self.uri}: MERGE inserted {inserted} of {len(rows)} event rows")
        if inserted:
            self.stats.count("commits")
        return bool(inserted)


# --- MERGE conditions ---------------------------------------------------------------------------------


def _same_model(model: str) -> Column:
    from pyspark.sql import functions as F

    return (F.col("t.model_name") == F.lit(model)) & (F.col("t.model_name") == F.col("s.model_name"))


def version_or_run_taken(model: str) -> Column:
    """A ``registered`` event of the model already has the row's version number or run id."""
    from pyspark.sql import functions as F

    return (
        _same_model(model)
        & (F.col("t.event") == "registered")
        & ((F.col("t.version") == F.col("s.version")) | (F.col("t.run_id") == F.col("s.run_id")))
    )


def lifecycle_changed_since(model: str, latest: int) -> Column:
    """The model has a lifecycle event newer than ``latest`` (epoch µs), the last one replayed."""
    from pyspark.sql import functions as F

    return (
        _same_model(model)
        & F.col("t.event").isin(*LIFECYCLE_EVENTS)
        & (F.unix_micros(F.col("t.event_time")) > F.lit(latest))
    )


def already_recorded(model: str) -> Column:
    """An event of the model with the row's event, version and run id exists."""
    from pyspark.sql import functions as F

    return (
        _same_model(model)
        & (F.col("t.event") == F.col("s.event"))
        & (F.col("t.version") == F.col("s.version"))
        & (F.col("t.run_id") == F.col("s.run_id"))
    )
