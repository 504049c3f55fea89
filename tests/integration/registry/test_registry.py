"""Model registry: the promotion gate, alias replay, idempotent registration and verified loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlplatform.config.specs import PromotionSpec
from mlplatform.io.layout import StorageLayout
from mlplatform.registry.store import (
    BOOSTER_FILE,
    MANIFEST_FILE,
    NoChampionError,
    RegistryError,
    append_alias_events,
    champion_version,
    current_aliases,
    decide_promotion,
    load_champion,
    load_version,
    register_version,
    versions,
)

MODEL = "tiny_model"
GATES = PromotionSpec(min_auc=0.7, min_pr_auc=0.3, max_logloss=0.65, min_auc_improvement=0.01)
GOOD = {"auc": 0.8, "pr_auc": 0.5, "logloss": 0.4}


# --- decide_promotion ---------------------------------------------------------------------------


def _by_check(checks: list[dict[str, Any]]) -> dict[str, bool]:
    return {c["check"]: c["passed"] for c in checks}


def test_first_model_passing_all_thresholds_is_promoted() -> None:
    promoted, checks = decide_promotion(GOOD, GATES, None)
    assert promoted is True
    assert _by_check(checks) == {"min_auc": True, "min_pr_auc": True, "max_logloss": True}
    auc = next(c for c in checks if c["check"] == "min_auc")
    assert (auc["value"], auc["threshold"]) == (0.8, 0.7)


@pytest.mark.parametrize(
    ("override", "failing"),
    [
        ({"auc": 0.69}, "min_auc"),
        ({"pr_auc": 0.29}, "min_pr_auc"),
        ({"logloss": 0.66}, "max_logloss"),
    ],
)
def test_each_threshold_can_fail_alone(override: dict[str, float], failing: str) -> None:
    promoted, checks = decide_promotion({**GOOD, **override}, GATES, None)
    assert promoted is False
    assert [name for name, ok in _by_check(checks).items() if not ok] == [failing]


def test_thresholds_are_inclusive() -> None:
    promoted, _ = decide_promotion({"auc": 0.7, "pr_auc": 0.3, "logloss": 0.65}, GATES, None)
    assert promoted is True


def test_challenger_must_beat_champion_by_margin() -> None:
    promoted, checks = decide_promotion(GOOD, GATES, {"auc": 0.795, "pr_auc": 0.5, "logloss": 0.4})
    assert promoted is False
    beat = next(c for c in checks if c["check"] == "beats_champion_auc")
    assert beat["passed"] is False
    assert beat["threshold"] == pytest.approx(0.805)
    promoted, checks = decide_promotion(GOOD, GATES, {"auc": 0.79, "pr_auc": 0.5, "logloss": 0.4})
    assert promoted is True
    assert _by_check(checks)["beats_champion_auc"] is True


def test_beating_champion_does_not_excuse_a_failed_threshold() -> None:
    promoted, checks = decide_promotion({**GOOD, "logloss": 0.9}, GATES, {"auc": 0.5})
    assert promoted is False
    assert _by_check(checks) == {
        "min_auc": True,
        "min_pr_auc": True,
        "max_logloss": False,
        "beats_champion_auc": True,
    }


# --- current_aliases ----------------------------------------------------------------------------


def _ev(version: int, event: str, alias: str | None = "champion") -> dict[str, Any]:
    return {"version": version, "event": event, "alias": alias}


def test_alias_replay() -> None:
    events = [_ev(1, "registered", None), _ev(2, "registered", None)]
    assert current_aliases(events) == {}
    events.append(_ev(1, "promoted"))
    assert current_aliases(events) == {"champion": 1}
    events += [_ev(1, "demoted"), _ev(2, "promoted")]
    assert current_aliases(events) == {"champion": 2}
    events.append(_ev(1, "demoted"))  # demoting a version that no longer holds the alias changes nothing
    assert current_aliases(events) == {"champion": 2}
    events.append(_ev(2, "demoted"))
    assert current_aliases(events) == {}
    events.append(_ev(1, "promoted"))  # re-promotion (rollback)
    assert current_aliases(events) == {"champion": 1}
    events.append(_ev(2, "promoted", "challenger"))
    assert current_aliases(events) == {"champion": 1, "challenger": 2}


# --- registration and loading (Spark + Delta) ---------------------------------------------------


def _documents(feature_names: list[str], auc: float = 0.8) -> dict[str, Any]:
    return {
        "feature_state.json": {"format": 1, "impute": {}, "vocabulary": {}, "feature_names": feature_names},
        "reference_profile.json": {"features": {}},
        "metrics.json": {"auc": auc, "pr_auc": 0.5, "logloss": 0.4},
        "signature.json": {"feature_names": feature_names, "feature_types": ["double"] * len(feature_names)},
    }


def _register(spark, registry: str, layout: StorageLayout, raw: bytes, run_id: str, names: list[str]):  # type: ignore[no-untyped-def]
    return register_version(
        spark,
        registry,
        model=MODEL,
        version_dir_for=lambda v: layout.model_version_dir(MODEL, v),
        booster_raw=raw,
        documents=_documents(names),
        extra_files={"notes.txt": b"hello"},
        run_id=run_id,
        dag_id="tiny_model_training",
        actor="test",
        reason="unit test",
        spec_hash="0" * 64,
        training_inputs={"features": 1},
        params={"max_depth": 3},
        code_version="test",
    )


@pytest.fixture()
def registered(spark, storage_root: str, tiny_booster):  # type: ignore[no-untyped-def]
    """One registered version (v1) of the tiny booster in a fresh registry."""
    layout = StorageLayout(storage_root)
    registry = layout.platform_table("model_registry")
    version, created = _register(
        spark, registry, layout, tiny_booster.raw, "run_1", tiny_booster.feature_names
    )
    assert (version, created) == (1, True)
    return layout, registry


@pytest.mark.spark
def test_register_is_idempotent_per_run(spark, registered, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    layout, registry = registered
    manifest = Path(layout.model_version_dir(MODEL, 1)) / MANIFEST_FILE
    before = manifest.read_bytes()
    assert _register(spark, registry, layout, tiny_booster.raw, "run_1", tiny_booster.feature_names) == (
        1,
        False,
    )
    assert manifest.read_bytes() == before  # the retry did not rewrite the artifacts
    assert _register(spark, registry, layout, tiny_booster.raw, "run_2", tiny_booster.feature_names) == (
        2,
        True,
    )
    found = versions(spark, registry, MODEL)
    assert [(e["version"], e["run_id"]) for e in found] == [(1, "run_1"), (2, "run_2")]
    assert found[0]["artifact_uri"] == layout.model_version_dir(MODEL, 1)
    assert json.loads(found[0]["metrics"])["auc"] == 0.8
    assert versions(spark, registry, "other_model") == []


@pytest.mark.spark
def test_load_version_roundtrip(spark, registered, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    _, registry = registered
    loaded = load_version(spark, registry, MODEL, 1)
    assert (loaded.name, loaded.version) == (MODEL, 1)
    assert loaded.booster_raw == tiny_booster.raw
    assert loaded.signature["feature_names"] == tiny_booster.feature_names
    assert loaded.metrics["auc"] == 0.8
    booster = loaded.booster()
    assert booster.feature_names == tiny_booster.feature_names
    np.testing.assert_allclose(
        booster.inplace_predict(tiny_booster.X), tiny_booster.booster().inplace_predict(tiny_booster.X)
    )
    with pytest.raises(RegistryError, match="no registered version 7"):
        load_version(spark, registry, MODEL, 7)


@pytest.mark.spark
def test_load_refuses_corrupted_booster(spark, registered) -> None:  # type: ignore[no-untyped-def]
    layout, registry = registered
    path = Path(layout.model_version_dir(MODEL, 1)) / BOOSTER_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="checksum") as info:
        load_version(spark, registry, MODEL, 1)
    assert BOOSTER_FILE in str(info.value) and MODEL in str(info.value)


@pytest.mark.spark
def test_load_refuses_tampered_document(spark, registered) -> None:  # type: ignore[no-untyped-def]
    layout, registry = registered
    path = Path(layout.model_version_dir(MODEL, 1)) / "metrics.json"
    path.write_text(path.read_text().replace("0.8", "0.99"))
    with pytest.raises(RegistryError, match="checksum mismatch for .*metrics.json"):
        load_version(spark, registry, MODEL, 1)


@pytest.mark.spark
def test_load_refuses_tampered_manifest(spark, registered, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    """Replacing the booster and updating the manifest to match is still caught by the registry's sha."""
    import hashlib

    import xgboost as xgb

    layout, registry = registered
    vdir = Path(layout.model_version_dir(MODEL, 1))
    other = xgb.train(
        {"objective": "binary:logistic", "max_depth": 1},
        xgb.DMatrix(
            tiny_booster.X, label=(tiny_booster.X[:, 1] > 0), feature_names=tiny_booster.feature_names
        ),
        num_boost_round=2,
    )
    raw = bytes(other.save_raw("ubj"))
    (vdir / BOOSTER_FILE).write_bytes(raw)
    manifest = json.loads((vdir / MANIFEST_FILE).read_text())
    manifest["files"][BOOSTER_FILE] = hashlib.sha256(raw).hexdigest()
    (vdir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    with pytest.raises(RegistryError, match="manifest.json does not match its registered sha256"):
        load_version(spark, registry, MODEL, 1)


@pytest.mark.spark
def test_load_refuses_signature_mismatch(spark, storage_root: str, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    layout = StorageLayout(storage_root)
    registry = layout.platform_table("model_registry")
    wrong = ["x", "y", "z"]
    version, _ = _register(spark, registry, layout, tiny_booster.raw, "run_sig", wrong)
    with pytest.raises(RegistryError, match="differ from its signature"):
        load_version(spark, registry, MODEL, version)


@pytest.mark.spark
def test_champion_lifecycle(spark, registered, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    layout, registry = registered
    with pytest.raises(NoChampionError, match=f"model '{MODEL}' has no champion"):
        load_champion(spark, registry, MODEL)
    _register(spark, registry, layout, tiny_booster.raw, "run_2", tiny_booster.feature_names)
    common = {"model": MODEL, "alias": "champion", "dag_id": "d", "actor": "test", "reason": "r"}
    append_alias_events(spark, registry, promote=1, demote=None, run_id="p1", **common)
    assert champion_version(spark, registry, MODEL) == 1
    assert load_champion(spark, registry, MODEL).version == 1
    append_alias_events(spark, registry, promote=2, demote=1, run_id="p2", **common)
    assert champion_version(spark, registry, MODEL) == 2
    append_alias_events(spark, registry, promote=1, demote=2, run_id="rollback", **common)  # rollback
    assert champion_version(spark, registry, MODEL) == 1
    assert champion_version(spark, registry, "other_model") is None
    assert len(versions(spark, registry, MODEL)) == 2  # alias events are not versions
