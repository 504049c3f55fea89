"""The model registry: versioned artifacts with checksums and an append-only Delta event log.

A version's folder holds the booster in XGBoost's UBJSON format, its fitted feature state,
reference profile, metrics, signature and SHAP report, and a manifest with the sha256 of each
file. Loading verifies every checksum and the signature before the booster is used. Aliases
(``champion``) are derived from the events, never stored as mutable state.

Concurrent writers. Every registry write is ONE insert-only Delta ``MERGE`` whose condition
re-checks what the writer read:

* registration inserts its ``registered`` event only when no event of the model already has that
  version number or that run id;
* alias and lifecycle changes (promote/demote, archive, retire) insert their events only when the
  model has no alias or lifecycle event newer than the last one the writer replayed.

A commit that landed before the MERGE started makes the condition match, so nothing is inserted;
one that lands while the MERGE runs makes Delta's optimistic concurrency control fail the MERGE
with a ``ConcurrentAppendException`` (the MERGE read the table and the other commit added files to
it). Either way the writer re-reads the events, re-validates its precondition and tries again, at
most ``MAX_COMMIT_ATTEMPTS`` times with jittered backoff. A promotion whose expected champion was
replaced meanwhile raises ``PromotionConflictError`` instead of overwriting the other promotion.
Plain blind appends would not work: Delta lets concurrent blind appends all commit.

A version's artifact files are written only after its ``registered`` event has committed, so two
racing registrations never write into the same folder; ``load_version`` reports a version whose
files are not there yet (or any more) as such, and re-running the registering run repairs it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from mlplatform.core.errors import RegistryError
from mlplatform.io import files as filestore
from mlplatform.io.catalog import TABLES
from mlplatform.io.delta import ensure_table

if TYPE_CHECKING:
    import xgboost as xgb
    from pyspark.sql import Column, SparkSession

log = logging.getLogger(__name__)

BOOSTER_FILE = "model.ubj"
MANIFEST_FILE = "manifest.json"
JSON_ARTIFACTS = ("feature_state.json", "reference_profile.json", "metrics.json", "signature.json")

REGISTRY_SCHEMA = TABLES["model_registry"]
#: Events that move aliases or change a version's or model's lifecycle; ``registered`` is the other kind.
LIFECYCLE_EVENTS = ("promoted", "demoted", "archived", "retired")
MAX_COMMIT_ATTEMPTS = 5
BACKOFF_SECONDS = 0.2

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CONFLICT_MARKERS = (
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "ConcurrentWriteException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DELTA_CONCURRENT_",
    "DELTA_METADATA_CHANGED",
    "DELTA_PROTOCOL_CHANGED",
)

T = TypeVar("T")


class NoChampionError(RegistryError):
    """Scoring needs a champion and the model has none yet."""


class ModelRetiredError(NoChampionError):
    """The model was retired: it has no champion and must not be scored or promoted."""


class PromotionConflictError(RegistryError):
    """The alias holder the caller expected to replace changed before its promotion committed."""


class CommitConflictError(RegistryError):
    """A registry write kept conflicting with concurrent writers and gave up."""


@dataclass(frozen=True)
class ModelEvent:
    model_name: str
    version: int
    event: str
    alias: str | None
    run_id: str | None
    event_time: datetime


@dataclass
class LoadedModel:
    """A verified model version, ready to score."""

    name: str
    version: int
    booster_raw: bytes
    feature_state: dict[str, Any]
    reference_profile: dict[str, Any]
    metrics: dict[str, Any]
    signature: dict[str, Any]
    artifact_uri: str

    def booster(self) -> xgb.Booster:
        from mlplatform.modeling.training import load_booster

        return load_booster(self.booster_raw)


# --- commit statistics (conflicts and retries), for tests and monitoring --------------------------

_stats_lock = threading.Lock()
_stats: Counter[str] = Counter()


def _count(key: str) -> None:
    with _stats_lock:
        _stats[key] += 1


def commit_stats() -> dict[str, int]:
    """Counts since start (or the last reset) in this process.

    ``commits``: registry transactions that wrote; ``conflicts``: MERGEs failed by Delta because a
    concurrent commit landed during them; ``stale``: MERGEs that inserted nothing because another
    writer had committed after this one read; ``exhausted``: writes that gave up.
    """
    with _stats_lock:
        return {key: _stats[key] for key in ("commits", "conflicts", "stale", "exhausted")}


def reset_commit_stats() -> None:
    with _stats_lock:
        _stats.clear()


# --- reading and replaying events -----------------------------------------------------------------


def _read_events(spark: SparkSession, registry_uri: str, model: str) -> tuple[list[dict[str, Any]], int]:
    """The model's events oldest first, and the time of its latest lifecycle event in epoch
    microseconds (-1 when none), both from one read of the table."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if not DeltaTable.isDeltaTable(spark, registry_uri):
        return [], -1
    rows = (
        spark.read.format("delta")
        .load(registry_uri)
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
        if event["event"] != "registered" and micros is not None:
            latest = max(latest, int(micros))
        events.append(event)
    return events, latest


def _events(spark: SparkSession, registry_uri: str, model: str) -> list[dict[str, Any]]:
    return _read_events(spark, registry_uri, model)[0]


def versions(spark: SparkSession, registry_uri: str, model: str) -> list[dict[str, Any]]:
    """Registered versions of a model (the ``registered`` events), oldest first."""
    return [e for e in _events(spark, registry_uri, model) if e["event"] == "registered"]


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


def is_retired(events: list[dict[str, Any]]) -> bool:
    return retirement(events) is not None


def lifecycle_state(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Where a model stands: registered versions, aliases, archived versions, retirement."""
    retired = retirement(events)
    return {
        "versions": sorted({int(e["version"]) for e in events if e["event"] == "registered"}),
        "aliases": current_aliases(events),
        "archived": sorted(archived_versions(events)),
        "retired": retired is not None,
        "retired_by": retired.get("actor") if retired else None,
        "retired_reason": retired.get("reason") if retired else None,
    }


def champion_version(spark: SparkSession, registry_uri: str, model: str) -> int | None:
    return current_aliases(_events(spark, registry_uri, model)).get("champion")


# --- transactions -----------------------------------------------------------------------------------


DELTA_CONFLICT_ERRORS = (
    "ConcurrentAppendException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentDeleteReadException",
    "ConcurrentTransactionException",
    "ConcurrentWriteException",
    "DeltaConcurrentModificationException",
    "MetadataChangedException",
    "ProtocolChangedException",
)


def _is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is one of Delta's concurrent-modification errors (retrying may succeed)."""
    from delta import exceptions

    classes = tuple(getattr(exceptions, name) for name in DELTA_CONFLICT_ERRORS if hasattr(exceptions, name))
    if classes and isinstance(exc, classes):
        return True
    text = f"{type(exc).__name__}: {exc}"
    return any(marker in text for marker in _CONFLICT_MARKERS)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0.5, 1.0) * BACKOFF_SECONDS * 2 ** (attempt - 1))


