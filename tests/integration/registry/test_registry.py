"""Model registry: alias replay, idempotent registration, verified loading, explanations."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlplatform.registry import NoChampionError, RegistryError
from mlplatform.registry.artifacts import BOOSTER_FILE, EXPLANATION_MANIFEST_FILE, MANIFEST_FILE
from mlplatform.registry.events import current_aliases

# --- alias replay (pure) -------------------------------------------------------------------------


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
    events.append(_ev(3, "explained", None))  # explanations never move aliases
    assert current_aliases(events) == {"champion": 1, "challenger": 2}


# --- registration and loading (Spark + Delta) ---------------------------------------------------


@pytest.fixture()
def registered(register) -> None:  # type: ignore[no-untyped-def]
    """One registered version (v1, run ``run_1``) of the tiny booster in a fresh registry."""
    assert register("run_1") == (1, True)


@pytest.mark.spark
@pytest.mark.usefixtures("registered")
def test_register_is_idempotent_per_run(registry, register, layout, model) -> None:  # type: ignore[no-untyped-def]
    manifest = Path(layout.model_version_dir(model, 1)) / MANIFEST_FILE
    before = manifest.read_bytes()
    assert register("run_1") == (1, False)
    assert manifest.read_bytes() == before  # the retry did not rewrite the artifacts
    assert register("run_2") == (2, True)
    found = registry.versions(model)
    assert [(e["version"], e["run_id"]) for e in found] == [(1, "run_1"), (2, "run_2")]
    assert found[0]["artifact_uri"] == layout.model_version_dir(model, 1)
    assert found[0]["manifest_sha256"] == hashlib.sha256(before).hexdigest()
    assert json.loads(found[0]["metrics"])["auc"] == 0.8
    assert registry.versions("other_model") == []


@pytest.mark.spark
@pytest.mark.usefixtures("registered")
def test_load_version_roundtrip(registry, model, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    loaded = registry.load_version(model, 1)
    assert (loaded.name, loaded.version) == (model, 1)
    assert loaded.booster_raw == tiny_booster.raw
    assert loaded.signature["feature_names"] == tiny_booster.feature_names
    assert loaded.metrics["auc"] == 0.8
    booster = loaded.booster()
    assert booster.feature_names == tiny_booster.feature_names
    np.testing.assert_allclose(
        booster.inplace_predict(tiny_booster.X), tiny_booster.booster().inplace_predict(tiny_booster.X)
    )
    with pytest.raises(RegistryError, match="no registered version 7"):
        registry.load_version(model, 7)


@pytest.mark.spark
@pytest.mark.usefixtures("registered")
def test_load_refuses_corrupted_booster(registry, layout, model) -> None:  # type: ignore[no-untyped-def]
    path = Path(layout.model_version_dir(model, 1)) / BOOSTER_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="checksum") as info:
        registry.load_version(model, 1)
    assert BOOSTER_FILE in str(info.value) and model in str(info.value)


@pytest.mark.spark
@pytest.mark.usefixtures("registered")
def test_load_refuses_tampered_document(registry, layout, model) -> None:  # type: ignore[no-untyped-def]
    path = Path(layout.model_version_dir(model, 1)) / "metrics.json"
    path.write_text(path.read_text().replace("0.8", "0.99"))
    with pytest.raises(RegistryError, match="checksum mismatch for .*metrics.json"):
        registry.load_version(model, 1)


@pytest.mark.spark
@pytest.mark.usefixtures("registered")
def test_load_refuses_tampered_manifest(registry, layout, model, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    """Replacing the booster and updating the manifest to match is still caught by the registry's sha."""
    import xgboost as xgb

    vdir = Path(layout.model_version_dir(model, 1))
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
        registry.load_version(model, 1)


@pytest.mark.spark
def test_load_refuses_signature_mismatch(registry, register, model) -> None:  # type: ignore[no-untyped-def]
    version, _ = register("run_sig", feature_names=["x", "y", "z"])
    with pytest.raises(RegistryError, match="differ from its signature"):
        registry.load_version(model, version)


@pytest.mark.spark
@pytest.mark.usefixtures("registered")
def test_champion_lifecycle(registry, register, promote, model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NoChampionError, match=f"model '{model}' has no champion"):
        registry.load_champion(model)
    register("run_2")
    assert promote(1, None, "p1") is True
    assert registry.champion_version(model) == 1
    assert registry.load_champion(model).version == 1
    assert promote(1, None, "p1 retried") is False  # already champion: nothing written
    promote(2, 1, "p2")
    assert registry.champion_version(model) == 2
    promote(1, 2, "rollback")
    assert registry.champion_version(model) == 1
    assert registry.champion_version("other_model") is None
    assert len(registry.versions(model)) == 2  # alias events are not versions
    assert [e["event"] for e in registry.events(model)].count("promoted") == 3


