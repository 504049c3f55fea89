"""A multiclass and a regression model through their whole life, on real Spark, Delta, GX, XGBoost
and SHAP: trained, evaluated, explained, gated and promoted; scored on a clean and a drifted day;
monitored (late labels, drift of the predictions, the retraining policy); then a second training run
is judged against the champion on the same holdout rows.

The steps run through ``run_step`` exactly as the Airflow tasks call them (the DAG wiring itself is
covered by the churn e2e tests), with the shipped demo specs ``ticket_routing_demo`` and
``demand_demo`` on their generated data.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

TRAIN_DATE, CLEAN_DATE, DRIFT_DATE = "2026-11-01", "2026-11-02", "2026-11-03"
MODELS = ("ticket_routing_demo", "demand_demo")
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


def _ctx(model: str, dag: str, task: str, ds: str, run_id: str):  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext

    return RunContext(run_id, f"{model}_{dag}", task, datetime.fromisoformat(ds).replace(tzinfo=UTC), "test")


def _train(model: str, settings: Any, run_id: str, featured: dict[str, Any] | None = None) -> dict[str, Any]:
    """The training chain; given an earlier run's featured batch, from ``train`` on (same rows)."""
    from mlplatform.lifecycle.runner import run_step

    out: dict[str, Any] = {}
    value: Any = featured or "training"
    for task, input_name in TRAINING_CHAIN[3 if featured else 0 :]:
        ctx = _ctx(model, "training", task, TRAIN_DATE, run_id)
        value = run_step(task, model, ctx, settings=settings, **{input_name: value})
        out[task] = value
    return out


def _score(model: str, settings: Any, ds: str) -> dict[str, Any]:
    from mlplatform.lifecycle.runner import run_step

    run_id = f"scheduled__{ds}"
    value: Any = "scoring"
    for task, input_name in SCORING_CHAIN:
        value = run_step(
            task, model, _ctx(model, "scoring", task, ds, run_id), settings=settings, **{input_name: value}
        )
    scored = value
    perf = run_step(
        "check_performance",
        model,
        _ctx(model, "scoring", "check_performance", ds, run_id),
        settings=settings,
        scored=scored,
    )
    drift = run_step(
        "check_drift",
        model,
        _ctx(model, "scoring", "check_drift", ds, run_id),
        settings=settings,
        scored=scored,
    )
    decision = run_step(
        "decide_retraining",
        model,
        _ctx(model, "scoring", "decide_retraining", ds, run_id),
        settings=settings,
        drift=drift,
        performance=perf,
    )
    return {"scored": scored, "performance": perf, "drift": drift, "decision": decision}