def _retrying(model: str, action: str, attempt: Callable[[], tuple[bool, T]]) -> T:
    """Run ``attempt`` until it reports done: ``(False, _)`` means it found its precondition stale
    (nothing written); a Delta conflict error means a concurrent commit beat it. Both retry."""
    for number in range(1, MAX_COMMIT_ATTEMPTS + 1):
        try:
            done, value = attempt()
        except Exception as exc:
            if not _is_conflict(exc):
                raise
            _count("conflicts")
            log.info(
                "registry: %s for '%s' conflicted (attempt %d): %s", action, model, number, type(exc).__name__
            )
        else:
            if done:
                return value
            _count("stale")
            log.info("registry: %s for '%s' found the registry changed (attempt %d)", action, model, number)
        if number < MAX_COMMIT_ATTEMPTS:
            _backoff(number)
    _count("exhausted")
    raise CommitConflictError(
        f"model '{model}': {action} did not commit after {MAX_COMMIT_ATTEMPTS} attempts because "
        "other writers kept changing the registry at the same time; retry the task"
    )


def _ensure_registry(spark: SparkSession, registry_uri: str) -> None:
    """Create the registry table when missing; two processes creating it at once is fine."""
    from delta.tables import DeltaTable

    for number in range(1, MAX_COMMIT_ATTEMPTS + 1):
        try:
            ensure_table(spark, registry_uri, REGISTRY_SCHEMA)
            return
        except Exception as exc:
            if DeltaTable.isDeltaTable(spark, registry_uri):
                return
            if not _is_conflict(exc) or number == MAX_COMMIT_ATTEMPTS:
                raise
            _backoff(number)


