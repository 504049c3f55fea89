"""The model registry: versioned artifacts with checksums and an append-only Delta event log.

A version's folder holds the booster in XGBoost's UBJSON format, its fitted feature state,
reference profile, metrics, signature and SHAP report, and a manifest with the sha256 of each
file. Loading verifies every checksum and the signature before the booster is used. Aliases
(``champion``) are derived from the events, never stored as mutable state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlplatform import filestore
from mlplatform.tables import PLATFORM_SCHEMAS, append_rows

if TYPE_CHECKING:
    import xgboost as xgb
    from pyspark.sql import SparkSession

BOOSTER_FILE = "model.ubj"
MANIFEST_FILE = "manifest.json"
JSON_ARTIFACTS = ("feature_state.json", "reference_profile.json", "metrics.json", "signature.json")


class RegistryError(RuntimeError):
    """A registry lookup or artifact check failed; the message names the model and version."""


class NoChampionError(RegistryError):
    """Scoring needs a champion and the model has none yet."""


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
        from mlplatform.training import load_booster

        return load_booster(self.booster_raw)


def _events(spark: SparkSession, registry_uri: str, model: str) -> list[dict[str, Any]]:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if not DeltaTable.isDeltaTable(spark, registry_uri):
        return []
    rows = (
        spark.read.format("delta")
        .load(registry_uri)
        .where(F.col("model_name") == model)
        .orderBy("event_time", "version")
        .collect()
    )
    return [r.asDict() for r in rows]


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


def champion_version(spark: SparkSession, registry_uri: str, model: str) -> int | None:
    return current_aliases(_events(spark, registry_uri, model)).get("champion")


def write_artifacts(
    version_dir: str, booster_raw: bytes, documents: dict[str, Any], extra_files: dict[str, bytes]
) -> dict[str, str]:
    """Write the version's files and a manifest of their sha256; returns the checksums."""
    checksums = {BOOSTER_FILE: filestore.write_bytes(f"{version_dir}/{BOOSTER_FILE}", booster_raw)}
    for name, doc in documents.items():
        data = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False).encode()
        checksums[name] = filestore.write_bytes(f"{version_dir}/{name}", data)
    for name, data in extra_files.items():
        checksums[name] = filestore.write_bytes(f"{version_dir}/{name}", data)
    manifest = {"files": checksums, "format": "xgboost-ubj", "created_at": datetime.now(UTC).isoformat()}
    checksums[MANIFEST_FILE] = filestore.write_bytes(
        f"{version_dir}/{MANIFEST_FILE}", json.dumps(manifest, indent=2, sort_keys=True).encode()
    )
    return checksums


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

    Returns ``(version, created)``. ``version_dir_for(version)`` gives the artifact folder.
    """
    existing = versions(spark, registry_uri, model)
    for event in existing:
        if event["run_id"] == run_id:
            return int(event["version"]), False
    version = max((int(e["version"]) for e in existing), default=0) + 1
    version_dir = version_dir_for(version)
    checksums = write_artifacts(version_dir, booster_raw, documents, extra_files)
    append_rows(
        spark,
        registry_uri,
        PLATFORM_SCHEMAS["model_registry"],
        [
            {
                "model_name": model,
                "version": version,
                "event": "registered",
                "alias": None,
                "run_id": run_id,
                "dag_id": dag_id,
                "actor": actor,
                "reason": reason,
                "artifact_uri": version_dir,
                "booster_sha256": checksums[BOOSTER_FILE],
                "manifest_sha256": checksums[MANIFEST_FILE],
                "metrics": json.dumps(documents.get("metrics.json", {}), sort_keys=True),
                "spec_hash": spec_hash,
                "training_inputs": json.dumps(training_inputs, sort_keys=True, default=str),
                "params": json.dumps(params, sort_keys=True, default=str),
                "code_version": code_version,
                "event_time": datetime.now(UTC),
            }
        ],
    )
    return version, True


def load_version(spark: SparkSession, registry_uri: str, model: str, version: int) -> LoadedModel:
    """Load a version after checking every file against the manifest and the registry."""
    entry = next((e for e in versions(spark, registry_uri, model) if int(e["version"]) == version), None)
    if entry is None:
        raise RegistryError(f"model '{model}' has no registered version {version}")
    base = entry["artifact_uri"]
    manifest_raw = filestore.read_bytes(f"{base}/{MANIFEST_FILE}")
    if filestore.sha256_hex(manifest_raw) != entry["manifest_sha256"]:
        raise RegistryError(
            f"model '{model}' v{version}: {base}/{MANIFEST_FILE} does not match its registered sha256"
        )
    manifest = json.loads(manifest_raw)
    contents: dict[str, bytes] = {}
    for name, expected in manifest["files"].items():
        data = filestore.read_bytes(f"{base}/{name}")
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


def load_champion(spark: SparkSession, registry_uri: str, model: str) -> LoadedModel:
    version = champion_version(spark, registry_uri, model)
    if version is None:
        raise NoChampionError(
            f"model '{model}' has no champion in the registry ({registry_uri}); "
            f"run the '{model}_training' DAG and promote a version before scoring"
        )
    return load_version(spark, registry_uri, model, version)


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
) -> None:
    now = datetime.now(UTC)
    base = {
        "model_name": model,
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
    }
    rows = []
    if demote is not None and demote != promote:
        rows.append({**base, "version": demote, "event": "demoted", "event_time": now})
    # The promotion is stamped strictly after the demotion so that replaying events in time order
    # never depends on how ties are broken.
    rows.append(
        {**base, "version": promote, "event": "promoted", "event_time": now + timedelta(microseconds=1)}
    )
    append_rows(spark, registry_uri, PLATFORM_SCHEMAS["model_registry"], rows)


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
