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

from mlplatform.registry import (
    CommitConflictError,
    ModelRetiredError,
    NoChampionError,
    PromotionConflictError,
    RegistryError,
)
from mlplatform.registry import events as ev

THREADS = 3
REGISTRATION_ROUNDS = 3
PROMOTION_ROUNDS = 4

pytestmark = pytest.mark.spark


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
    assert holder == ev.current_aliases(events).get(alias)


# --- races --------------------------------------------------------------------------------------


def test_racing_registrations_get_distinct_versions(registry, register, model, capsys) -> None:  # type: ignore[no-untyped-def]
    """The first round also races the registry table's creation."""
    expected_auc: dict[str, float] = {}
    for round_no in range(REGISTRATION_ROUNDS):
        workers = []
        for t in range(THREADS):
            run_id = f"run_{round_no}_{t}"
            expected_auc[run_id] = round(0.7 + 0.01 * len(expected_auc), 4)
            workers.append(lambda run_id=run_id: register(run_id, expected_auc[run_id]))
        results = _race(workers)
        assert all(kind == "ok" for kind, _ in results), results
        assert all(created for _, (_, created) in results)
    found = registry.versions(model)
    numbers = [int(e["version"]) for e in found]
    assert sorted(numbers) == list(range(1, REGISTRATION_ROUNDS * THREADS + 1))
    assert len({e["run_id"] for e in found}) == len(found)
    for entry in found:  # each version's folder holds its own run's artifacts, untouched by the others
        loaded = registry.load_version(model, int(entry["version"]))
        assert loaded.metrics["auc"] == expected_auc[entry["run_id"]]
    stats = registry.stats.as_dict()
    with capsys.disabled():
        print(f"\nregistration race ({REGISTRATION_ROUNDS} rounds x {THREADS} threads): {stats}")
    assert stats["commits"] == REGISTRATION_ROUNDS * THREADS
    assert stats["exhausted"] == 0
    assert stats["conflicts"] + stats["stale"] > 0, "the race never made two registrations collide"


def test_racing_promotions_leave_one_champion(registry, register, promote, model, capsys) -> None:  # type: ignore[no-untyped-def]
    candidates = list(range(1, THREADS + 2))
    for v in candidates:
        assert register(f"train_{v}") == (v, True)
    registry.stats.reset()
    winners = []
    for round_no in range(PROMOTION_ROUNDS):
        current = registry.champion_version(model)
        challengers = [v for v in candidates if v != current][:THREADS]
        results = _race(
            [lambda v=v, c=current, r=round_no: promote(v, c, f"promote_{r}_{v}") for v in challengers]
        )
        won = [v for v, (kind, value) in zip(challengers, results, strict=True) if kind == "ok" and value]
        lost = [value for kind, value in results if kind == "error"]
        assert len(won) == 1, f"round {round_no}: {results}"
        assert len(lost) == THREADS - 1 and all(isinstance(e, PromotionConflictError) for e in lost), lost
        for error in lost:
            assert model in str(error) and f"v{won[0]}" in str(error)
        events = registry.events(model)
        assert ev.current_aliases(events) == {"champion": won[0]}
        _assert_consistent_history(events)
        winners.append(won[0])
    assert registry.champion_version(model) == winners[-1]
    assert registry.load_champion(model).version == winners[-1]
    stats = registry.stats.as_dict()
    with capsys.disabled():
        print(f"\npromotion race ({PROMOTION_ROUNDS} rounds x {THREADS} threads): {stats}; winners {winners}")
    assert stats["commits"] == PROMOTION_ROUNDS
    assert stats["conflicts"] + stats["stale"] > 0, "the race never made two promotions collide"


# --- the same windows, made deterministic -----------------------------------------------------


