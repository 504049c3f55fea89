"""Reruns that used to leave the tables disagreeing, and a rerun of training that moved the champion.

One small model is trained once for the module. Then:
- a date already scored is rerun with a batch whose every row is bad: the run fails, and the
  date's validated rows, features, predictions and drift metrics are withdrawn (the failed run's
  lineage row lists them), so no table serves the earlier run's rows beside the new quarantine;
- a file refused for a renamed column leaves no schema version behind, so the next good file is
  not reported as a schema change;
- training rerun on the same data registers a byte-identical booster, which the gate refuses to
  promote, saying why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import PROJECT_ROOT

pytestmark = pytest.mark.spark

MODEL = "churn_demo"
TRAIN_DATE, DAY_1, DAY_2 = "2026-11-01", "2026-11-02", "2026-11-03"
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


def _ctx(dag: str, task: str, ds: str, run_id: str):  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext

    return RunContext(run_id, f"{MODEL}_{dag}", task, datetime.fromisoformat(ds).replace(tzinfo=UTC), "test")


def _chain(settings, chain, dag: str, ds: str, run_id: str, mode: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.lifecycle.runner import run_step

    out: dict[str, Any] = {}
    value: Any = mode
    for task, name in chain:
        value = run_step(task, MODEL, _ctx(dag, task, ds, run_id), settings=settings, **{name: value})
        out[task] = value
    return out


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.config.settings import Settings
    from mlplatform.demo.data import write_demo_landing
    from mlplatform.io.layout import StorageLayout

    base = tmp_path_factory.mktemp("rerun")
    specs = base / "specs"
    specs.mkdir()
    raw = yaml.safe_load((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())
    raw["training"]["params"]["n_estimators"] = 40
    raw["evaluation"]["bootstrap_samples"] = 50
    (specs / f"{MODEL}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    settings = Settings(storage_root=str(base / "lake"), spec_dir=specs)
    layout = StorageLayout(settings.storage_root)
    write_demo_landing(layout.landing_dir(MODEL), 1500, 300, {DAY_1: False, DAY_2: False}, seed=5)
    v1 = _chain(settings, TRAINING_CHAIN, "training", TRAIN_DATE, "manual__rerun_v1", "training")
    assert v1["promote"]["promoted"] is True
    return {"settings": settings, "layout": layout, "batches": Path(layout.landing_dir(MODEL)) / "batches"}


def _date_rows(spark, lake: dict[str, Any], ds: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from mlplatform.io.layout import scoring_batch_id

    layout, batch = lake["layout"], scoring_batch_id(ds)

    def count(path: str, where: str) -> int:
        return spark.read.format("delta").load(path).where(where).count()

    on_date = f"model_name = '{MODEL}' AND score_date = DATE '{ds}'"
    return {
        "validated": count(layout.model_table(MODEL, "validated"), f"_batch_id = '{batch}'"),
        "features": count(layout.model_table(MODEL, "features"), f"_batch_id = '{batch}'"),
        "predictions": count(layout.platform_table("predictions"), on_date),
        "quarantine": count(
            layout.platform_table("quarantine"), f"model_name = '{MODEL}' AND batch_id = '{batch}'"
        ),
    }


def test_a_failed_rerun_of_a_scored_date_withdraws_its_stale_outputs(spark, lake) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.validation import DataQualityError
    from mlplatform.lifecycle.runner import run_step

    first = _chain(lake["settings"], SCORING_CHAIN, "scoring", DAY_1, "scheduled__day1", "scoring")
    before = _date_rows(spark, lake, DAY_1)
    assert before["predictions"] == before["validated"] == first["validate"]["validated_rows"] > 0
    check = run_step(
        "check_drift",
        MODEL,
        _ctx("scoring", "check_drift", DAY_1, "scheduled__day1"),
        settings=lake["settings"],
        scored=first["score"],
    )
    assert check

    batch_file = lake["batches"] / f"{DAY_1}.csv"
    lines = batch_file.read_text().splitlines()
    header = lines[0].split(",")
    tenure = header.index("tenure_months")
    bad = [
        ",".join("not-a-number" if i == tenure else v for i, v in enumerate(line.split(",")))
        for line in lines[1:]
    ]
    batch_file.write_text("\n".join([lines[0], *bad]) + "\n")

    batch = run_step(
        "ingest",
        MODEL,
        _ctx("scoring", "ingest", DAY_1, "manual__rerun"),
        settings=lake["settings"],
        mode="scoring",
    )
    with pytest.raises(DataQualityError) as err:
        run_step(
            "validate",
            MODEL,
            _ctx("scoring", "validate", DAY_1, "manual__rerun"),
            settings=lake["settings"],
            batch=batch,
        )
    assert "tenure_months" in str(err.value) and "withdrawn" in str(err.value)

    after = _date_rows(spark, lake, DAY_1)
    assert after == {"validated": 0, "features": 0, "predictions": 0, "quarantine": len(bad)}, after
    drift = spark.read.format("delta").load(lake["layout"].platform_table("drift_metrics"))
    assert drift.where(f"model_name = '{MODEL}' AND score_date = DATE '{DAY_1}'").count() == 0
    lineage = spark.read.format("delta").load(lake["layout"].platform_table("lineage"))
    row = lineage.where("run_id = 'manual__rerun' AND task_id = 'validate'").collect()
    assert len(row) == 1
    withdrawn = json.loads(row[0]["params"])["withdrawn"]
    assert set(withdrawn["tables"]) == {"validated", "features", "predictions", "drift_metrics"}


def test_a_refused_file_records_no_schema_version(spark, lake) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.ingest import SourceError
    from mlplatform.lifecycle.runner import run_step

    def versions() -> list[tuple[int, str]]:
        table = spark.read.format("delta").load(lake["layout"].platform_table("source_schemas"))
        rows = table.where(f"model_name = '{MODEL}' AND source = 'scoring'").collect()
        return sorted((r["schema_version"], r["changes"]) for r in rows)

    good = (lake["batches"] / f"{DAY_2}.csv").read_text()
    recorded = versions()
    (lake["batches"] / f"{DAY_2}.csv").write_text(good.replace("monthly_charges", "monthly_charge", 1))
    with pytest.raises(SourceError, match="monthly_charges"):
        run_step(
            "ingest",
            MODEL,
            _ctx("scoring", "ingest", DAY_2, "scheduled__day2"),
            settings=lake["settings"],
            mode="scoring",
        )
    assert versions() == recorded, "a refused file must not become a schema version"

    (lake["batches"] / f"{DAY_2}.csv").write_text(good)
    out = _chain(lake["settings"], SCORING_CHAIN[:2], "scoring", DAY_2, "scheduled__day2b", "scoring")
    assert out["ingest"]["schema_version"] == recorded[-1][0]
    assert versions() == recorded, "the good file is not a change"


def test_a_training_rerun_on_the_same_data_does_not_move_the_champion(spark, lake) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.registry import ModelRegistry

    rerun = _chain(lake["settings"], TRAINING_CHAIN, "training", TRAIN_DATE, "manual__rerun_v2", "training")
    gate = rerun["gate"]
    assert gate["version"] == 2 and gate["passed"] is False
    checks = {c["check"]: c for c in gate["checks"]}
    assert checks["differs_from_champion"]["passed"] is False
    assert "identical to champion v1" in checks["differs_from_champion"]["note"]
    assert rerun["promote"]["promoted"] is False
    assert "differs_from_champion" in rerun["promote"]["reason"]
    registry = ModelRegistry(spark, lake["layout"].platform_table("model_registry"))
    assert registry.champion_version(MODEL) == 1
