"""Fault cases: a killed scoring run, racing promotions, training reruns, a retired model, a full disk.

Steps run directly through ``mlplatform.lifecycle.runner.run_step`` on real Spark, Delta, GX and
XGBoost. One model (v1) is trained and promoted once for the module on 1,200 demo rows; two
challengers trained from the same data (new run ids) serve the reproducibility and promotion
cases. Every scoring case ends with the same row accounting: the date's predictions are exactly the
validated rows, each once, all from one run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import PROJECT_ROOT

pytestmark = pytest.mark.spark

MODEL = "churn_demo"
TRAIN_DATE = "2026-11-01"
DAY_KILL, DAY_DISK, DAY_RETIRED = "2026-11-02", "2026-11-03", "2026-11-04"
V1_RUN = "manual__fault_v1"
CHALLENGER_RUNS = ("manual__fault_c2", "manual__fault_c3")
TRAINING_CHAIN = [
    ("ingest", "mode"),
    ("validate", "batch"),
    ("build_features", "batch"),
    ("train", "batch"),
    ("evaluate", "trained"),
    ("register", "evaluated"),
    ("explain", "registered"),
    ("gate", "explained"),
    ("promote", "gate"),
]
SCORING_CHAIN = [
    ("ingest", "mode"),
    ("validate", "batch"),
    ("build_features", "batch"),
    ("score", "featured"),
]


def _ctx(dag: str, task: str, ds: str, run_id: str, try_number: int = 1):  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext

    logical = datetime.fromisoformat(ds).replace(tzinfo=UTC)
    return RunContext(run_id, f"{MODEL}_{dag}", task, logical, "test", try_number=try_number)


def _spec_dir(target: Path, n_estimators: int, max_depth: int) -> Path:
    """The demo spec with a booster of the given size and fewer bootstrap samples."""
    target.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())
    params = {**raw["training"].get("params", {}), "n_estimators": n_estimators, "max_depth": max_depth}
    raw["training"]["params"] = params
    raw["evaluation"] = {**raw.get("evaluation", {}), "bootstrap_samples": 50}
    # Absolute thresholds low enough for a one-stump v1; challengers must still beat it.
    promotion = {"bootstrap_samples": 50, "min_auc": 0.5, "min_pr_auc": 0.05, "max_logloss": 0.9}
    raw["promotion"] = {**raw.get("promotion", {}), **promotion}
    (target / f"{MODEL}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


def _train(settings, run_id: str, until: str = "promote") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.lifecycle.runner import run_step

    out: dict[str, Any] = {}
    value: Any = "training"
    for task, input_name in TRAINING_CHAIN:
        ctx = _ctx("training", task, TRAIN_DATE, run_id)
        value = run_step(task, MODEL, ctx, settings=settings, **{input_name: value})
        out[task] = value
        if task == until:
            break
    return out


def _score(settings, ds: str, run_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.lifecycle.runner import run_step

    out: dict[str, Any] = {}
    value: Any = "scoring"
    for task, input_name in SCORING_CHAIN:
        value = run_step(
            task, MODEL, _ctx("scoring", task, ds, run_id), settings=settings, **{input_name: value}
        )
        out[task] = value
    return out


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """v1 (a single stump, so that challengers beat it) trained, explained, gated and promoted
    through the steps on 1,200 demo rows."""
    from mlplatform.config.settings import Settings
    from mlplatform.demo.data import write_demo_landing
    from mlplatform.io.layout import StorageLayout

    base = tmp_path_factory.mktemp("faults")
    settings = Settings(storage_root=str(base / "lake"), spec_dir=_spec_dir(base / "specs", 1, 1))
    layout = StorageLayout(settings.storage_root)
    days = dict.fromkeys((DAY_KILL, DAY_DISK, DAY_RETIRED), False)
    write_demo_landing(layout.landing_dir(MODEL), 1200, 300, days, seed=11)
    out = _train(settings, V1_RUN)
    assert out["promote"]["promoted"] is True and out["register"]["version"] == 1
    return {"settings": settings, "layout": layout, "base": base, **out}


@pytest.fixture(scope="module")
def challengers(trained) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Two more training runs (new run ids) on the same data and the same, larger booster spec,
    through the gate against v1 (one stump, so that they beat it: a tie does not promote)."""
    from mlplatform.config.settings import Settings

    stronger = Settings(
        storage_root=trained["settings"].storage_root, spec_dir=_spec_dir(trained["base"] / "specs_c", 40, 4)
    )
    return {run_id: _train(stronger, run_id, until="gate") for run_id in CHALLENGER_RUNS}


