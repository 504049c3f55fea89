"""The lifecycle steps run directly (no Airflow), on real Spark, Delta, GX and XGBoost.

One small model is trained once for the module; each test then exercises one rule of the steps:
retried tasks stay idempotent, the gate only falls back when the champion truly cannot score the
rows, promotion refuses a champion that moved, and past versions are judged at their own
decision threshold. Settings are passed to ``run_step``; nothing mutates the environment.
"""

from __future__ import annotations

import dataclasses
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


def _ctx(dag: str, task: str, ds: str, run_id: str):  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext

    return RunContext(run_id, f"{MODEL}_{dag}", task, datetime.fromisoformat(ds).replace(tzinfo=UTC), "test")


def _spec_dir(target: Path, **training: Any) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())
    raw["training"] = {**raw.get("training", {}), **training}
    (target / f"{MODEL}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """v1 trained, explained, gated and promoted through the steps, on 2,000 demo rows."""
    from mlplatform.config.settings import Settings
    from mlplatform.demo.data import write_demo_landing
    from mlplatform.io.layout import StorageLayout
    from mlplatform.lifecycle.runner import run_step

    base = tmp_path_factory.mktemp("steps")
    settings = Settings(storage_root=str(base / "lake"), spec_dir=_spec_dir(base / "specs"))
    layout = StorageLayout(settings.storage_root)
    write_demo_landing(layout.landing_dir(MODEL), 2000, 400, {DAY_1: False, DAY_2: False}, seed=5)
    run_id = "manual__steps_v1"
    out: dict[str, Any] = {}
    value: dict[str, Any] = {"mode": "training"}
    chain = [
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
    for task, input_name in chain:
        args = {input_name: value["mode"] if task == "ingest" else value}
        value = run_step(task, MODEL, _ctx("training", task, TRAIN_DATE, run_id), settings=settings, **args)
        out[task] = value
    assert out["promote"]["promoted"] is True
    return {"settings": settings, "layout": layout, "run_id": run_id, "base": base, **out}


def _events(spark, layout, event: str) -> list[Any]:  # type: ignore[no-untyped-def]
    registry = spark.read.format("delta").load(layout.platform_table("model_registry"))
    return registry.where(f"model_name = '{MODEL}' AND event = '{event}'").collect()


def test_a_retried_explain_records_one_explained_event(spark, trained) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.lifecycle.runner import run_step

    before = _events(spark, trained["layout"], "explained")
    assert [(e["version"], e["run_id"]) for e in before] == [(1, trained["run_id"])]
    ctx = dataclasses.replace(_ctx("training", "explain", TRAIN_DATE, trained["run_id"]), try_number=2)
    again = run_step("explain", MODEL, ctx, settings=trained["settings"], registered=trained["register"])
    after = _events(spark, trained["layout"], "explained")
    assert len(after) == 1, "a retried explain task must not add a second explained event"
    assert again["shap_report"] == trained["explain"]["shap_report"]
    shap = spark.read.format("delta").load(trained["layout"].platform_table("shap_importance"))
    assert shap.where("version = 1").count() == shap.where("version = 1").select("feature").distinct().count()


def test_promote_refuses_when_the_champion_moved_after_the_gate(trained) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.lifecycle.runner import run_step
    from mlplatform.registry import PromotionConflictError

    stale = {**trained["gate"], "version": 2, "champion_version": None}
    ctx = _ctx("training", "promote", TRAIN_DATE, "manual__stale_gate")
    with pytest.raises(PromotionConflictError, match=r"champion changed from vNone to v1"):
        run_step("promote", MODEL, ctx, settings=trained["settings"], gate=stale)


def test_gate_falls_back_only_when_the_champion_cannot_score_the_rows(spark, trained) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.lifecycle.promotion import ChampionNotComparable, _holdout_scores
    from mlplatform.lifecycle.runner import open_platform
    from mlplatform.lifecycle.shared import training_rows

    p = open_platform(MODEL, trained["settings"])
    champion = p.registry.load_version(MODEL, 1)
    batch_id = trained["register"]["batch_id"]
    holdout = training_rows(p, batch_id, trained["register"]["window"]).where("_split = 'holdout'")
    rows, scores = _holdout_scores(p, holdout, batch_id, champion)
    assert len(rows) == len(scores) > 0 and ((scores >= 0) & (scores <= 1)).all()
    state = {**champion.feature_state, "base_features": ["a_feature_the_spec_no_longer_has"]}
    foreign = dataclasses.replace(champion, feature_state=state)
    with pytest.raises(ChampionNotComparable, match=r"v1 cannot score batch"):
        _holdout_scores(p, holdout, batch_id, foreign)


def test_past_versions_are_judged_at_their_own_threshold(spark, trained) -> None:  # type: ignore[no-untyped-def]
    """v1 was trained at threshold 0.5; a later spec edit to 0.9 must not rescore v1's predictions."""
    from mlplatform.config.settings import Settings
    from mlplatform.lifecycle.runner import run_step

    settings = Settings(
        storage_root=trained["settings"].storage_root,
        spec_dir=_spec_dir(trained["base"] / "specs_edited", decision_threshold=0.9),
    )
    chain = [
        ("ingest", "mode"),
        ("validate", "batch"),
        ("build_features", "batch"),
        ("score", "featured"),
        ("check_performance", "scored"),
    ]
    for ds in (DAY_1, DAY_2):
        result: Any = "scoring"
        for task, input_name in chain:
            ctx = _ctx("scoring", task, ds, f"scheduled__{ds}")
            result = run_step(task, MODEL, ctx, settings=settings, **{input_name: result})
    assert result["labels_arrived"] and result["new_labels"] > 0
    perf = (
        spark.read.format("delta")
        .load(trained["layout"].platform_table("performance_metrics"))
        .where(f"model_name = '{MODEL}' AND score_date = DATE '{DAY_1}'")
        .collect()
    )
    assert [(r["model_version"], r["threshold"]) for r in perf] == [(1, 0.5)]
    predictions = spark.read.format("delta").load(trained["layout"].platform_table("predictions"))
    day_1 = predictions.where(f"score_date = DATE '{DAY_1}'")
    assert day_1.where("(score >= 0.5) != (prediction = 1)").count() == 0, "scored at v1's own threshold"


def test_a_degraded_run_without_new_labels_holds_retraining(spark, trained) -> None:  # type: ignore[no-untyped-def]
    """v1 trained on labels through 2026-11-01; a degraded run before any label arrived since is held
    (recorded with the reason, no retraining); once labels arrived, the next degraded run retrains."""
    from mlplatform.config.settings import Settings
    from mlplatform.io.catalog import TABLES
    from mlplatform.lifecycle.runner import run_step

    spec_dir = trained["base"] / "specs_eager"
    spec_dir.mkdir()
    raw = yaml.safe_load((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())
    raw["retraining"] = {**raw["retraining"], "consecutive_runs": 1}
    (spec_dir / f"{MODEL}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    settings = Settings(storage_root=trained["settings"].storage_root, spec_dir=spec_dir)
    drift = {
        "model_version": 1,
        "predictions": 400,
        "report": "drift.html",
        "features_checked": 9,
        "features_drifted": ["monthly_charges", "contract", "support_calls"],
        "share_drifted": 0.333,
        "prediction_drifted": True,
        "skewed_features": [],
        "quality_alerts": {},
    }

    def decide(ds: str) -> dict[str, Any]:
        ctx = _ctx("scoring", "decide_retraining", ds, f"scheduled__{ds}")
        performance = {"labels_configured": True}
        return run_step(
            "decide_retraining", MODEL, ctx, settings=settings, drift=drift, performance=performance
        )

    day_0 = "2026-10-31"  # no label can have arrived after v1's cut-off (2026-11-01) by then
    held = decide(day_0)
    assert held["held"] is True and held["retrain"] is False and held["degraded"] is True
    assert held["reason"].startswith(
        f"degraded, but no new labelled data since v1 (trained on labels through {TRAIN_DATE})"
    ), held["reason"]
    decisions = spark.read.format("delta").load(trained["layout"].platform_table("monitoring_decisions"))
    row = decisions.where(f"score_date = DATE '{day_0}'").first()
    assert row["retrain"] is False and row["triggered_dag_id"] is None and row["reason"] == held["reason"]
    assert json.loads(row["signals"])["measured"]["new_labels"] == {
        "champion_version": 1,
        "cutoff": TRAIN_DATE,
        "rows": 0,
    }

    labels = trained["layout"].platform_table("labels")
    arrived = [
        {
            "model_name": MODEL,
            "entity_id": f"C{i:07d}",
            "label": float(i % 2),
            "label_date": datetime(2026, 11, 2).date(),
        }
        for i in range(1, 21)
    ]
    (
        spark.createDataFrame(arrived, TABLES["labels"].ddl)
        .write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", f"model_name = '{MODEL}' AND label_date = DATE '{DAY_1}'")
        .save(labels)
    )
    due = decide(DAY_1)
    assert due["retrain"] is True and due["held"] is False, due["reason"]


def test_a_scheduled_run_audits_its_trigger_once_on_the_first_attempt(trained) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.governance.audit import read_audit
    from mlplatform.lifecycle.runner import run_step

    run_id = f"scheduled__{DAY_2}T00:00:00+00:00"
    ctx = dataclasses.replace(_ctx("scoring", "ingest", DAY_2, run_id), trigger_type="scheduled")
    run_step("ingest", MODEL, ctx, settings=trained["settings"], audit_trigger=True, mode="scoring")
    retried = dataclasses.replace(ctx, try_number=2)
    run_step("ingest", MODEL, retried, settings=trained["settings"], audit_trigger=True, mode="scoring")
    rows = read_audit(trained["settings"].storage_root, model=MODEL, action="trigger")
    mine = rows[rows["run_id"] == run_id]
    assert list(zip(mine["source"], mine["actor"], mine["dag_id"], strict=True)) == [
        ("schedule", "scheduled", f"{MODEL}_scoring")
    ]
    assert json.loads(mine.iloc[0]["details"]) == {"logical_date": DAY_2, "trigger_type": "scheduled"}
