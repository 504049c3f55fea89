"""Bad model artifacts: a registered version corrupted on disk is refused, by name, and nothing is scored.

One small churn model is trained, registered and promoted through the steps for the module
(1,000 demo rows, 20 trees). Each case corrupts one file of v1 on disk (a flipped byte in the
booster, the manifest gone, the feature state truncated), checks that ``load_version``,
``load_champion`` and the scoring steps refuse it with a message naming the file and the
model/version and that no prediction is written, then puts the file back. The last case scores
a batch with categories the model never saw: every validated row gets exactly one prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.corpus import (
    ID,
    MODEL,
    Env,
    account,
    batch_id,
    ctx,
    good_rows,
    ids,
    ingest_and_validate,
    make_env,
    quarantined,
    report,
    validated,
    write_csv,
)

pytestmark = pytest.mark.spark

SCORE_DS, CORRUPT_DS = "2026-11-10", "2026-11-11"
RUN = "manual__artifacts_v1"


def _step(env: Env, task: str, ds: str, mode: str, **inputs: Any) -> dict[str, Any]:
    from mlplatform.lifecycle.runner import run_step

    run_id = RUN if mode == "training" else None
    return run_step(task, MODEL, ctx(task, ds, mode=mode, run_id=run_id), settings=env.settings, **inputs)


@pytest.fixture(scope="module")
def champion(spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """v1 trained, registered and promoted; two scoring batches validated, one of them featured."""
    from mlplatform.lifecycle.runner import open_platform

    env = make_env(tmp_path_factory.mktemp("artifacts"))
    env.edit_spec("training", params={"max_depth": 3, "learning_rate": 0.3, "n_estimators": 20})
    env.edit_spec("evaluation", bootstrap_samples=20)
    write_csv(env.training_file, good_rows(1000, seed=5, id_offset=0))
    value: Any = ingest_and_validate(env, "2026-11-01", mode="training", run_id=RUN)
    for task, name in (("build_features", "batch"), ("train", "batch"), ("evaluate", "trained")):
        value = _step(env, task, "2026-11-01", "training", **{name: value})
    registered = _step(env, "register", "2026-11-01", "training", evaluated=value)
    registry = open_platform(MODEL, env.settings).registry
    assert registry.promote(
        model=MODEL,
        version=registered["version"],
        demote=None,
        run_id=RUN,
        dag_id=f"{MODEL}_training",
        actor="test",
        reason="corpus champion",
    )
    batches = {}
    for index, ds in enumerate((SCORE_DS, CORRUPT_DS)):
        rows = good_rows(40, seed=11 + index, id_offset=10_000 + 100 * index)
        if ds == SCORE_DS:
            rows[2] = {**rows[2], "region": "atlantis"}
            rows[5] = {**rows[5], "payment_method": "Crypto wallet", "region": "moon"}
        write_csv(env.batch_file(ds), rows)
        batches[ds] = {"rows": rows, "validated": ingest_and_validate(env, ds)}
    featured = _step(env, "build_features", CORRUPT_DS, "scoring", batch=batches[CORRUPT_DS]["validated"])
    assert featured["model_version"] == registered["version"]
    return {
        "env": env,
        "version": registered["version"],
        "artifact_dir": Path(registry.load_version(MODEL, registered["version"]).artifact_uri),
        "batches": batches,
        "featured": featured,
    }


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPTIONS: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "flipped_byte_in_booster": ("model.ubj", _flip_a_byte, "checksum mismatch"),
    "missing_manifest": ("manifest.json", Path.unlink, "is missing"),
    "truncated_feature_state": ("feature_state.json", _truncate, "checksum mismatch"),
}


def _predictions(spark, env: Env, ds: str) -> list[Any]:  # type: ignore[no-untyped-def]
    from delta.tables import DeltaTable

    uri = env.table("predictions")
    if not DeltaTable.isDeltaTable(spark, uri):
        return []
    return spark.read.format("delta").load(uri).where(f"score_date = DATE '{ds}'").collect()


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_corrupted_artifact_is_refused_by_name_and_nothing_is_scored(case: str, spark, champion) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.core.errors import RegistryError
    from mlplatform.lifecycle.runner import open_platform

    name, corrupt, what = CORRUPTIONS[case]
    env, version = champion["env"], champion["version"]
    path = champion["artifact_dir"] / name
    original = path.read_bytes()
    label = f"model '{MODEL}' v{version}"
    registry = open_platform(MODEL, env.settings).registry
    corrupt(path)
    try:
        messages = []
        for load in (lambda: registry.load_version(MODEL, version), lambda: registry.load_champion(MODEL)):
            with pytest.raises(RegistryError) as err:
                load()
            messages.append(str(err.value))
        batch = champion["batches"][CORRUPT_DS]["validated"]
        with pytest.raises(RegistryError) as err:
            _step(env, "build_features", CORRUPT_DS, "scoring", batch=batch)
        messages.append(str(err.value))
        with pytest.raises(RegistryError) as err:
            _step(env, "score", CORRUPT_DS, "scoring", featured=champion["featured"])
        messages.append(str(err.value))
        for message in messages:
            assert label in message and str(path) in message and what in message, message
        assert _predictions(spark, env, CORRUPT_DS) == [], "a refused model scored rows"
    finally:
        path.write_bytes(original)
    assert registry.load_version(MODEL, version).version == version, "restored"
    rows = champion["batches"][CORRUPT_DS]["rows"]
    kept = [r[ID] for r in validated(spark, env, batch_id(CORRUPT_DS))]
    accounting = account(
        ids(rows), kept, [q["entity_id"] for q in quarantined(spark, env, batch_id(CORRUPT_DS))]
    )
    assert accounting.balanced, accounting
    report(f"model_{case}", accounting, messages[0])


def test_unseen_categories_are_scored_once_each(spark, champion) -> None:  # type: ignore[no-untyped-def]
    env = champion["env"]
    batch = champion["batches"][SCORE_DS]
    featured = _step(env, "build_features", SCORE_DS, "scoring", batch=batch["validated"])
    scored = _step(env, "score", SCORE_DS, "scoring", featured=featured)
    predictions = _predictions(spark, env, SCORE_DS)
    scored_ids = [p["entity_id"] for p in predictions]
    assert scored["predictions"] == len(predictions) == len(batch["rows"])
    assert sorted(scored_ids) == sorted(ids(batch["rows"])), "every row scored exactly once"
    by_id = {p["entity_id"]: p for p in predictions}
    for row in (batch["rows"][2], batch["rows"][5]):
        assert 0.0 <= by_id[row[ID]]["score"] <= 1.0
        assert by_id[row[ID]]["model_version"] == champion["version"]
    accounting = account(ids(batch["rows"]), scored_ids, [])
    assert accounting.balanced, accounting
    report("unseen_category_scored", accounting, "scored through <col>__other")
