"""Registry writes under concurrency, and the archive/retire lifecycle.

The races run writers in threads of one SparkSession, released together by a barrier: Delta
detects conflicting commits per transaction, so threads race exactly as processes would. Each
race is repeated several rounds; the commit statistics show how many MERGEs Delta failed
(``conflicts``) or found outdated (``stale``) and retried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from mlplatform.io.layout import StorageLayout
from mlplatform.registry import store as registry
from mlplatform.registry.store import (
    CommitConflictError,
    ModelRetiredError,
    NoChampionError,
    PromotionConflictError,
    RegistryError,
    append_alias_events,
    archive_version,
    champion_version,
    commit_stats,
    current_aliases,
    lifecycle_state,
    load_champion,
    load_version,
    register_version,
    reset_commit_stats,
    retire_model,
    versions,
)

MODEL = "race_model"
THREADS = 3
REGISTRATION_ROUNDS = 3
PROMOTION_ROUNDS = 4

pytestmark = pytest.mark.spark


def _documents(feature_names: list[str], auc: float) -> dict[str, Any]:
    return {
        "feature_state.json": {"format": 1, "impute": {}, "vocabulary": {}, "feature_names": feature_names},
        "reference_profile.json": {"features": {}},
        "metrics.json": {"auc": auc, "pr_auc": 0.5, "logloss": 0.4},
        "signature.json": {"feature_names": feature_names, "feature_types": ["double"] * len(feature_names)},
    }


def _register(spark, registry_uri: str, layout: StorageLayout, tiny_booster, run_id: str, auc: float = 0.8):  # type: ignore[no-untyped-def]
    return register_version(
        spark,
        registry_uri,
        model=MODEL,
        version_dir_for=lambda v: layout.model_version_dir(MODEL, v),
        booster_raw=tiny_booster.raw,
        documents=_documents(tiny_booster.feature_names, auc),
        extra_files={"run.txt": run_id.encode()},
        run_id=run_id,
        dag_id=f"{MODEL}_training",
        actor="test",
        reason="concurrency test",
        spec_hash="0" * 64,
        training_inputs={"features": 1},
        params={"max_depth": 3},
        code_version="test",
    )


def _promote(spark, registry_uri: str, version: int, expected: int | None, run_id: str) -> bool:  # type: ignore[no-untyped-def]
    return append_alias_events(
        spark,
        registry_uri,
        model=MODEL,
        promote=version,
        demote=expected,
        alias="champion",
        run_id=run_id,
        dag_id=f"{MODEL}_training",
        actor="test",
        reason="concurrency test",
    )


def _race(workers: list[Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Run the workers in threads released together; ``("ok", value)`` or ``("error", exception)``."""
    barrier = threading.Barrier(len(workers))
    results: list[tuple[str, Any]] = [("error", RuntimeError("did not run"))] * len(workers)

    def run(index: int, work: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = ("ok", work())
        except Exception as exc:  # collected and asserted on by the test
            results[index] = ("error", exc)

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return results


def _assert_consistent_history(events: list[dict[str, Any]], alias: str = "champion") -> None:
    """Replaying in order: a promotion only when the alias is free, a demotion only of its holder."""
    holder: int | None = None
    for event in events:
        if event["alias"] != alias:
            continue
        version = int(event["version"])
        if event["event"] == "promoted":
            assert holder is None, f"v{version} promoted while v{holder} still held '{alias}': {events}"
            holder = version
        elif event["event"] in ("demoted", "archived", "retired"):
            assert holder == version, f"{event['event']} v{version} but v{holder} held '{alias}'"
            holder = None
    assert holder == current_aliases(events).get(alias)


@pytest.fixture()
def layout(storage_root: str) -> StorageLayout:
    return StorageLayout(storage_root)


@pytest.fixture()
def registry_uri(layout: StorageLayout) -> str:
    return layout.platform_table("model_registry")


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "BACKOFF_SECONDS", 0.05)