# --- accounting helpers -------------------------------------------------------------------------


def _table(spark, layout, name: str):  # type: ignore[no-untyped-def]
    return spark.read.format("delta").load(layout.platform_table(name)).where(f"model_name = '{MODEL}'")


def _validated_ids(spark, layout, ds: str) -> list[str]:
    from mlplatform.io.layout import scoring_batch_id

    validated = spark.read.format("delta").load(layout.model_table(MODEL, "validated"))
    rows = validated.where(f"_batch_id = '{scoring_batch_id(ds)}'").select("customer_id").collect()
    return [str(r["customer_id"]) for r in rows]


def _account(spark, layout, ds: str, validated_rows: int) -> dict[str, Any]:
    """The date's predictions against its validated rows: lost, duplicated, and which runs wrote them."""
    predictions = _table(spark, layout, "predictions").where(f"score_date = DATE '{ds}'")
    rows = predictions.select("entity_id", "run_id", "model_version").collect()
    ids = [str(r["entity_id"]) for r in rows]
    validated = set(_validated_ids(spark, layout, ds))
    assert len(validated) == validated_rows, "the validated batch itself must hold the validated rows"
    return {
        "rows": len(rows),
        "lost": len(validated - set(ids)),
        "extra": len(set(ids) - validated),
        "duplicated": len(ids) - len(set(ids)),
        "runs": sorted({r["run_id"] for r in rows}),
        "versions": sorted({int(r["model_version"]) for r in rows}),
    }


def _assert_one_clean_set(spark, layout, ds: str, validated_rows: int, run_id: str) -> dict[str, Any]:
    got = _account(spark, layout, ds, validated_rows)
    assert got["rows"] == validated_rows, got
    assert (got["lost"], got["extra"], got["duplicated"]) == (0, 0, 0), got
    assert got["runs"] == [run_id], f"one run's outputs, not a mix: {got}"
    return got


def _delta_files(spark, path: str) -> tuple[int, set[str], set[str]]:
    """(version, data files the current snapshot references, parquet files on disk), as file names."""
    from delta.tables import DeltaTable

    version = int(DeltaTable.forPath(spark, path).history(1).first()["version"])
    live = {Path(f.replace("file:", "")).name for f in spark.read.format("delta").load(path).inputFiles()}
    on_disk = {p.name for p in Path(path).rglob("*.parquet") if "_delta_log" not in p.parts}
    return version, live, on_disk


# --- kill -9 in the middle of the predictions write ----------------------------------------------

CHILD = r"""
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path

from mlplatform.config.settings import Settings
from mlplatform.core.context import RunContext
from mlplatform.lifecycle.runner import run_step
import mlplatform.io.delta as delta

ds, run_id, handoff, marker = sys.argv[1:5]
settings = Settings()
logical = datetime.fromisoformat(ds).replace(tzinfo=UTC)
ctx = lambda task: RunContext(run_id, "churn_demo_scoring", task, logical, "test")
batch = run_step("ingest", "churn_demo", ctx("ingest"), settings=settings, mode="scoring")
validated = run_step("validate", "churn_demo", ctx("validate"), settings=settings, batch=batch)
featured = run_step("build_features", "churn_demo", ctx("build_features"), settings=settings, batch=validated)
Path(handoff).write_text(json.dumps({"validated": validated, "featured": featured}))

real_replace = delta.replace_partition

def stalled_replace(spark, df, path, predicate, partition_by=()):
    # Only the predictions write: split it into two write tasks; the first writes its part file
    # and finishes, the second never finishes, so the commit never comes. The parent kills us.
    if path.rstrip("/").endswith("/predictions"):
        def hold_second(batches):
            from pyspark import TaskContext

            stall = TaskContext.get().partitionId() == 1
            for b in batches:
                yield b
            if stall:
                time.sleep(3600)

        df = df.repartition(2).mapInPandas(hold_second, df.schema)
        Path(marker).write_text("writing predictions")
    return real_replace(spark, df, path, predicate, partition_by)

delta.replace_partition = stalled_replace
run_step("score", "churn_demo", ctx("score"), settings=settings, featured=featured)
print("SCORE COMMITTED: the kill came too late", flush=True)
"""


