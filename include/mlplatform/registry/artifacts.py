"""A version's artifact files and their checksummed manifests; verified loading.

A version's folder holds the booster in XGBoost's UBJSON format, its fitted feature state,
reference profile, metrics and signature, any extra files, and ``manifest.json`` with the sha256
of each. The SHAP report and model card, made after registration, get their own
``explanation_manifest.json``. A manifest is written last, so a folder with one is complete; its
own sha256 is what the registry event records. Loading checks every file before the booster is used.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlplatform.core.errors import RegistryError
from mlplatform.io import files as filestore
from mlplatform.modeling.booster import BOOSTER_FORMAT

if TYPE_CHECKING:
    import xgboost as xgb

log = logging.getLogger(__name__)

BOOSTER_FILE = "model.ubj"
MANIFEST_FILE = "manifest.json"
EXPLANATION_MANIFEST_FILE = "explanation_manifest.json"
JSON_ARTIFACTS = ("feature_state.json", "reference_profile.json", "metrics.json", "signature.json")


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
        from mlplatform.modeling.booster import load_booster

        return load_booster(self.booster_raw)


def version_files(
    booster_raw: bytes, documents: dict[str, Any], extra_files: dict[str, bytes], created_at: datetime
) -> dict[str, bytes]:
    """Every file of a version, the manifest (sha256 of the others) last."""
    files = {BOOSTER_FILE: booster_raw}
    for name, doc in documents.items():
        files[name] = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False).encode()
    files.update(extra_files)
    manifest = {
        "files": {name: filestore.sha256_hex(data) for name, data in files.items()},
        "format": f"xgboost-{BOOSTER_FORMAT}",
        "created_at": created_at.isoformat(),
    }
    files[MANIFEST_FILE] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    return files


def explanation_files(files: dict[str, bytes], version: int) -> dict[str, bytes]:
    """The explanation files and their manifest (sha256 of each, and the version), manifest last."""
    manifest = {
        "files": {name: filestore.sha256_hex(data) for name, data in files.items()},
        "version": version,
    }
    return {**files, EXPLANATION_MANIFEST_FILE: json.dumps(manifest, indent=2, sort_keys=True).encode()}


def manifest_sha256(files: dict[str, bytes], manifest_name: str) -> str:
    return filestore.sha256_hex(files[manifest_name])


def reserved_names(artifact_uri: str) -> set[str]:
    """File names an explanation must not overwrite: the version's own files and manifests."""
    names = {BOOSTER_FILE, MANIFEST_FILE, EXPLANATION_MANIFEST_FILE, *JSON_ARTIFACTS}
    uri = f"{artifact_uri}/{MANIFEST_FILE}"
    if filestore.exists(uri):
        names |= set(json.loads(filestore.read_bytes(uri))["files"])
    return names


def write_files(folder: str, files: dict[str, bytes], manifest_name: str) -> None:
    """Write the files, the manifest last (a folder with a manifest is complete)."""
    for name, data in files.items():
        if name != manifest_name:
            filestore.write_bytes(f"{folder}/{name}", data)
    filestore.write_bytes(f"{folder}/{manifest_name}", files[manifest_name])


def intact(folder: str, manifest_name: str, expected_sha256: str) -> bool:
    """Whether the manifest matches ``expected_sha256`` and every file it lists matches it."""
    manifest_uri = f"{folder}/{manifest_name}"
    if not filestore.exists(manifest_uri):
        return False
    manifest_raw = filestore.read_bytes(manifest_uri)
    if filestore.sha256_hex(manifest_raw) != expected_sha256:
        return False
    for name, expected in json.loads(manifest_raw)["files"].items():
        uri = f"{folder}/{name}"
        if not filestore.exists(uri) or filestore.sha256_hex(filestore.read_bytes(uri)) != expected:
            return False
    return True


def rewrite(
    folder: str, files: dict[str, bytes], manifest_name: str, expected_sha256: str, what: str
) -> None:
    """A rerun of the writing run found the files missing or altered: rewrite them, provided this
    attempt's content is exactly what the registry recorded (``what`` names it in the error)."""
    if manifest_sha256(files, manifest_name) != expected_sha256:
        raise RegistryError(
            f"{what}: its files in {folder} are missing or altered, and this attempt's files differ from "
            "the registered checksums; cannot repair it (register from a new run instead)"
        )
    log.warning("registry: rewriting the missing or altered files of %s in %s", what, folder)
    write_files(folder, files, manifest_name)


def load_verified(entry: dict[str, Any]) -> LoadedModel:
    """Load the version of a ``registered`` event after checking every file against the manifest,
    the manifest against the event, and the booster's features against the signature."""
    model, version, base = entry["model_name"], int(entry["version"]), entry["artifact_uri"]
    label = f"model '{model}' v{version}"
    if not filestore.exists(f"{base}/{MANIFEST_FILE}"):
        raise RegistryError(
            f"{label}: {base}/{MANIFEST_FILE} is missing; the version's artifacts are "
            "still being written or their registration was interrupted (rerun the registering run)"
        )
    manifest_raw = filestore.read_bytes(f"{base}/{MANIFEST_FILE}")
    if filestore.sha256_hex(manifest_raw) != entry["manifest_sha256"]:
        raise RegistryError(f"{label}: {base}/{MANIFEST_FILE} does not match its registered sha256")
    manifest = json.loads(manifest_raw)
    contents: dict[str, bytes] = {}
    for name, expected in manifest["files"].items():
        try:
            data = filestore.read_bytes(f"{base}/{name}")
        except FileNotFoundError as exc:
            raise RegistryError(f"{label}: {base}/{name} is missing; refusing to load") from exc
        if filestore.sha256_hex(data) != expected:
            raise RegistryError(f"{label}: checksum mismatch for {base}/{name}; refusing to load")
        contents[name] = data
    if manifest["files"].get(BOOSTER_FILE) != entry["booster_sha256"]:
        raise RegistryError(f"{label}: booster checksum differs from the registry entry")
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
            f"{label}: booster features {names} differ from its signature "
            f"{loaded.signature.get('feature_names')}"
        )
    return loaded