# --- explanations ---------------------------------------------------------------------------------

EXPLANATION = {"shap_report.html": b"<html>shap</html>", "model_card.json": b"{}", "model_card.md": b"# card"}


def _explain(  # type: ignore[no-untyped-def]
    registry, layout, model: str, run_id: str, files: dict[str, bytes] = EXPLANATION, **target: int
) -> str:
    """Explain v1 (or ``version=``) into its folder (or that of ``folder=``)."""
    version = target.get("version", 1)
    return registry.register_explanation(
        model=model,
        version=version,
        artifact_uri=layout.model_version_dir(model, target.get("folder", version)),
        files=files,
        run_id=run_id,
        dag_id=f"{model}_training",
        actor="test",
        reason="SHAP report and model card",
        code_version="test",
    )


def _explained(registry, model: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [e for e in registry.events(model) if e["event"] == "explained"]


@pytest.mark.spark
@pytest.mark.usefixtures("registered")
def test_explanation_is_recorded_once_per_run(registry, layout, model) -> None:  # type: ignore[no-untyped-def]
    vdir = Path(layout.model_version_dir(model, 1))
    uri = _explain(registry, layout, model, "explain_1")
    assert uri == f"{vdir}/{EXPLANATION_MANIFEST_FILE}"
    manifest_raw = Path(uri).read_bytes()
    manifest = json.loads(manifest_raw)
    assert manifest["version"] == 1
    assert manifest["files"] == {name: hashlib.sha256(data).hexdigest() for name, data in EXPLANATION.items()}
    assert all((vdir / name).read_bytes() == data for name, data in EXPLANATION.items())
    assert _explain(registry, layout, model, "explain_1") == uri  # a retried task
    [event] = _explained(registry, model)
    assert (event["version"], event["run_id"], event["alias"], event["booster_sha256"]) == (
        1,
        "explain_1",
        None,
        None,
    )
    assert event["manifest_sha256"] == hashlib.sha256(manifest_raw).hexdigest()
    assert (event["artifact_uri"], event["reason"]) == (str(vdir), "SHAP report and model card")
    assert registry.load_version(model, 1).version == 1  # the version's own manifest is untouched


@pytest.mark.spark
@pytest.mark.usefixtures("registered")
def test_another_run_records_another_explanation(registry, layout, model) -> None:  # type: ignore[no-untyped-def]
    _explain(registry, layout, model, "explain_1")
    _explain(registry, layout, model, "explain_2", {**EXPLANATION, "model_card.md": b"# card v2"})
    assert [e["run_id"] for e in _explained(registry, model)] == ["explain_1", "explain_2"]
    assert (Path(layout.model_version_dir(model, 1)) / "model_card.md").read_bytes() == b"# card v2"
    assert registry.versions(model)[0]["run_id"] == "run_1"  # explanations are not versions


@pytest.mark.spark
@pytest.mark.usefixtures("registered")
def test_retried_explanation_repairs_lost_files(registry, layout, model) -> None:  # type: ignore[no-untyped-def]
    uri = _explain(registry, layout, model, "explain_1")
    report = Path(layout.model_version_dir(model, 1)) / "shap_report.html"
    report.unlink()
    assert _explain(registry, layout, model, "explain_1") == uri
    assert report.read_bytes() == EXPLANATION["shap_report.html"]
    report.unlink()
    with pytest.raises(RegistryError, match="cannot repair"):
        _explain(registry, layout, model, "explain_1", {**EXPLANATION, "shap_report.html": b"other"})
    assert len(_explained(registry, model)) == 1


@pytest.mark.spark
@pytest.mark.usefixtures("registered")
def test_explanation_refuses_bad_targets(registry, layout, model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistryError, match="would replace its artifacts"):
        _explain(registry, layout, model, "e", {"metrics.json": b"{}"})
    with pytest.raises(RegistryError, match="would replace its artifacts"):
        _explain(registry, layout, model, "e", {"run.txt": b"from the version's manifest"})
    with pytest.raises(RegistryError, match="no registered version 2 to explain"):
        _explain(registry, layout, model, "e", version=2)
    with pytest.raises(RegistryError, match="lives in"):
        _explain(registry, layout, model, "e", folder=9)
    assert _explained(registry, model) == []
    assert registry.load_version(model, 1).metrics["auc"] == 0.8