def _wait(what: str, check: Callable[[], Any], proc: subprocess.Popen, log: Path, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if proc.poll() is not None:
            raise AssertionError(
                f"scoring child exited ({proc.returncode}) before {what}:\n{log.read_text()[-4000:]}"
            )
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-4000:]}")


def test_kill_9_during_the_predictions_write_then_rerun(spark, trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A run scores the date; a second run is SIGKILLed after one predictions part file is on disk and
    before its Delta commit; its retry (same run id, try 2) replaces the date exactly once."""
    from mlplatform.lifecycle.runner import run_step

    settings, layout = trained["settings"], trained["layout"]
    path = layout.platform_table("predictions")
    first = _score(settings, DAY_KILL, "scheduled__first")
    validated_rows = first["validate"]["validated_rows"]
    _assert_one_clean_set(spark, layout, DAY_KILL, validated_rows, "scheduled__first")
    version_before, live_before, disk_before = _delta_files(spark, path)

    killed_run = "scheduled__killed"
    handoff, marker, log = tmp_path / "handoff.json", tmp_path / "marker", tmp_path / "child.log"
    (tmp_path / "child.py").write_text(CHILD)
    env = {
        **os.environ,
        "MLP_STORAGE_ROOT": settings.storage_root,
        "MLP_SPEC_DIR": str(settings.spec_dir),
        "MLP_SPARK_MASTER": "local[2]",
        "MLP_SPARK_SHUFFLE_PARTITIONS": "2",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(tmp_path / "child.py"), DAY_KILL, killed_run, str(handoff), str(marker)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=PROJECT_ROOT,
        )
    try:
        _wait("the predictions write to start", marker.exists, proc, log, 300)

        def orphan_part_file() -> set[str] | None:
            on_disk = {p.name for p in Path(path).rglob("*.parquet") if "_delta_log" not in p.parts}
            return (on_disk - disk_before) or None

        orphans = _wait("a new predictions part file", orphan_part_file, proc, log, 120)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    assert "SCORE COMMITTED" not in log.read_text()

    # Killed between the part file and the commit: the table is readable and unchanged.
    version_killed, live_killed, disk_killed = _delta_files(spark, path)
    assert version_killed == version_before, "the killed write must not have committed"
    assert live_killed == live_before and orphans <= disk_killed and not orphans & live_killed
    _assert_one_clean_set(spark, layout, DAY_KILL, validated_rows, "scheduled__first")

    # The retry of the killed task: same run id, try 2, the handoff its build_features step produced.
    done = json.loads(handoff.read_text())
    assert done["validated"]["validated_rows"] == validated_rows
    ctx = _ctx("scoring", "score", DAY_KILL, killed_run, try_number=2)
    retried = run_step("score", MODEL, ctx, settings=settings, featured=done["featured"])
    assert retried["predictions"] == validated_rows
    got = _assert_one_clean_set(spark, layout, DAY_KILL, validated_rows, killed_run)
    assert got["versions"] == [1]
    version_after, live_after, disk_after = _delta_files(spark, path)
    assert version_after == version_before + 1
    assert not orphans & live_after, "the killed run's part file must stay invisible"
    print(f"\nkill -9: orphan part files left on disk (not in the Delta log): {sorted(orphans)}")


# --- training reruns ----------------------------------------------------------------------------


def test_training_rerun_same_run_id_registers_one_version(spark, trained) -> None:  # type: ignore[no-untyped-def]
    """train → evaluate → register again under v1's run id: the same version, nothing new."""
    from mlplatform.lifecycle.runner import open_platform, run_step

    settings = trained["settings"]
    registry = open_platform(MODEL, settings).registry
    before = registry.versions(MODEL)
    value: Any = trained["build_features"]
    for task, input_name in TRAINING_CHAIN[3:6]:
        ctx = _ctx("training", task, TRAIN_DATE, V1_RUN, try_number=2)
        value = run_step(task, MODEL, ctx, settings=settings, **{input_name: value})
    assert (value["version"], value["created"]) == (1, False)
    after = registry.versions(MODEL)
    assert len(after) == len(before)
    assert [int(e["version"]) for e in after if e["run_id"] == V1_RUN] == [1]
    assert registry.load_version(MODEL, 1).booster_raw == registry.load_version(MODEL, 1).booster_raw


def test_training_on_the_same_data_under_a_new_run_id_is_a_new_identical_version(
    trained, challengers
) -> None:  # type: ignore[no-untyped-def]
    """The second challenger trains on the first one's data and spec under a new run id."""
    from mlplatform.lifecycle.runner import open_platform

    registry = open_platform(MODEL, trained["settings"]).registry
    by_run = {e["run_id"]: e for e in registry.versions(MODEL)}
    versions = [int(by_run[r]["version"]) for r in (V1_RUN, *CHALLENGER_RUNS)]
    assert versions == [1, 2, 3], by_run.keys()
    first, second = (by_run[r]["booster_sha256"] for r in CHALLENGER_RUNS)
    assert first == second, "the same data and spec under a new run id must train the same booster"
    assert registry.load_version(MODEL, 3).booster_raw == registry.load_version(MODEL, 2).booster_raw
    assert [challengers[r]["train"]["booster_sha256"] for r in CHALLENGER_RUNS] == [first, first]
    assert by_run[V1_RUN]["booster_sha256"] != first, "v1 was trained from a one-stump spec"


# --- two promotions at once ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def promotion_race(trained, challengers) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The promote steps of v2 and v3 (both gated against v1) in two threads released together.

    A barrier in ``ModelRegistry.promote`` holds each thread until both have read the champion and
    passed the step's own check: the window in which two promote tasks of two training runs overlap.
    """
    from mlplatform.lifecycle.runner import run_step
    from mlplatform.registry import ModelRegistry

    gates = {run_id: challengers[run_id]["gate"] for run_id in CHALLENGER_RUNS}
    if not all(g["passed"] and g["champion_version"] == 1 for g in gates.values()):
        pytest.fail(f"both challengers must pass their gates against v1 to race: {gates}")
    start, inside = threading.Barrier(2), threading.Barrier(2)
    original = ModelRegistry.promote

    def promote_together(self, **kwargs: Any) -> bool:  # type: ignore[no-untyped-def]
        try:
            inside.wait(timeout=300)
        except threading.BrokenBarrierError:
            pass  # the other thread never got here: it already failed; go on alone
        return original(self, **kwargs)

    results: dict[str, tuple[str, Any]] = {}

    def promote(run_id: str) -> None:
        start.wait(timeout=300)
        try:
            ctx = _ctx("training", "promote", TRAIN_DATE, run_id)
            results[run_id] = (
                "ok",
                run_step("promote", MODEL, ctx, settings=trained["settings"], gate=gates[run_id]),
            )
        except Exception as exc:  # asserted on by the tests
            results[run_id] = ("error", exc)
            inside.abort()

    ModelRegistry.promote = promote_together  # type: ignore[method-assign]
    try:
        threads = [threading.Thread(target=promote, args=(r,)) for r in CHALLENGER_RUNS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
    finally:
        ModelRegistry.promote = original  # type: ignore[method-assign]
    return {"results": results, "gates": gates}


def test_racing_promote_steps_leave_one_champion_and_a_clear_conflict(spark, trained, promotion_race) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.lifecycle.runner import open_platform
    from mlplatform.registry import PromotionConflictError
    from mlplatform.registry import events as ev

    results = promotion_race["results"]
    assert set(results) == set(CHALLENGER_RUNS), results
    won = [r for r, (kind, value) in results.items() if kind == "ok" and value["promoted"]]
    lost = [r for r in CHALLENGER_RUNS if r not in won]
    assert len(won) == 1 and len(lost) == 1, results
    winner = results[won[0]][1]["version"]
    loser = promotion_race["gates"][lost[0]]["version"]
    kind, error = results[lost[0]]
    assert kind == "error" and isinstance(error, PromotionConflictError), results
    assert f"'{MODEL}'" in str(error) and f"v{loser}" in str(error) and f"v{winner}" in str(error)
    registry = open_platform(MODEL, trained["settings"]).registry
    events = registry.events(MODEL)
    assert ev.current_aliases(events) == {"champion": winner}
    promoted = [int(e["version"]) for e in events if e["event"] == "promoted"]
    assert promoted == [1, winner], "one promotion committed, not two"
    lineage = _table(spark, trained["layout"], "lineage").where("task_id = 'promote'")
    states = {r["run_id"]: r["status"] for r in lineage.where(f"run_id IN {CHALLENGER_RUNS}").collect()}
    assert states == {won[0]: "success", lost[0]: "failed"}


def test_racing_promote_steps_record_consistent_decisions(spark, trained, promotion_race) -> None:  # type: ignore[no-untyped-def]
    """One decision row per racer: promoted=true for the champion only; the loser's row says why not."""
    from mlplatform.lifecycle.runner import open_platform

    champion = open_platform(MODEL, trained["settings"]).registry.champion_version(MODEL)
    decisions = _table(spark, trained["layout"], "promotion_decisions")
    rows = decisions.where(f"run_id IN {CHALLENGER_RUNS}").collect()
    recorded = sorted((int(r["version"]), bool(r["promoted"])) for r in rows)
    assert recorded == sorted([(2, champion == 2), (3, champion == 3)]), f"{recorded}; champion v{champion}"
    loser = next(r for r in rows if not r["promoted"])
    assert "another promotion committed first" in loser["reason"], loser["reason"]
    assert f"v{champion}" in loser["reason"], loser["reason"]


# --- a full disk under the storage root ---------------------------------------------------------


def _mount_tmpfs(target: Path, size_kb: int) -> None:
    target.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(target)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs: {(done.stderr or done.stdout).strip()}")


def _fill(target: Path) -> int:
    """Write a filler file until the file system is full; returns its size in bytes."""
    written = 0
    chunk = b"\0" * 65536
    with (target / "filler.bin").open("wb", buffering=0) as out:
        while True:
            try:
                written += out.write(chunk)
            except OSError:
                break
        for size in (4096, 512, 1):
            try:
                while True:
                    written += out.write(b"\0" * size)
            except OSError:
                pass
    return written


@pytest.fixture(scope="module")
def full_disk(spark, trained, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The lake copied onto a tmpfs that is then filled; the score step of a scored date rerun there."""
    from mlplatform.config.settings import Settings
    from mlplatform.io.layout import StorageLayout
    from mlplatform.lifecycle.runner import run_step

    settings = trained["settings"]
    first = _score(settings, DAY_DISK, "scheduled__disk_first")
    validated_rows = first["validate"]["validated_rows"]
    lake = Path(settings.storage_root)
    used_kb = sum(p.stat().st_size for p in lake.rglob("*") if p.is_file()) // 1024
    entries = sum(1 for _ in lake.rglob("*"))
    mount = tmp_path_factory.mktemp("disk") / "full"
    _mount_tmpfs(mount, used_kb + 4 * entries + 4096)
    try:
        full_root = mount / "lake"
        shutil.copytree(lake, full_root)
        full = Settings(storage_root=str(full_root), spec_dir=settings.spec_dir)
        full_layout = StorageLayout(full.storage_root)
        path = full_layout.platform_table("predictions")
        before = _delta_files(spark, path)
        rows_before = sorted(map(tuple, _table(spark, full_layout, "predictions").collect()))
        filler = _fill(mount)
        free = shutil.disk_usage(mount).free
        ctx = _ctx("scoring", "score", DAY_DISK, "scheduled__disk_full")
        try:
            run_step("score", MODEL, ctx, settings=full, featured=first["build_features"])
            error: BaseException | None = None
        except Exception as exc:  # asserted on by the tests
            error = exc
        after = _delta_files(spark, path)
        rows_after = sorted(map(tuple, _table(spark, full_layout, "predictions").collect()))
        kept = _account(spark, full_layout, DAY_DISK, validated_rows)
        (mount / "filler.bin").unlink()
        retried = run_step(
            "score",
            MODEL,
            dataclasses.replace(ctx, try_number=2),
            settings=full,
            featured=first["build_features"],
        )
        recovered = _account(spark, full_layout, DAY_DISK, validated_rows)
    except AssertionError as exc:  # a broken setup must fail, never pass for the xfail below
        pytest.fail(f"full-disk setup: {exc}")
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
        if os.path.ismount(mount):
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)
    return {
        "filler": filler,
        "free": free,
        "error": error,
        "path": path,
        "before": before,
        "after": after,
        "rows_before": rows_before,
        "rows_after": rows_after,
        "kept": kept,
        "retried": retried,
        "recovered": recovered,
        "validated_rows": validated_rows,
    }


def _chain(exc: BaseException | None) -> list[str]:
    """An error and what it was raised from or during, as ``Type: message`` each."""
    links = []
    while exc is not None:
        links.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return links


def test_a_full_disk_fails_the_write_and_keeps_the_last_version(full_disk) -> None:  # type: ignore[no-untyped-def]
    """The score step fails on ENOSPC; the predictions table's last version stays readable and
    unchanged; once space is freed the retry replaces the date exactly once."""
    assert full_disk["filler"] > 0 and full_disk["free"] < 64 * 1024
    assert full_disk["error"] is not None, "a write into a full file system must fail"
    links = _chain(full_disk["error"])
    assert any("No space left on device" in link for link in links), links
    predictions = f"TableWriteError: cannot write Delta table {full_disk['path']}: "
    assert any(link.startswith(predictions) for link in links), "the failed write is named"
    (version_before, live_before, _), (version_after, live_after, _) = full_disk["before"], full_disk["after"]
    assert version_after == version_before and live_after == live_before
    assert full_disk["rows_after"] == full_disk["rows_before"]
    n = full_disk["validated_rows"]
    kept, recovered = full_disk["kept"], full_disk["recovered"]
    assert kept["rows"] == n and (kept["lost"], kept["extra"], kept["duplicated"]) == (0, 0, 0), kept
    assert kept["runs"] == ["scheduled__disk_first"], kept
    assert full_disk["retried"]["predictions"] == n
    assert recovered["rows"] == n, recovered
    assert (recovered["lost"], recovered["extra"], recovered["duplicated"]) == (0, 0, 0), recovered
    assert recovered["runs"] == ["scheduled__disk_full"], recovered
    heads = [link.strip().splitlines()[0][:200] for link in _chain(full_disk["error"])]
    print(f"\nfull disk error chain: {heads[:6]}")


def test_a_full_disk_error_names_the_table_the_step_failed_to_write(full_disk) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.io.delta import TableWriteError

    error, predictions = full_disk["error"], full_disk["path"]
    first_line = str(error).strip().splitlines()[0]
    assert isinstance(error, TableWriteError), first_line
    assert predictions in first_line and "No space left on device" in first_line, first_line


# --- a retired model ----------------------------------------------------------------------------


def test_a_retired_model_is_not_scored(spark, trained) -> None:  # type: ignore[no-untyped-def]
    """Last in the module: retire through the step, then the scoring ingest refuses, writing nothing."""
    from mlplatform.lifecycle.runner import open_platform, run_step
    from mlplatform.registry import ModelRetiredError

    settings, layout = trained["settings"], trained["layout"]
    p = open_platform(MODEL, settings)
    ctx = _ctx("retirement", "retire", DAY_RETIRED, "manual__retire")
    retired = run_step("retire", MODEL, ctx, settings=settings, reason="fault corpus: product discontinued")
    assert retired["retired"] is True and retired["aliases_after"] == {}
    writes = ("bronze", "source_schemas", "validated", "features", "predictions")
    before = {name: p.version(name) for name in writes}
    predictions_before = _table(spark, layout, "predictions").count()

    ctx = _ctx("scoring", "ingest", DAY_RETIRED, f"scheduled__{DAY_RETIRED}")
    with pytest.raises(ModelRetiredError, match=rf"model '{MODEL}' is retired .*product discontinued"):
        run_step("ingest", MODEL, ctx, settings=settings, mode="scoring")
    assert {name: p.version(name) for name in writes} == before, "a refused run writes nothing"
    bronze = spark.read.format("delta").load(p.table("bronze"))
    assert bronze.where(f"_batch_id = 'score__{DAY_RETIRED}'").count() == 0
    assert _table(spark, layout, "predictions").where(f"score_date = DATE '{DAY_RETIRED}'").count() == 0
    assert _table(spark, layout, "predictions").count() == predictions_before