def _merge_insert(
    spark: SparkSession, registry_uri: str, rows: list[dict[str, Any]], condition: Column
) -> int:
    """Insert ``rows`` unless ``condition`` matches an existing row, in one Delta transaction.

    Returns how many rows were inserted. Raises Delta's conflict errors when another commit
    landed between this transaction's read and its commit.
    """
    import delta.exceptions.captured  # noqa: F401  (maps Delta's JVM conflict errors to Python classes)
    from delta.tables import DeltaTable

    source = spark.createDataFrame(rows, REGISTRY_SCHEMA.ddl)
    result = (
        DeltaTable.forPath(spark, registry_uri)
        .alias("t")
        .merge(source.alias("s"), condition)
        .whenNotMatchedInsertAll()
        .execute()
    )
    metrics = result.first() if result is not None and "num_inserted_rows" in result.columns else None
    if metrics is None:
        raise RegistryError(
            f"registry {registry_uri}: MERGE reported no row counts; cannot confirm the write"
        )
    inserted = int(metrics["num_inserted_rows"])
    if inserted not in (0, len(rows)):
        raise RegistryError(f"registry {registry_uri}: MERGE inserted {inserted} of {len(rows)} event rows")
    if inserted:
        _count("commits")
    return inserted


def _stamp_after(micros: int) -> datetime:
    """Now, or 1µs after ``micros`` (epoch µs) when the clock says otherwise: events stay ordered."""
    now = datetime.now(UTC)
    now_us = (now - _EPOCH) // timedelta(microseconds=1)
    return _EPOCH + timedelta(microseconds=max(now_us, micros + 1))


def _event_row(
    model: str,
    version: int,
    event: str,
    alias: str | None,
    *,
    run_id: str | None,
    dag_id: str | None,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    return {
        "model_name": model,
        "version": int(version),
        "event": event,
        "alias": alias,
        "run_id": run_id,
        "dag_id": dag_id,
        "actor": actor,
        "reason": reason,
        "artifact_uri": None,
        "booster_sha256": None,
        "manifest_sha256": None,
        "metrics": None,
        "spec_hash": None,
        "training_inputs": None,
        "params": None,
        "code_version": None,
        "event_time": None,
    }


def _commit_lifecycle(
    spark: SparkSession,
    registry_uri: str,
    model: str,
    action: str,
    plan: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None],
) -> bool:
    """Append the rows ``plan(events)`` returns, provided no lifecycle event of the model was
    committed since the events it saw. ``plan`` validates (raising) and may return None for
    "nothing to do". Returns whether rows were written."""
    from pyspark.sql import functions as F

    _ensure_registry(spark, registry_uri)

    def attempt() -> tuple[bool, bool]:
        events, latest = _read_events(spark, registry_uri, model)
        rows = plan(events)
        if not rows:
            return True, False
        # Stamped strictly after everything replayed, one microsecond apart, so that replaying in
        # time order never depends on how ties are broken.
        first = _stamp_after(latest)
        for offset, row in enumerate(rows):
            row["event_time"] = first + timedelta(microseconds=offset)
        changed_since_read = (
            (F.col("t.model_name") == F.lit(model))
            & (F.col("t.model_name") == F.col("s.model_name"))
            & F.col("t.event").isin(*LIFECYCLE_EVENTS)
            & (F.unix_micros(F.col("t.event_time")) > F.lit(latest))
        )
        return (
            (True, True) if _merge_insert(spark, registry_uri, rows, changed_since_read) else (False, False)
        )

    return _retrying(model, action, attempt)


# --- registration -------------------------------------------------------------------------------------