# --- races --------------------------------------------------------------------------------------


def test_racing_registrations_get_distinct_versions(
    spark, layout, registry_uri, tiny_booster, capsys
) -> None:  # type: ignore[no-untyped-def]
    """The first round also races the registry table's creation."""
    reset_commit_stats()
    expected_auc: dict[str, float] = {}
    for round_no in range(REGISTRATION_ROUNDS):
        workers = []
        for t in range(THREADS):
            run_id = f"run_{round_no}_{t}"
            expected_auc[run_id] = round(0.7 + 0.01 * len(expected_auc), 4)
            workers.append(
                lambda run_id=run_id: _register(
                    spark, registry_uri, layout, tiny_booster, run_id, expected_auc[run_id]
                )
            )
        results = _race(workers)
        assert all(kind == "ok" for kind, _ in results), results
        assert all(created for _, (_, created) in results)
    found = versions(spark, registry_uri, MODEL)
    numbers = [int(e["version"]) for e in found]
    assert sorted(numbers) == list(range(1, REGISTRATION_ROUNDS * THREADS + 1))
    assert len({e["run_id"] for e in found}) == len(found)
    for entry in found:  # each version's folder holds its own run's artifacts, untouched by the others
        loaded = load_version(spark, registry_uri, MODEL, int(entry["version"]))
        assert loaded.metrics["auc"] == expected_auc[entry["run_id"]]
    stats = commit_stats()
    with capsys.disabled():
        print(f"\nregistration race ({REGISTRATION_ROUNDS} rounds x {THREADS} threads): {stats}")
    assert stats["commits"] == REGISTRATION_ROUNDS * THREADS
    assert stats["conflicts"] + stats["stale"] > 0, "the race never made two registrations collide"


def test_racing_promotions_leave_one_champion(spark, layout, registry_uri, tiny_booster, capsys) -> None:  # type: ignore[no-untyped-def]
    candidates = list(range(1, THREADS + 2))
    for v in candidates:
        assert _register(spark, registry_uri, layout, tiny_booster, f"train_{v}") == (v, True)
    reset_commit_stats()
    winners = []
    for round_no in range(PROMOTION_ROUNDS):
        current = champion_version(spark, registry_uri, MODEL)
        challengers = [v for v in candidates if v != current][:THREADS]
        results = _race(
            [
                lambda v=v, c=current, r=round_no: _promote(spark, registry_uri, v, c, f"promote_{r}_{v}")
                for v in challengers
            ]
        )
        won = [v for v, (kind, value) in zip(challengers, results, strict=True) if kind == "ok" and value]
        lost = [value for kind, value in results if kind == "error"]
        assert len(won) == 1, f"round {round_no}: {results}"
        assert len(lost) == THREADS - 1 and all(isinstance(e, PromotionConflictError) for e in lost), lost
        for error in lost:
            assert MODEL in str(error) and f"v{won[0]}" in str(error)
        events = registry._events(spark, registry_uri, MODEL)
        assert current_aliases(events) == {"champion": won[0]}
        _assert_consistent_history(events)
        winners.append(won[0])
    assert champion_version(spark, registry_uri, MODEL) == winners[-1]
    assert load_champion(spark, registry_uri, MODEL).version == winners[-1]
    stats = commit_stats()
    with capsys.disabled():
        print(f"\npromotion race ({PROMOTION_ROUNDS} rounds x {THREADS} threads): {stats}; winners {winners}")
    assert stats["commits"] == PROMOTION_ROUNDS
    assert stats["conflicts"] + stats["stale"] > 0, "the race never made two promotions collide"


# --- the same windows, made deterministic -----------------------------------------------------