@pytest.fixture(scope="module", params=MODELS)
def lifecycle(request, spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.config.settings import Settings
    from mlplatform.demo.task_data import write_task_demo_landing
    from mlplatform.io.layout import StorageLayout

    model = request.param
    base = tmp_path_factory.mktemp(model)
    spec_dir = base / "specs"
    spec_dir.mkdir()
    (spec_dir / f"{model}.yaml").write_text(
        (PROJECT_ROOT / "include" / "specs" / f"{model}.yaml").read_text()
    )
    settings = Settings(storage_root=str(base / "lake"), spec_dir=spec_dir)
    layout = StorageLayout(settings.storage_root)
    write_task_demo_landing(
        model, layout.landing_dir(model), 1500, 400, {CLEAN_DATE: False, DRIFT_DATE: True}, seed=3
    )
    first = _train(model, settings, "manual__v1")
    days = {ds: _score(model, settings, ds) for ds in (CLEAN_DATE, DRIFT_DATE)}
    second = _train(model, settings, "manual__v2", featured=first["build_features"])
    return {"model": model, "settings": settings, "layout": layout, "v1": first, "v2": second, "days": days}


def _table(spark, lifecycle: dict[str, Any], name: str):  # type: ignore[no-untyped-def]
    df = spark.read.format("delta").load(lifecycle["layout"].platform_table(name))
    return df.where(f"model_name = '{lifecycle['model']}'")


def _spec(lifecycle: dict[str, Any]):  # type: ignore[no-untyped-def]
    from mlplatform.config.specs import load_spec

    return load_spec(Path(lifecycle["settings"].spec_dir) / f"{lifecycle['model']}.yaml")


def test_the_registry_holds_the_tasks_metrics_with_intervals(lifecycle) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(lifecycle)
    metrics = lifecycle["v1"]["register"]["metrics"]
    assert lifecycle["v1"]["promote"]["promoted"] is True, lifecycle["v1"]["gate"]["checks"]
    version_dir = Path(lifecycle["layout"].model_version_dir(spec.name, 1))
    report = json.loads((version_dir / "evaluation.json").read_text())
    if spec.task == "multiclass":
        assert metrics["auc"] > 0.75 and 0.0 < metrics["macro_f1"] <= 1.0 and metrics["logloss"] < 1.2
        assert (
            report["confidence_intervals"]["auc"]["low"]
            < metrics["auc"]
            < report["confidence_intervals"]["auc"]["high"]
        )
        assert report["confusion_matrix"]["classes"] == spec.columns.classes
        assert sum(map(sum, report["confusion_matrix"]["matrix"])) == metrics["holdout_rows"]
        assert {c["class"] for c in report["per_class"]} == set(spec.columns.classes or [])
        assert (version_dir / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "pr_auc" not in metrics
    else:
        assert metrics["r2"] > 0.6 and 0 < metrics["mae"] < metrics["rmse"]
        assert (
            report["confidence_intervals"]["rmse"]["low"]
            < metrics["rmse"]
            < report["confidence_intervals"]["rmse"]["high"]
        )
        for plot in ("residuals.png", "predicted_vs_actual.png"):
            assert (version_dir / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "auc" not in metrics
    gates = {c["check"] for c in lifecycle["v1"]["gate"]["checks"]}
    expected = {"min_auc", "min_macro_f1", "max_logloss"} if spec.task == "multiclass" else {"min_r2"}
    assert expected <= gates


def test_the_signature_and_booster_are_the_tasks(lifecycle) -> None:  # type: ignore[no-untyped-def]
    import xgboost as xgb

    spec = _spec(lifecycle)
    version_dir = Path(lifecycle["layout"].model_version_dir(spec.name, 1))
    signature = json.loads((version_dir / "signature.json").read_text())
    assert signature["task"] == spec.task
    booster = xgb.Booster()
    booster.load_model(str(version_dir / "model.ubj"))
    config = json.loads(booster.save_config())
    objective = config["learner"]["objective"]["name"]
    if spec.task == "multiclass":
        assert objective == "multi:softprob" and signature["classes"] == spec.columns.classes
        assert int(config["learner"]["learner_model_param"]["num_class"]) == len(spec.columns.classes or [])
    else:
        assert objective == "reg:squarederror" and signature["decision_threshold"] is None


def test_predictions_are_classes_with_probabilities_or_values(spark, lifecycle) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    spec = _spec(lifecycle)
    preds = _table(spark, lifecycle, "predictions").where(
        F.col("score_date") == F.lit(CLEAN_DATE).cast("date")
    )
    rows = preds.collect()
    assert len(rows) == lifecycle["days"][CLEAN_DATE]["scored"]["predictions"] == 400
    if spec.task == "multiclass":
        classes = list(spec.columns.classes or [])
        for r in rows:
            probs = r["class_probabilities"]
            assert set(probs) == set(classes) and abs(sum(probs.values()) - 1.0) < 1e-5
            assert r["predicted_label"] == max(probs, key=probs.get) == classes[r["prediction"]]
            assert r["score"] == pytest.approx(probs[r["predicted_label"]])
        assert len({r["predicted_label"] for r in rows}) >= 3
    else:
        values = [r["score"] for r in rows]
        assert all(r["prediction"] is None and r["class_probabilities"] is None for r in rows)
        assert min(values) < 20 < max(values), "predicted units span the demand range"


def test_late_labels_are_judged_with_the_tasks_metrics(spark, lifecycle) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(lifecycle)
    perf = lifecycle["days"][DRIFT_DATE]["performance"]["performance"]
    assert perf is not None and perf["score_date"] == CLEAN_DATE and perf["labeled_rows"] == 400
    row = _table(spark, lifecycle, "performance_metrics").where(f"score_date = DATE '{CLEAN_DATE}'").first()
    if spec.task == "multiclass":
        assert 0.7 < row["auc"] <= 1.0 and 0 < row["macro_f1"] <= 1 and 0 < row["accuracy"] <= 1
        assert row["logloss"] > 0 and row["rmse"] is None and row["positives"] is None
        assert row["reference_auc"] == pytest.approx(lifecycle["v1"]["register"]["metrics"]["auc"])
    else:
        assert row["rmse"] > row["mae"] > 0 and row["r2"] > 0.5 and row["auc"] is None
        assert row["reference_rmse"] == pytest.approx(lifecycle["v1"]["register"]["metrics"]["rmse"])


def test_prediction_drift_is_categorical_for_classes_and_numeric_for_values(spark, lifecycle) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(lifecycle)
    drift = _table(spark, lifecycle, "drift_metrics").where(
        f"score_date = DATE '{DRIFT_DATE}' AND scope = 'prediction'"
    )
    rows = drift.collect()
    assert len(rows) == 1
    if spec.task == "multiclass":
        assert rows[0]["feature"] == "predicted_label" and rows[0]["jensenshannon"] is not None
    else:
        assert rows[0]["feature"] == "score" and rows[0]["wasserstein"] is not None
    decided = (
        _table(spark, lifecycle, "monitoring_decisions").where(f"score_date = DATE '{DRIFT_DATE}'").first()
    )
    assert decided["degraded"] == lifecycle["days"][DRIFT_DATE]["decision"]["degraded"]
    assert lifecycle["days"][DRIFT_DATE]["drift"]["features_drifted"], "the drifted day's inputs drift"


def test_shap_explains_every_class_of_a_multiclass_model(spark, lifecycle) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(lifecycle)
    shap = _table(spark, lifecycle, "shap_importance").where("version = 1")
    overall = shap.where("class_label IS NULL").count()
    assert overall == len(
        json.loads(Path(lifecycle["layout"].model_version_dir(spec.name, 1), "signature.json").read_text())[
            "feature_names"
        ]
    )
    per_class = {
        r["class_label"]
        for r in shap.where("class_label IS NOT NULL").select("class_label").distinct().collect()
    }
    card = Path(lifecycle["v1"]["explain"]["model_card"]).read_text()
    if spec.task == "multiclass":
        assert per_class == set(spec.columns.classes or [])
        assert all(c in card for c in spec.columns.classes or [])
    else:
        assert per_class == set() and "RMSE" in card
    assert spec.name in Path(lifecycle["v1"]["explain"]["shap_report"]).read_text()


def test_a_second_version_is_judged_against_the_champion_on_the_same_rows(lifecycle) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(lifecycle)
    checks = {c["check"]: c for c in lifecycle["v2"]["gate"]["checks"]}
    metric = "rmse" if spec.task == "regression" else "auc"
    compared = checks[f"beats_champion_{metric}"]
    assert compared["champion_version"] == 1 and compared["same_holdout_rows"] > 0
    assert compared[f"challenger_{metric}"] == pytest.approx(compared[f"champion_{metric}"])
    # The same data and parameters give the same booster: no improvement, so no promotion.
    assert compared["passed"] is False and checks["differs_from_champion"]["passed"] is False
    assert lifecycle["v2"]["promote"]["promoted"] is False