def _artifact_files(
    booster_raw: bytes, documents: dict[str, Any], extra_files: dict[str, bytes], created_at: datetime
) -> dict[str, bytes]:
    """Every file of a version, the manifest (sha256 of the others) last."""
    files = {BOOSTER_FILE: booster_raw}
    for name, doc in documents.items():
        files[name] = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False).encode()
    files.update(extra_files)
    manifest = {
        "files": {name: filestore.sha256_hex(data) for name, data in files.items()},
        "format": "xgboost-ubj",
        "created_at": created_at.isoformat(),
    }
    files[MANIFEST_FILE] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    return files


def _write_files(version_dir: str, files: dict[str, bytes]) -> dict[str, str]:
    """Write the files, manifest last (a folder with a manifest is complete); returns the checksums."""
    checksums = {
        name: filestore.write_bytes(f"{version_dir}/{name}", data)
        for name, data in files.items()
        if name != MANIFEST_FILE
    }
    checksums[MANIFEST_FILE] = filestore.write_bytes(f"{version_dir}/{MANIFEST_FILE}", files[MANIFEST_FILE])
    return checksums


def write_artifacts(
    version_dir: str, booster_raw: bytes, documents: dict[str, Any], extra_files: dict[str, bytes]
) -> dict[str, str]:
    """Write the version's files and a manifest of their sha256; returns the checksums."""
    return _write_files(version_dir, _artifact_files(booster_raw, documents, extra_files, datetime.now(UTC)))


def _registered_at(spark: SparkSession, registry_uri: str, model: str, version: int) -> datetime:
    from pyspark.sql import functions as F

    row = (
        spark.read.format("delta")
        .load(registry_uri)
        .where(
            (F.col("model_name") == model) & (F.col("version") == version) & (F.col("event") == "registered")
        )
        .select(F.unix_micros("event_time").alias("us"))
        .first()
    )
    return _EPOCH + timedelta(microseconds=int(row["us"]))


def _artifacts_intact(entry: dict[str, Any]) -> bool:
    manifest_uri = f"{entry['artifact_uri']}/{MANIFEST_FILE}"
    if not filestore.exists(manifest_uri):
        return False
    manifest_raw = filestore.read_bytes(manifest_uri)
    if filestore.sha256_hex(manifest_raw) != entry["manifest_sha256"]:
        return False
    for name, expected in json.loads(manifest_raw)["files"].items():
        uri = f"{entry['artifact_uri']}/{name}"
        if not filestore.exists(uri) or filestore.sha256_hex(filestore.read_bytes(uri)) != expected:
            return False
    return True


def register_version(
    spark: SparkSession,
    registry_uri: str,
    *,
    model: str,
    version_dir_for: Any,
    booster_raw: bytes,
    documents: dict[str, Any],
    extra_files: dict[str, bytes],
    run_id: str,
    dag_id: str,
    actor: str,
    reason: str,
    spec_hash: str,
    training_inputs: dict[str, Any],
    params: dict[str, Any],
    code_version: str,
) -> tuple[int, bool]:
    """Register a new version (or return the one this run already registered).

    Returns ``(version, created)``. ``version_dir_for(version)`` gives the artifact folder. The
    version number is claimed by the ``registered`` event's transaction (racing registrations get
    distinct numbers); the files are written after it commits, into a folder no one else claimed.
    """
    from pyspark.sql import functions as F

    _ensure_registry(spark, registry_uri)

    def attempt() -> tuple[bool, tuple[int, bool]]:
        existing = versions(spark, registry_uri, model)
        mine = next((e for e in existing if e["run_id"] == run_id), None)
        if mine is not None:
            _repair_artifacts(spark, registry_uri, mine, booster_raw, documents, extra_files)
            return True, (int(mine["version"]), False)
        version = max((int(e["version"]) for e in existing), default=0) + 1
        version_dir = version_dir_for(version)
        registered_at = datetime.now(UTC)
        files = _artifact_files(booster_raw, documents, extra_files, registered_at)
        row = {
            "model_name": model,
            "version": version,
            "event": "registered",
            "alias": None,
            "run_id": run_id,
            "dag_id": dag_id,
            "actor": actor,
            "reason": reason,
            "artifact_uri": version_dir,
            "booster_sha256": filestore.sha256_hex(booster_raw),
            "manifest_sha256": filestore.sha256_hex(files[MANIFEST_FILE]),
            "metrics": json.dumps(documents.get("metrics.json", {}), sort_keys=True),
            "spec_hash": spec_hash,
            "training_inputs": json.dumps(training_inputs, sort_keys=True, default=str),
            "params": json.dumps(params, sort_keys=True, default=str),
            "code_version": code_version,
            "event_time": registered_at,
        }
        taken = (
            (F.col("t.model_name") == F.lit(model))
            & (F.col("t.model_name") == F.col("s.model_name"))
            & (F.col("t.event") == "registered")
            & ((F.col("t.version") == F.col("s.version")) | (F.col("t.run_id") == F.col("s.run_id")))
        )
        if not _merge_insert(spark, registry_uri, [row], taken):
            return False, (version, False)
        _write_files(version_dir, files)
        return True, (version, True)

    return _retrying(model, f"registering run '{run_id}'", attempt)