def _interleave(monkeypatch: pytest.MonkeyPatch, registry, competitor: Callable[[], Any]) -> None:  # type: ignore[no-untyped-def]
    """Run ``competitor`` once, right after the registry's next read: a commit that lands between a
    writer's read and its transaction."""
    original = registry.event_log.read
    state = {"armed": True}

    def read_then_compete(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        result = original(*args, **kwargs)
        if state["armed"]:
            state["armed"] = False
            competitor()
        return result

    monkeypatch.setattr(registry.event_log, "read", read_then_compete)


def test_promotion_over_a_stale_read_raises_conflict(registry, register, promote, model, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for v in (1, 2, 3):
        register(f"train_{v}")
    promote(1, None, "p1")
    _interleave(monkeypatch, registry, lambda: promote(2, 1, "competitor"))
    registry.stats.reset()
    with pytest.raises(PromotionConflictError, match=rf"model '{model}'.*v3.*expected v1.*v2 does now"):
        promote(3, 1, "late")
    # the competitor committed; the late MERGE saw its events and inserted nothing, then gave up on re-read
    assert registry.stats.as_dict() == {"commits": 1, "conflicts": 0, "stale": 1, "exhausted": 0}
    events = registry.events(model)
    assert ev.current_aliases(events) == {"champion": 2}
    _assert_consistent_history(events)


def test_registration_over_a_stale_read_takes_the_next_version(
    registry, register, model, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    register("first", 0.71)
    _interleave(monkeypatch, registry, lambda: register("competitor", 0.72))
    assert register("late", 0.73) == (3, True)
    by_run = {e["run_id"]: int(e["version"]) for e in registry.versions(model)}
    assert by_run == {"first": 1, "competitor": 2, "late": 3}
    assert registry.load_version(model, 2).metrics["auc"] == 0.72
    assert registry.load_version(model, 3).metrics["auc"] == 0.73
    assert registry.stats.as_dict()["stale"] == 1


def test_interrupted_registration_is_reported_and_repaired(
    registry, register, layout, model, tiny_booster
) -> None:  # type: ignore[no-untyped-def]
    """The registry event commits before the files are written; a rerun of the run rewrites them."""
    import shutil
    from pathlib import Path

    register("run_1")
    shutil.rmtree(Path(layout.model_version_dir(model, 1)))
    with pytest.raises(RegistryError, match=r"v1: .*manifest.json is missing"):
        registry.load_version(model, 1)
    assert register("run_1") == (1, False)
    assert registry.load_version(model, 1).booster_raw == tiny_booster.raw
    shutil.rmtree(Path(layout.model_version_dir(model, 1)))
    with pytest.raises(RegistryError, match="cannot repair"):  # different content cannot be passed off as v1
        register("run_1", auc=0.9)


def test_retries_are_bounded() -> None:
    stats = ev.CommitStats()
    calls: list[int] = []

    def always_stale() -> ev.Stale:
        calls.append(1)
        return ev.STALE

    with pytest.raises(CommitConflictError, match=rf"model 'm'.*{ev.MAX_COMMIT_ATTEMPTS} attempts"):
        ev.commit_with_retries("m", "testing", always_stale, stats=stats, backoff_seconds=0)
    assert len(calls) == ev.MAX_COMMIT_ATTEMPTS
    assert stats.as_dict() == {"commits": 0, "conflicts": 0, "stale": ev.MAX_COMMIT_ATTEMPTS, "exhausted": 1}

    def conflicting() -> None:
        raise RuntimeError("[DELTA_CONCURRENT_APPEND] ConcurrentAppendException: Files were added")

    stats.reset()
    with pytest.raises(CommitConflictError) as info:
        ev.commit_with_retries("m", "testing", conflicting, stats=stats, backoff_seconds=0)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert stats.as_dict()["conflicts"] == ev.MAX_COMMIT_ATTEMPTS

    def broken() -> None:
        calls.append(1)
        raise ValueError("not a conflict")

    calls.clear()
    with pytest.raises(ValueError, match="not a conflict"):  # other errors are not retried
        ev.commit_with_retries("m", "testing", broken, stats=stats, backoff_seconds=0)
    assert len(calls) == 1

    flaky = iter([ev.STALE, "done"])
    assert (
        ev.commit_with_retries("m", "testing", lambda: next(flaky), stats=stats, backoff_seconds=0) == "done"
    )


def test_conflicts_are_recognised_by_class_or_error_class() -> None:
    class DeltaConcurrentModificationException(Exception):
        pass

    class ConcurrentAppendException(DeltaConcurrentModificationException):
        pass

    assert ev.is_conflict(ConcurrentAppendException("files were added"))
    assert ev.is_conflict(RuntimeError("[DELTA_PROTOCOL_CHANGED] the protocol changed"))
    assert not ev.is_conflict(ValueError("DELTA_TABLE_NOT_FOUND"))


# --- archive and retire -----------------------------------------------------------------------


def test_archive_version(registry, register, promote, model) -> None:  # type: ignore[no-untyped-def]
    for v in (1, 2):
        register(f"train_{v}")
    promote(1, None, "p1")
    assert registry.archive_version(model=model, version=2, actor="alice", reason="superseded")
    assert not registry.archive_version(model=model, version=2, actor="alice", reason="again")
    archived = [e for e in registry.events(model) if e["event"] == "archived"]
    assert [(e["version"], e["alias"], e["actor"], e["reason"]) for e in archived] == [
        (2, None, "alice", "superseded")
    ]
    with pytest.raises(RegistryError, match=f"model '{model}' v2 is archived"):
        promote(2, 1, "p2")
    with pytest.raises(RegistryError, match="holds 'champion'"):
        registry.archive_version(model=model, version=1, actor="alice", reason="oops")
    with pytest.raises(RegistryError, match="no registered version 9"):
        registry.archive_version(model=model, version=9, actor="alice", reason="typo")
    assert registry.archive_version(model=model, version=1, actor="bob", reason="bad", force=True)
    events = registry.events(model)
    assert ev.current_aliases(events) == {}
    _assert_consistent_history(events)
    assert registry.model_state(model)["archived"] == [1, 2]
    with pytest.raises(NoChampionError, match="has no champion"):
        registry.load_champion(model)
    assert registry.load_version(model, 2).version == 2  # archived versions stay loadable


def test_retire_model(registry, register, promote, model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistryError, match="no registered versions"):
        registry.retire_model(model=model, actor="carol", reason="nothing there")
    for v in (1, 2):
        register(f"train_{v}")
    promote(1, None, "p1")
    registry.ensure_not_retired(model)
    assert registry.retire_model(model=model, actor="carol", reason="product discontinued")
    assert not registry.retire_model(model=model, actor="carol", reason="twice")
    events = registry.events(model)
    retired = [e for e in events if e["event"] == "retired"]
    assert [(e["version"], e["alias"], e["actor"], e["reason"]) for e in retired] == [
        (1, "champion", "carol", "product discontinued")
    ]
    _assert_consistent_history(events)
    state = registry.model_state(model)
    assert state == {
        "versions": [1, 2],
        "aliases": {},
        "archived": [],
        "retired": True,
        "retired_by": "carol",
        "retired_reason": "product discontinued",
    }
    assert registry.champion_version(model) is None
    with pytest.raises(ModelRetiredError, match=rf"model '{model}' is retired .*carol.*product discontinued"):
        registry.load_champion(model)
    with pytest.raises(NoChampionError):  # callers that catch NoChampionError keep working
        registry.load_champion(model)
    with pytest.raises(ModelRetiredError, match="cannot be scored or promoted"):
        registry.ensure_not_retired(model)
    with pytest.raises(ModelRetiredError, match="cannot be scored or promoted"):
        promote(2, None, "p2")
    assert registry.load_version(model, 1).version == 1  # kept for audit


def test_retire_without_champion_records_one_event(registry, register, model) -> None:  # type: ignore[no-untyped-def]
    register("train_1")
    assert registry.retire_model(model=model, actor="dave", reason="never used", run_id="manual")
    events = registry.events(model)
    assert [(e["event"], e["version"], e["alias"], e["run_id"]) for e in events] == [
        ("registered", 1, None, "train_1"),
        ("retired", 1, None, "manual"),
    ]
    with pytest.raises(ModelRetiredError, match=f"'{model}' is retired"):
        registry.load_champion(model)