def _interleave(monkeypatch: pytest.MonkeyPatch, competitor: Callable[[], Any]) -> list[int]:
    """Run ``competitor`` once, right after the next registry read: a commit that lands between a
    writer's read and its transaction."""
    original = registry._read_events
    state = {"armed": True}
    calls: list[int] = []

    def read_then_compete(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        result = original(*args, **kwargs)
        calls.append(1)
        if state["armed"]:
            state["armed"] = False
            competitor()
        return result

    monkeypatch.setattr(registry, "_read_events", read_then_compete)
    return calls


def test_promotion_over_a_stale_read_raises_conflict(
    spark, layout, registry_uri, tiny_booster, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    for v in (1, 2, 3):
        _register(spark, registry_uri, layout, tiny_booster, f"train_{v}")
    _promote(spark, registry_uri, 1, None, "p1")
    _interleave(monkeypatch, lambda: _promote(spark, registry_uri, 2, 1, "competitor"))
    reset_commit_stats()
    with pytest.raises(PromotionConflictError, match=rf"model '{MODEL}'.*v3.*expected v1.*v2 does now"):
        _promote(spark, registry_uri, 3, 1, "late")
    assert commit_stats()["stale"] == 1  # the MERGE saw the competitor's events and inserted nothing
    events = registry._events(spark, registry_uri, MODEL)
    assert current_aliases(events) == {"champion": 2}
    _assert_consistent_history(events)


def test_registration_over_a_stale_read_takes_the_next_version(
    spark, layout, registry_uri, tiny_booster, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    _register(spark, registry_uri, layout, tiny_booster, "first", 0.71)
    _interleave(monkeypatch, lambda: _register(spark, registry_uri, layout, tiny_booster, "competitor", 0.72))
    assert _register(spark, registry_uri, layout, tiny_booster, "late", 0.73) == (3, True)
    by_run = {e["run_id"]: int(e["version"]) for e in versions(spark, registry_uri, MODEL)}
    assert by_run == {"first": 1, "competitor": 2, "late": 3}
    assert load_version(spark, registry_uri, MODEL, 2).metrics["auc"] == 0.72
    assert load_version(spark, registry_uri, MODEL, 3).metrics["auc"] == 0.73


def test_interrupted_registration_is_reported_and_repaired(spark, layout, registry_uri, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    """The registry event commits before the files are written; a rerun of the run rewrites them."""
    import shutil
    from pathlib import Path

    _register(spark, registry_uri, layout, tiny_booster, "run_1")
    shutil.rmtree(Path(layout.model_version_dir(MODEL, 1)))
    with pytest.raises(RegistryError, match=r"v1: .*manifest.json is missing"):
        load_version(spark, registry_uri, MODEL, 1)
    assert _register(spark, registry_uri, layout, tiny_booster, "run_1") == (1, False)
    assert load_version(spark, registry_uri, MODEL, 1).booster_raw == tiny_booster.raw
    shutil.rmtree(Path(layout.model_version_dir(MODEL, 1)))
    with pytest.raises(RegistryError, match="cannot repair"):  # different content cannot be passed off as v1
        _register(spark, registry_uri, layout, tiny_booster, "run_1", auc=0.9)


def test_retries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def always_stale() -> tuple[bool, None]:
        calls.append(1)
        return False, None

    with pytest.raises(CommitConflictError, match=rf"model 'm'.*{registry.MAX_COMMIT_ATTEMPTS} attempts"):
        registry._retrying("m", "testing", always_stale)
    assert len(calls) == registry.MAX_COMMIT_ATTEMPTS

    def conflicting() -> tuple[bool, None]:
        raise RuntimeError("[DELTA_CONCURRENT_APPEND] ConcurrentAppendException: Files were added")

    with pytest.raises(CommitConflictError):
        registry._retrying("m", "testing", conflicting)

    def broken() -> tuple[bool, None]:
        raise ValueError("not a conflict")

    with pytest.raises(ValueError, match="not a conflict"):  # other errors are not retried
        registry._retrying("m", "testing", broken)


# --- archive and retire -----------------------------------------------------------------------


def test_archive_version(spark, layout, registry_uri, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    for v in (1, 2):
        _register(spark, registry_uri, layout, tiny_booster, f"train_{v}")
    _promote(spark, registry_uri, 1, None, "p1")
    assert archive_version(spark, registry_uri, model=MODEL, version=2, actor="alice", reason="superseded")
    assert not archive_version(spark, registry_uri, model=MODEL, version=2, actor="alice", reason="again")
    events = registry._events(spark, registry_uri, MODEL)
    archived = [e for e in events if e["event"] == "archived"]
    assert [(e["version"], e["alias"], e["actor"], e["reason"]) for e in archived] == [
        (2, None, "alice", "superseded")
    ]
    with pytest.raises(RegistryError, match=f"model '{MODEL}' v2 is archived"):
        _promote(spark, registry_uri, 2, 1, "p2")
    with pytest.raises(RegistryError, match="holds 'champion'"):
        archive_version(spark, registry_uri, model=MODEL, version=1, actor="alice", reason="oops")
    with pytest.raises(RegistryError, match="no registered version 9"):
        archive_version(spark, registry_uri, model=MODEL, version=9, actor="alice", reason="typo")
    assert archive_version(spark, registry_uri, model=MODEL, version=1, actor="bob", reason="bad", force=True)
    events = registry._events(spark, registry_uri, MODEL)
    assert current_aliases(events) == {}
    _assert_consistent_history(events)
    assert lifecycle_state(events)["archived"] == [1, 2]
    with pytest.raises(NoChampionError, match="has no champion"):
        load_champion(spark, registry_uri, MODEL)
    assert load_version(spark, registry_uri, MODEL, 2).version == 2  # archived versions stay loadable


def test_retire_model(spark, layout, registry_uri, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistryError, match="no registered versions"):
        retire_model(spark, registry_uri, model=MODEL, actor="carol", reason="nothing there")
    for v in (1, 2):
        _register(spark, registry_uri, layout, tiny_booster, f"train_{v}")
    _promote(spark, registry_uri, 1, None, "p1")
    assert retire_model(spark, registry_uri, model=MODEL, actor="carol", reason="product discontinued")
    assert not retire_model(spark, registry_uri, model=MODEL, actor="carol", reason="twice")
    events = registry._events(spark, registry_uri, MODEL)
    retired = [e for e in events if e["event"] == "retired"]
    assert [(e["version"], e["alias"], e["actor"], e["reason"]) for e in retired] == [
        (1, "champion", "carol", "product discontinued")
    ]
    _assert_consistent_history(events)
    state = lifecycle_state(events)
    assert state["retired"] and state["aliases"] == {} and state["retired_by"] == "carol"
    assert champion_version(spark, registry_uri, MODEL) is None
    with pytest.raises(ModelRetiredError, match=rf"model '{MODEL}' is retired .*carol.*product discontinued"):
        load_champion(spark, registry_uri, MODEL)
    with pytest.raises(NoChampionError):  # callers that catch NoChampionError keep working
        load_champion(spark, registry_uri, MODEL)
    with pytest.raises(ModelRetiredError, match="cannot be scored or promoted"):
        _promote(spark, registry_uri, 2, None, "p2")
    assert load_version(spark, registry_uri, MODEL, 1).version == 1  # kept for audit


def test_retire_without_champion_records_one_event(spark, layout, registry_uri, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    _register(spark, registry_uri, layout, tiny_booster, "train_1")
    assert retire_model(spark, registry_uri, model=MODEL, actor="dave", reason="never used", run_id="manual")
    events = registry._events(spark, registry_uri, MODEL)
    assert [(e["event"], e["version"], e["alias"], e["run_id"]) for e in events] == [
        ("registered", 1, None, "train_1"),
        ("retired", 1, None, "manual"),
    ]
    with pytest.raises(ModelRetiredError, match=f"'{MODEL}' is retired"):
        load_champion(spark, registry_uri, MODEL)