def _repair_artifacts(
    spark: SparkSession,
    registry_uri: str,
    entry: dict[str, Any],
    booster_raw: bytes,
    documents: dict[str, Any],
    extra_files: dict[str, bytes],
) -> None:
    """A rerun of the registering run: leave intact artifacts alone; rewrite them when the first
    attempt stopped between its registry commit and its file writes (same content only)."""
    if _artifacts_intact(entry):
        return
    model, version = entry["model_name"], int(entry["version"])
    created_at = _registered_at(spark, registry_uri, model, version)
    files = _artifact_files(booster_raw, documents, extra_files, created_at)
    if filestore.sha256_hex(files[MANIFEST_FILE]) != entry["manifest_sha256"]:
        raise RegistryError(
            f"model '{model}' v{version} was registered by run '{entry['run_id']}' but its artifacts in "
            f"{entry['artifact_uri']} are missing or altered, and this attempt's artifacts differ from the "
            "registered checksums; cannot repair it (register from a new run instead)"
        )
    log.warning("registry: rewriting the missing or altered artifacts of '%s' v%d", model, version)
    _write_files(entry["artifact_uri"], files)


# --- loading --------------------------------------------------------------------------------------------


def load_version(spark: SparkSession, registry_uri: str, model: str, version: int) -> LoadedModel:
    """Load a version after checking every file against the manifest and the registry."""
    entry = next((e for e in versions(spark, registry_uri, model) if int(e["version"]) == version), None)
    if entry is None:
        raise RegistryError(f"model '{model}' has no registered version {version}")
    base = entry["artifact_uri"]
    if not filestore.exists(f"{base}/{MANIFEST_FILE}"):
        raise RegistryError(
            f"model '{model}' v{version}: {base}/{MANIFEST_FILE} is missing; the version's artifacts are "
            "still being written or their registration was interrupted (rerun the registering run)"
        )
    manifest_raw = filestore.read_bytes(f"{base}/{MANIFEST_FILE}")
    if filestore.sha256_hex(manifest_raw) != entry["manifest_sha256"]:
        raise RegistryError(
            f"model '{model}' v{version}: {base}/{MANIFEST_FILE} does not match its registered sha256"
        )
    manifest = json.loads(manifest_raw)
    contents: dict[str, bytes] = {}
    for name, expected in manifest["files"].items():
        try:
            data = filestore.read_bytes(f"{base}/{name}")
        except FileNotFoundError as exc:
            raise RegistryError(
                f"model '{model}' v{version}: {base}/{name} is missing; refusing to load"
            ) from exc
        if filestore.sha256_hex(data) != expected:
            raise RegistryError(
                f"model '{model}' v{version}: checksum mismatch for {base}/{name}; refusing to load"
            )
        contents[name] = data
    if manifest["files"].get(BOOSTER_FILE) != entry["booster_sha256"]:
        raise RegistryError(f"model '{model}' v{version}: booster checksum differs from the registry entry")
    docs = {name: json.loads(contents[name]) for name in JSON_ARTIFACTS}
    loaded = LoadedModel(
        name=model,
        version=version,
        booster_raw=contents[BOOSTER_FILE],
        feature_state=docs["feature_state.json"],
        reference_profile=docs["reference_profile.json"],
        metrics=docs["metrics.json"],
        signature=docs["signature.json"],
        artifact_uri=base,
    )
    names = loaded.booster().feature_names
    if names != loaded.signature.get("feature_names"):
        raise RegistryError(
            f"model '{model}' v{version}: booster features {names} differ from its signature "
            f"{loaded.signature.get('feature_names')}"
        )
    return loaded


