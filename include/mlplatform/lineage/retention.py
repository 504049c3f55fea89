"""Which Delta versions the registry still needs, and how long VACUUM must keep files for them.

Pure functions (no Spark): ``mlplatform.lifecycle.maintenance`` feeds them the registry's events
and the tables' commit timestamps.

The rule. Every ``registered`` version of a model that is not retired pins, per input table of its
``training_inputs`` (``{name: {"uri", "version"}}``, and the training window's
``validated_version`` / ``labels_version``), the Delta version it read; per table the oldest pin
counts. Archived versions stay pinned: archiving only stops promotion, the version stays loadable
and reproducible for audit. Only retirement (the model's ``retired`` event) releases its pins.

A file that version V references and a later commit removed carries a removal timestamp at or
after V's commit, so VACUUM keeps it when the retention reaches back to V's commit. Retention for
a table = max(default, hours since the oldest pinned commit + margin), rounded up.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_INTERVAL = re.compile(r"^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$", re.IGNORECASE)
_UNIT_HOURS = {"week": 168.0, "day": 24.0, "hour": 1.0, "minute": 1 / 60, "second": 1 / 3600}
#: The window's version fields and the training_inputs entry whose uri they belong to.
_WINDOW_PINS = {"validated_version": "validated", "labels_version": "labels"}


@dataclass(frozen=True)
class Pin:
    """The oldest Delta version of one table that a registered version still needs."""

    uri: str
    version: int
    needed_by: tuple[str, ...]  # "model vN" of every version that pins this table


def norm_uri(uri: str) -> str:
    """A table uri as compared here: no ``file:`` scheme, no trailing slash."""
    text = str(uri).strip()
    for prefix in ("file://", "file:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text.rstrip("/") or "/"


def version_pins(training_inputs: Mapping[str, Any]) -> dict[str, int]:
    """The Delta versions one registered version read: normalised uri → version."""
    pins: dict[str, int] = {}

    def add(uri: Any, version: Any) -> None:
        if uri is None or version is None:
            return
        key = norm_uri(str(uri))
        pins[key] = min(int(version), pins.get(key, int(version)))

    for value in training_inputs.values():
        if isinstance(value, Mapping) and "uri" in value:
            add(value.get("uri"), value.get("version"))
    window = training_inputs.get("window")
    if isinstance(window, Mapping):
        for field, table in _WINDOW_PINS.items():
            ref = training_inputs.get(table)
            if isinstance(ref, Mapping):
                add(ref.get("uri"), window.get(field))
    return pins


def registry_pins(events_by_model: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, Pin]:
    """Per table (normalised uri), the oldest version a non-retired model's registered version read.

    ``events_by_model``: each model's registry events (rows of ``model_registry``). A model with a
    ``retired`` event pins nothing; archived versions of a live model still pin.
    """
    import json

    oldest: dict[str, int] = {}
    needed: dict[str, list[str]] = {}
    for model, events in sorted(events_by_model.items()):
        rows = list(events)
        if any(e.get("event") == "retired" for e in rows):
            continue
        for e in rows:
            if e.get("event") != "registered":
                continue
            raw = e.get("training_inputs") or "{}"
            inputs = json.loads(raw) if isinstance(raw, str) else dict(raw)
            for uri, version in version_pins(inputs).items():
                oldest[uri] = min(version, oldest.get(uri, version))
                needed.setdefault(uri, []).append(f"{model} v{e['version']}")
    return {uri: Pin(uri, v, tuple(needed[uri])) for uri, v in oldest.items()}


def retention_hours(
    pinned_commit: datetime | None, now: datetime, *, default_hours: float, margin_hours: float
) -> int:
    """Hours VACUUM must keep removed files: the default, or back to the pinned commit plus margin.

    ``pinned_commit`` is the commit time of the table's oldest pinned version (None: no pin).
    Both datetimes must be timezone-aware.
    """
    needed = float(default_hours)
    if pinned_commit is not None:
        age = max((now - pinned_commit).total_seconds() / 3600.0, 0.0)
        needed = max(needed, age + float(margin_hours))
    return max(int(math.ceil(needed)), 0)


def interval_hours(text: str | None) -> float | None:
    """Hours of a Delta interval property (``interval 30 days``); None when absent or unreadable."""
    if not text:
        return None
    match = _INTERVAL.match(text)
    if match is None:
        return None
    unit = match.group(2).lower()
    unit = unit[:-1] if unit.endswith("s") and unit[:-1] in _UNIT_HOURS else unit
    if unit not in _UNIT_HOURS:
        return None
    return float(match.group(1)) * _UNIT_HOURS[unit]


def properties_to_raise(
    current: Mapping[str, str], hours: int, defaults: Mapping[str, float]
) -> dict[str, str]:
    """The retention properties to set so the table keeps ``hours`` of log and tombstones.

    ``defaults``: each property's Delta default in hours (used when unset). Only ever raises a
    property; one whose value cannot be read is left alone (the caller logs it).
    """
    out: dict[str, str] = {}
    for key, default in defaults.items():
        value = current.get(key)
        have = interval_hours(value) if value else float(default)
        if have is not None and have < hours:
            out[key] = f"interval {int(hours)} hours"
    return out
