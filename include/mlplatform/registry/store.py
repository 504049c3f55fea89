"""The model registry: versioned, checksummed artifacts and an append-only Delta event log.

Aliases (``champion``) and lifecycle state are derived from the events, never stored as mutable
state. Callers hold a ``ModelRegistry(spark, registry_uri)``.

Concurrent writers. Every registry write is ONE insert-only Delta ``MERGE`` whose condition
re-checks what the writer read:

* registration inserts its ``registered`` event only when no event of the model already has that
  version number or that run id;
* alias and lifecycle changes (promote/demote, archive, retire) insert their events only when the
  model has no alias or lifecycle event newer than the last one the writer replayed;
* an explanation inserts its ``explained`` event only when the model has none for that version
  and run id (a retried task adds no second row).

A commit that landed before the MERGE started makes the condition match, so nothing is inserted;
one that lands while the MERGE runs makes Delta's optimistic concurrency control fail the MERGE
with a ``ConcurrentAppendException`` (the MERGE read the table and the other commit added files to
it). Either way the writer re-reads the events, re-validates its precondition and tries again, at
most ``MAX_COMMIT_ATTEMPTS`` times with jittered backoff. A promotion whose expected champion was
replaced meanwhile raises ``PromotionConflictError`` instead of overwriting the other promotion.
Plain blind appends would not work: Delta lets concurrent blind appends all commit. The table is
created with ``delta.appendOnly=true``, so Delta itself refuses updates and deletes.

Files are written only after their event has committed, so two racing registrations never write
into the same folder; ``load_version`` reports a version whose files are not there yet (or any
more) as such, and re-running the registering run repairs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlplatform.core.errors import RegistryError
from mlplatform.io import files as filestore
from mlplatform.registry import artifacts
from mlplatform.registry import events as ev
from mlplatform.registry.artifacts import EXPLANATION_MANIFEST_FILE, MANIFEST_FILE, LoadedModel

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Plan = Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]


class NoChampionError(RegistryError):
    """Scoring needs a champion and the model has none yet."""


class ModelRetiredError(NoChampionError):
    """The model was retired: it has no champion and must not be scored or promoted."""


class PromotionConflictError(RegistryError):
    """The alias holder the caller expected to replace changed before its promotion committed."""


def _retired_message(model: str, retired: dict[str, Any]) -> str:
    run = f", run {retired['run_id']}" if retired.get("run_id") else ""
    return (
        f"model '{model}' is retired (by {retired.get('actor') or 'unknown'}{run}: "
        f"{retired.get('reason') or 'no reason given'}); it has no champion and cannot be scored or promoted"
    )


def _refuse_retired(model: str, events: list[dict[str, Any]]) -> None:
    retired = ev.retirement(events)
    if retired is not None:
        raise ModelRetiredError(_retired_message(model, retired))


class ModelRegistry:
    """The registry at ``registry_uri``: read versions and aliases, register, load and promote."""

    def __init__(
        self, spark: SparkSession, registry_uri: str, *, backoff_seconds: float = ev.BACKOFF_SECONDS
    ) -> None:
        self.uri = registry_uri
        self.event_log = ev.EventLog(spark, registry_uri, backoff_seconds=backoff_seconds)

    @property
    def stats(self) -> ev.CommitStats:
        """Commits, conflicts, stale reads and give-ups of this registry's writes."""
        return self.event_log.stats

    # --- reading ------------------------------------------------------------------------------

    def events(self, model: str) -> list[dict[str, Any]]:
        """Every event of the model, oldest first."""
        return self.event_log.events(model)

    def versions(self, model: str) -> list[dict[str, Any]]:
        """Registered versions of a model (the ``registered`` events), oldest first."""
        return ev.registered(self.events(model))

    def champion_version(self, model: str) -> int | None:
        return ev.current_aliases(self.events(model)).get("champion")

    def model_state(self, model: str) -> dict[str, Any]:
        """Registered versions, aliases, archived versions and retirement of a model."""
        return ev.lifecycle_state(self.events(model))

    def ensure_not_retired(self, model: str) -> None:
        """Raise ``ModelRetiredError`` for a retired model: its scheduled runs stop at the first task."""
        _refuse_retired(model, self.events(model))

    def load_version(self, model: str, version: int) -> LoadedModel:
        """Load a version after checking every file against the manifest and the registry."""
        entry = self._entry(model, version, self.events(model))
        return artifacts.load_verified(entry)

    def load_champion(self, model: str) -> LoadedModel:
        events = self.events(model)
        _refuse_retired(model, events)
        version = ev.current_aliases(events).get("champion")
        if version is None:
            raise NoChampionError(
                f"model '{model}' has no champion in the registry ({self.uri}); "
                f"run the '{model}_training' DAG and promote a version before scoring"
            )
        return artifacts.load_verified(self._entry(model, version, events))

    @staticmethod
    def _entry(model: str, version: int, events: list[dict[str, Any]], action: str = "") -> dict[str, Any]:
        entry = next((e for e in ev.registered(events) if int(e["version"]) == version), None)
        if entry is None:
            raise RegistryError(f"model '{model}' has no registered version {version}{action}")
        return entry

    # --- registration ---------------------------------------------------------------------------

    def register_version(
        self,
        *,
        model: str,
        version_dir_for: Callable[[int], str],
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
        version number is claimed by the ``registered`` event's transaction (racing registrations
        get distinct numbers); the files are written after it commits, into a folder no one else
        claimed. A rerun of the run rewrites its files when they are missing (same content only).
        """

        def attempt() -> tuple[int, bool] | ev.Stale:
            existing = ev.registered(self.event_log.events(model))
            mine = next((e for e in existing if e["run_id"] == run_id), None)
            if mine is not None:
                self._repair_version(mine, booster_raw, documents, extra_files)
                return int(mine["version"]), False
            version = max((int(e["version"]) for e in existing), default=0) + 1
            version_dir = version_dir_for(version)
            registered_at = datetime.now(UTC)
            files = artifacts.version_files(booster_raw, documents, extra_files, registered_at)
            row = ev.event_row(
                model,
                version,
                "registered",
                run_id=run_id,
                dag_id=dag_id,
                actor=actor,
                reason=reason,
                artifact_uri=version_dir,
                booster_sha256=filestore.sha256_hex(booster_raw),
                manifest_sha256=artifacts.manifest_sha256(files, MANIFEST_FILE),
                metrics=json.dumps(documents.get("metrics.json", {}), sort_keys=True),
                spec_hash=spec_hash,
                training_inputs=json.dumps(training_inputs, sort_keys=True, default=str),
                params=json.dumps(params, sort_keys=True, default=str),
                code_version=code_version,
                event_time=registered_at,
            )
            if not self.event_log.insert_unless([row], ev.version_or_run_taken(model)):
                return ev.STALE
            artifacts.write_files(version_dir, files, MANIFEST_FILE)
            return version, True

        return self.event_log.commit(model, f"registering run '{run_id}'", attempt)

    def _repair_version(
        self,
        entry: dict[str, Any],
        booster_raw: bytes,
        documents: dict[str, Any],
        extra_files: dict[str, bytes],
    ) -> None:
        folder, expected = entry["artifact_uri"], entry["manifest_sha256"]
        if artifacts.intact(folder, MANIFEST_FILE, expected):
            return
        model, version = entry["model_name"], int(entry["version"])
        created_at = self.event_log.event_time(model, version, "registered")
        files = artifacts.version_files(booster_raw, documents, extra_files, created_at)
        what = f"model '{model}' v{version}, registered by run '{entry['run_id']}'"
        artifacts.rewrite(folder, files, MANIFEST_FILE, expected, what)

    def register_explanation(
        self,
        *,
        model: str,
        version: int,
        artifact_uri: str,
        files: dict[str, bytes],
        run_id: str,
        dag_id: str,
        actor: str,
        reason: str,
        code_version: str,
    ) -> str:
        """Write a version's explanation files (SHAP report, model card) with their own checksummed
        manifest, and record an ``explained`` event; returns the manifest's uri.

        Idempotent per (model, version, run_id): a retried task adds no second event and leaves
        intact files alone (rewriting them only when missing, with the same content). Another run
        records another event and replaces the files.
        """
        manifest_uri = f"{artifact_uri}/{EXPLANATION_MANIFEST_FILE}"
        everything = artifacts.explanation_files(files, version)
        sha = artifacts.manifest_sha256(everything, EXPLANATION_MANIFEST_FILE)

        def attempt() -> str | ev.Stale:
            events = self.event_log.events(model)
            entry = self._entry(model, version, events, " to explain")
            if entry["artifact_uri"] != artifact_uri:
                raise RegistryError(
                    f"model '{model}' v{version} lives in {entry['artifact_uri']}, not {artifact_uri}"
                )
            clash = sorted(set(files) & artifacts.reserved_names(artifact_uri))
            if clash:
                raise RegistryError(
                    f"model '{model}' v{version}: explanation files {clash} would replace its artifacts"
                )
            mine = next(
                (
                    e
                    for e in events
                    if e["event"] == "explained" and e["version"] == version and e["run_id"] == run_id
                ),
                None,
            )
            if mine is not None:
                if not artifacts.intact(artifact_uri, EXPLANATION_MANIFEST_FILE, mine["manifest_sha256"]):
                    what = f"model '{model}' v{version}, explained by run '{run_id}'"
                    artifacts.rewrite(
                        artifact_uri, everything, EXPLANATION_MANIFEST_FILE, mine["manifest_sha256"], what
                    )
                return manifest_uri
            row = ev.event_row(
                model,
                version,
                "explained",
                run_id=run_id,
                dag_id=dag_id,
                actor=actor,
                reason=reason,
                artifact_uri=artifact_uri,
                manifest_sha256=sha,
                code_version=code_version,
                event_time=datetime.now(UTC),
            )
            if not self.event_log.insert_unless([row], ev.already_recorded(model)):
                return ev.STALE
            artifacts.write_files(artifact_uri, everything, EXPLANATION_MANIFEST_FILE)
            return manifest_uri

        return self.event_log.commit(model, f"explaining v{version} in run '{run_id}'", attempt)

    # --- alias and lifecycle changes --------------------------------------------------------------

    def _commit_lifecycle(self, model: str, action: str, plan: Plan) -> bool:
        """Append the rows ``plan(events)`` returns, provided no lifecycle event of the model was
        committed since the events it saw. ``plan`` validates (raising) and may return None for
        "nothing to do". Returns whether rows were written."""

        def attempt() -> bool | ev.Stale:
            events, latest = self.event_log.read(model)
            rows = plan(events)
            if not rows:
                return False
            # Stamped strictly after everything replayed, one microsecond apart, so that replaying
            # in time order never depends on how ties are broken.
            first = ev.stamp_after(latest)
            for offset, row in enumerate(rows):
                row["event_time"] = first + timedelta(microseconds=offset)
            return self.event_log.insert_unless(rows, ev.lifecycle_changed_since(model, latest)) or ev.STALE

        return self.event_log.commit(model, action, attempt)

    def promote(
        self,
        *,
        model: str,
        version: int,
        demote: int | None,
        alias: str = "champion",
        run_id: str,
        dag_id: str,
        actor: str,
        reason: str,
    ) -> bool:
        """Move ``alias`` from ``demote`` (the holder the caller saw, None for "no holder") to ``version``.

        One transaction checks and writes: if another writer moved the alias after the caller
        looked, this raises ``PromotionConflictError`` (naming the model and the versions) rather
        than writing a second promotion. Returns False, writing nothing, when ``version`` already
        holds the alias.
        """

        def plan(events: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            _refuse_retired(model, events)
            if version not in ev.registered_versions(events):
                raise RegistryError(f"model '{model}' has no registered version {version} to promote")
            if version in ev.archived_versions(events):
                raise RegistryError(
                    f"model '{model}' v{version} is archived and cannot be promoted to '{alias}'"
                )
            holder = ev.current_aliases(events).get(alias)
            if holder == version:
                return None
            if holder != demote:
                expected = f"v{demote}" if demote is not None else "no version"
                found = f"v{holder}" if holder is not None else "no version"
                raise PromotionConflictError(
                    f"model '{model}': cannot make v{version} '{alias}': expected {expected} to hold "
                    f"'{alias}' but {found} does now (another promotion or rollback committed first); "
                    f"re-run the promotion against the current '{alias}'"
                )
            common = {"alias": alias, "run_id": run_id, "dag_id": dag_id, "actor": actor, "reason": reason}
            rows = [ev.event_row(model, demote, "demoted", **common)] if demote is not None else []
            rows.append(ev.event_row(model, version, "promoted", **common))
            return rows

        return self._commit_lifecycle(model, f"promoting v{version} to '{alias}'", plan)

    def archive_version(
        self,
        *,
        model: str,
        version: int,
        force: bool = False,
        actor: str,
        reason: str,
        run_id: str | None = None,
        dag_id: str | None = None,
    ) -> bool:
        """Archive a version: it stays loadable for audit but can no longer be promoted.

        A version holding an alias (the champion) is refused unless ``force``, which also clears
        the alias (the model is then left without it). Returns False when already archived.
        """

        def plan(events: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            if version not in ev.registered_versions(events):
                raise RegistryError(f"model '{model}' has no registered version {version} to archive")
            if version in ev.archived_versions(events):
                return None
            held = sorted(a for a, v in ev.current_aliases(events).items() if v == version)
            if held and not force:
                raise RegistryError(
                    f"model '{model}' v{version} holds {', '.join(repr(a) for a in held)}; promote another "
                    "version first, or archive with force=True to leave the model without it"
                )
            common = {"run_id": run_id, "dag_id": dag_id, "actor": actor, "reason": reason}
            return [ev.event_row(model, version, "archived", alias=a, **common) for a in held or [None]]

        return self._commit_lifecycle(model, f"archiving v{version}", plan)

    def retire_model(
        self,
        *,
        model: str,
        actor: str,
        reason: str,
        run_id: str | None = None,
        dag_id: str | None = None,
    ) -> bool:
        """Retire a model: its aliases are cleared, ``load_champion`` raises ``ModelRetiredError``
        and promotions are refused. Versions stay loadable for audit. Returns False when already
        retired."""

        def plan(events: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            versions = ev.registered_versions(events)
            if not versions:
                raise RegistryError(
                    f"model '{model}' has no registered versions in {self.uri}; nothing to retire"
                )
            if ev.retirement(events) is not None:
                return None
            common = {"run_id": run_id, "dag_id": dag_id, "actor": actor, "reason": reason}
            held = sorted(ev.current_aliases(events).items()) or [(None, max(versions))]
            return [ev.event_row(model, v, "retired", alias=a, **common) for a, v in held]

        return self._commit_lifecycle(model, "retiring the model", plan)