def _retired_message(model: str, retired: dict[str, Any]) -> str:
    return (
        f"model '{model}' is retired (by {retired.get('actor') or 'unknown'}"
        f"{', run ' + retired['run_id'] if retired.get('run_id') else ''}: {retired.get('reason') or 'no reason given'}); "
        "it has no champion and cannot be scored or promoted"
    )


def ensure_not_retired(spark: SparkSession, registry_uri: str, model: str) -> None:
    """Raise ``ModelRetiredError`` for a retired model: its scheduled runs stop at the first task."""
    retired = retirement(_events(spark, registry_uri, model))
    if retired is not None:
        raise ModelRetiredError(_retired_message(model, retired))


def model_state(spark: SparkSession, registry_uri: str, model: str) -> dict[str, Any]:
    """``lifecycle_state`` of a model, read from the registry."""
    return lifecycle_state(_events(spark, registry_uri, model))


def load_champion(spark: SparkSession, registry_uri: str, model: str) -> LoadedModel:
    events = _events(spark, registry_uri, model)
    retired = retirement(events)
    if retired is not None:
        raise ModelRetiredError(_retired_message(model, retired))
    version = current_aliases(events).get("champion")
    if version is None:
        raise NoChampionError(
            f"model '{model}' has no champion in the registry ({registry_uri}); "
            f"run the '{model}_training' DAG and promote a version before scoring"
        )
    return load_version(spark, registry_uri, model, version)


# --- alias and lifecycle changes --------------------------------------------------------------------


