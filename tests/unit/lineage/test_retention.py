"""VACUUM retention from the registry's pins: which versions are pinned, and for how many hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mlplatform.lineage.retention import (
    interval_hours,
    norm_uri,
    properties_to_raise,
    registry_pins,
    retention_hours,
    version_pins,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ROOT = "/lake/delta/models/churn"


def _registered(version: int, features: int, validated: int = 0, **extra) -> dict:  # type: ignore[no-untyped-def]
    inputs = {
        "bronze": {"uri": f"{ROOT}/bronze", "version": 0},
        "validated": {"uri": f"{ROOT}/validated", "version": validated},
        "features": {"uri": f"{ROOT}/features", "version": features},
        "batch_id": "train__x",
        "as_of": "2026-11-01",
        **extra,
    }
    return {"event": "registered", "version": version, "training_inputs": json.dumps(inputs)}


def test_no_pin_uses_the_default() -> None:
    assert retention_hours(None, NOW, default_hours=168, margin_hours=24) == 168


def test_a_recent_pin_keeps_the_default() -> None:
    commit = NOW - timedelta(hours=10)
    assert retention_hours(commit, NOW, default_hours=168, margin_hours=24) == 168


def test_an_old_pin_extends_retention_back_to_its_commit_plus_margin() -> None:
    commit = NOW - timedelta(days=30, minutes=30)
    assert retention_hours(commit, NOW, default_hours=168, margin_hours=24) == 720 + 24 + 1  # rounded up


def test_zero_default_still_covers_the_pin() -> None:
    commit = NOW - timedelta(hours=2)
    assert retention_hours(commit, NOW, default_hours=0, margin_hours=24) == 26
    assert retention_hours(None, NOW, default_hours=0, margin_hours=24) == 0
    assert retention_hours(NOW + timedelta(hours=1), NOW, default_hours=0, margin_hours=3) == 3  # clock skew


def test_version_pins_read_table_refs_and_the_window() -> None:
    inputs = json.loads(_registered(1, 7, 5)["training_inputs"])
    inputs["labels"] = {"uri": "/lake/delta/platform/labels/", "version": 9}
    inputs["window"] = {"validated_version": 3, "labels_version": 9}
    assert version_pins(inputs) == {
        f"{ROOT}/bronze": 0,
        f"{ROOT}/validated": 3,  # the window read an older validated version than the top-level ref
        f"{ROOT}/features": 7,
        "/lake/delta/platform/labels": 9,
    }
    assert version_pins({"labels": {"uri": "/x", "version": None}}) == {}


def test_the_oldest_version_of_every_live_model_is_pinned() -> None:
    churn = [
        _registered(1, 4),
        _registered(2, 9),
        {"event": "promoted", "version": 2, "training_inputs": None},
    ]
    pins = registry_pins({"churn": churn})
    assert pins[f"{ROOT}/features"].version == 4
    assert pins[f"{ROOT}/features"].needed_by == ("churn v1", "churn v2")


def test_archived_versions_stay_pinned_and_retired_models_release_theirs() -> None:
    archived = [_registered(1, 4), _registered(2, 9), {"event": "archived", "version": 1}]
    assert registry_pins({"churn": archived})[f"{ROOT}/features"].version == 4
    retired = [*archived, {"event": "retired", "version": 2}, {"event": "archived", "version": 2}]
    assert registry_pins({"churn": retired}) == {}


def test_uris_compare_without_scheme_or_trailing_slash() -> None:
    assert norm_uri("file:///lake/t/") == norm_uri("file:/lake/t") == norm_uri("/lake/t") == "/lake/t"
    assert norm_uri("s3a://bucket/lake/t/") == "s3a://bucket/lake/t"


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("interval 30 days", 720.0),
        ("interval 1 week", 168.0),
        ("interval 36 hours", 36.0),
        ("90 minutes", 1.5),
        ("interval 1 fortnight", None),
        ("", None),
    ],
)
def test_interval_hours(text: str, hours: float | None) -> None:
    assert interval_hours(text) == hours


def test_retention_properties_are_only_ever_raised() -> None:
    defaults = {"delta.logRetentionDuration": 720.0, "delta.deletedFileRetentionDuration": 168.0}
    assert properties_to_raise({}, 500, defaults) == {
        "delta.deletedFileRetentionDuration": "interval 500 hours"
    }
    assert (
        properties_to_raise({"delta.deletedFileRetentionDuration": "interval 60 days"}, 500, defaults) == {}
    )
    assert properties_to_raise({"delta.logRetentionDuration": "forever"}, 5000, defaults) == {
        "delta.deletedFileRetentionDuration": "interval 5000 hours"
    }  # an unreadable value is left alone