def append_alias_events(
    spark: SparkSession,
    registry_uri: str,
    *,
    model: str,
    promote: int,
    demote: int | None,
    alias: str,
    run_id: str,
    dag_id: str,
    actor: str,
    reason: str,
) -> bool:
    """Move ``alias`` from ``demote`` (the holder the caller saw, None for "no holder") to ``promote``.

    One transaction checks and writes: if another writer moved the alias after the caller looked,
    this raises ``PromotionConflictError`` (naming the model and the versions) rather than writing
    a second promotion. Returns False, writing nothing, when ``promote`` already holds the alias.
    """

    def plan(events: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        retired = retirement(events)
        if retired is not None:
            raise ModelRetiredError(_retired_message(model, retired))
        if promote not in {int(e["version"]) for e in events if e["event"] == "registered"}:
            raise RegistryError(f"model '{model}' has no registered version {promote} to promote")
        if promote in archived_versions(events):
            raise RegistryError(f"model '{model}' v{promote} is archived and cannot be promoted to '{alias}'")
        holder = current_aliases(events).get(alias)
        if holder == promote:
            return None
        if holder != demote:
            expected = f"v{demote}" if demote is not None else "no version"
            found = f"v{holder}" if holder is not None else "no version"
            raise PromotionConflictError(
                f"model '{model}': cannot make v{promote} '{alias}': expected {expected} to hold '{alias}' "
                f"but {found} does now (another promotion or rollback committed first); "
                f"re-run the promotion against the current '{alias}'"
            )
        common = {"run_id": run_id, "dag_id": dag_id, "actor": actor, "reason": reason}
        rows = [_event_row(model, demote, "demoted", alias, **common)] if demote is not None else []
        rows.append(_event_row(model, promote, "promoted", alias, **common))
        return rows

    return _commit_lifecycle(spark, registry_uri, model, f"promoting v{promote} to '{alias}'", plan)


def promote_version(
    spark: SparkSession,
    registry_uri: str,
    *,
    model: str,
    version: int,
    expected_current: int | None,
    alias: str = "champion",
    run_id: str,
    dag_id: str,
    actor: str,
    reason: str,
) -> bool:
    """``append_alias_events`` with clearer names: make ``version`` the ``alias`` holder, replacing
    ``expected_current`` (compare-and-swap; ``PromotionConflictError`` when it changed)."""
    return append_alias_events(
        spark,
        registry_uri,
        model=model,
        promote=version,
        demote=expected_current,
        alias=alias,
        run_id=run_id,
        dag_id=dag_id,
        actor=actor,
        reason=reason,
    )


def archive_version(
    spark: SparkSession,
    registry_uri: str,
    *,
    model: str,
    version: int,
    actor: str,
    reason: str,
    run_id: str | None = None,
    dag_id: str | None = None,
    force: bool = False,
) -> bool:
    """Archive a version: it stays loadable for audit but can no longer be promoted.

    A version holding an alias (the champion) is refused unless ``force``, which also clears the
    alias (the model is then left without that alias). Returns False when already archived.
    """

    def plan(events: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        if version not in {int(e["version"]) for e in events if e["event"] == "registered"}:
            raise RegistryError(f"model '{model}' has no registered version {version} to archive")
        if version in archived_versions(events):
            return None
        held = sorted(a for a, v in current_aliases(events).items() if v == version)
        if held and not force:
            raise RegistryError(
                f"model '{model}' v{version} holds {', '.join(repr(a) for a in held)}; promote another "
                "version first, or archive with force=True to leave the model without it"
            )
        common = {"run_id": run_id, "dag_id": dag_id, "actor": actor, "reason": reason}
        return [_event_row(model, version, "archived", a, **common) for a in held] or [
            _event_row(model, version, "archived", None, **common)
        ]

    return _commit_lifecycle(spark, registry_uri, model, f"archiving v{version}", plan)


def retire_model(
    spark: SparkSession,
    registry_uri: str,
    *,
    model: str,
    actor: str,
    reason: str,
    run_id: str | None = None,
    dag_id: str | None = None,
) -> bool:
    """Retire a model: its aliases are cleared, ``load_champion`` raises ``ModelRetiredError`` and
    promotions are refused. Versions stay loadable for audit. Returns False when already retired."""

    def plan(events: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        registered = [int(e["version"]) for e in events if e["event"] == "registered"]
        if not registered:
            raise RegistryError(
                f"model '{model}' has no registered versions in {registry_uri}; nothing to retire"
            )
        if is_retired(events):
            return None
        common = {"run_id": run_id, "dag_id": dag_id, "actor": actor, "reason": reason}
        held = sorted(current_aliases(events).items())
        return [_event_row(model, v, "retired", a, **common) for a, v in held] or [
            _event_row(model, max(registered), "retired", None, **common)
        ]

    return _commit_lifecycle(spark, registry_uri, model, "retiring the model", plan)


# --- the promotion gate -------------------------------------------------------------------------------


def decide_promotion(
    metrics: dict[str, float], thresholds: Any, champion_metrics: dict[str, float] | None
) -> tuple[bool, list[dict[str, Any]]]:
    """The promotion gate: absolute thresholds, then beating the champion by the margin."""
    checks = [
        {
            "check": "min_auc",
            "value": metrics["auc"],
            "threshold": thresholds.min_auc,
            "passed": metrics["auc"] >= thresholds.min_auc,
        },
        {
            "check": "min_pr_auc",
            "value": metrics["pr_auc"],
            "threshold": thresholds.min_pr_auc,
            "passed": metrics["pr_auc"] >= thresholds.min_pr_auc,
        },
        {
            "check": "max_logloss",
            "value": metrics["logloss"],
            "threshold": thresholds.max_logloss,
            "passed": metrics["logloss"] <= thresholds.max_logloss,
        },
    ]
    if champion_metrics is not None:
        needed = champion_metrics["auc"] + thresholds.min_auc_improvement
        checks.append(
            {
                "check": "beats_champion_auc",
                "value": metrics["auc"],
                "threshold": needed,
                "passed": metrics["auc"] >= needed,
            }
        )
    return all(c["passed"] for c in checks), checks
