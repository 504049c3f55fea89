"""End to end through Airflow (``dag.test()``) on real Spark, Delta, GX, XGBoost and SHAP.

Trains the demo model, scores a clean batch twice (a rerun of the same date) and a drifted batch,
then checks what the Delta tables say: a champion exists, predictions = batch − quarantine, every
task wrote lineage, the rerun changed nothing, and drift is flagged on the drifted features only.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL = "churn_demo"
TRAIN_DATE, CLEAN_DATE, DRIFT_DATE = "2026-11-01", "2026-11-02", "2026-11-03"
DRIFTED_FEATURES = {"monthly_charges", "contract", "support_calls"}


def _date(ds: str) -> datetime:
    return datetime.fromisoformat(ds).replace(tzinfo=UTC)


def _dags() -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def _delta(spark, uri: str):  # type: ignore[no-untyped-def]
    return spark.read.format("delta").load(uri)


@pytest.fixture(scope="module")
def lifecycle(airflow_db, spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.demo_data import write_demo_landing
    from mlplatform.settings import get_settings
    from mlplatform.storage import StorageLayout

    root = tmp_path_factory.mktemp("e2e") / "lake"
    os.environ["MLP_STORAGE_ROOT"] = str(root)
    get_settings.cache_clear()
    layout = StorageLayout(str(root))
    write_demo_landing(layout.landing_dir(MODEL), 4000, 1200, {CLEAN_DATE: False, DRIFT_DATE: True}, seed=11)
    dags = _dags()
    runs: dict[str, Any] = {}
    runs["train"] = dags[f"{MODEL}_training"].test(
        logical_date=_date(TRAIN_DATE), run_conf={"reason": "e2e: first model", "trigger_source": "api"}
    )
    runs["clean"] = dags[f"{MODEL}_scoring"].test(logical_date=_date(CLEAN_DATE))
    predictions = layout.platform_table("predictions")
    clean_filter = f"model_name = '{MODEL}' AND score_date = DATE '{CLEAN_DATE}'"
    first_count = _delta(spark, predictions).where(clean_filter).count()
    runs["clean_rerun"] = dags[f"{MODEL}_scoring"].test(logical_date=_date(CLEAN_DATE))
    runs["drift"] = dags[f"{MODEL}_scoring"].test(logical_date=_date(DRIFT_DATE))
    yield {"runs": runs, "layout": layout, "first_clean_count": first_count, "dags": dags}
    os.environ.pop("MLP_STORAGE_ROOT", None)
    get_settings.cache_clear()


def test_every_run_succeeded(lifecycle) -> None:  # type: ignore[no-untyped-def]
    states = {name: str(run.state) for name, run in lifecycle["runs"].items()}
    assert all(s.endswith("success") for s in states.values()), states


def test_registry_has_a_champion_with_checksummed_native_model(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.registry import load_champion

    layout = lifecycle["layout"]
    champion = load_champion(spark, layout.platform_table("model_registry"), MODEL)
    assert champion.version == 1
    assert champion.metrics["auc"] > 0.7
    assert champion.booster_raw[:1] == b"{"  # UBJSON object marker: XGBoost's own format, not a pickle
    decisions = _delta(spark, layout.platform_table("promotion_decisions")).collect()
    assert [(d["version"], d["promoted"]) for d in decisions] == [(1, True)]
    checks = {c["check"]: c["passed"] for c in json.loads(decisions[0]["checks"])}
    assert checks == {"min_auc": True, "min_pr_auc": True, "max_logloss": True, "training_data_quality": True}


def test_registry_records_what_made_the_model(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    layout = lifecycle["layout"]
    reg = _delta(spark, layout.platform_table("model_registry")).where("event = 'registered'").first()
    inputs = json.loads(reg["training_inputs"])
    assert {"bronze", "validated", "features"} <= set(inputs)
    assert all(isinstance(inputs[t]["version"], int) for t in ("bronze", "validated", "features"))
    assert reg["reason"] == "e2e: first model"
    assert len(reg["spec_hash"]) == 64 and len(reg["booster_sha256"]) == 64
    assert reg["code_version"]


def test_predictions_equal_batch_rows_minus_quarantined(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    layout = lifecycle["layout"]
    bronze = _delta(spark, layout.model_table(MODEL, "bronze"))
    quarantine = _delta(spark, layout.platform_table("quarantine"))
    predictions = _delta(spark, layout.platform_table("predictions"))
    for ds in (CLEAN_DATE, DRIFT_DATE):
        batch_id = f"score__{ds}"
        batch_rows = bronze.where(f"_batch_id = '{batch_id}'").count()
        quarantined = quarantine.where(f"model_name = '{MODEL}' AND batch_id = '{batch_id}'").count()
        preds = predictions.where(f"model_name = '{MODEL}' AND score_date = DATE '{ds}'")
        assert batch_rows == 1200
        assert quarantined > 0, "the demo batches contain bad rows; they must be quarantined"
        assert preds.count() == batch_rows - quarantined
        assert preds.select("row_id").distinct().count() == preds.count()
        assert {r["model_version"] for r in preds.select("model_version").distinct().collect()} == {1}
        assert preds.where("run_id IS NULL OR score < 0 OR score > 1").count() == 0


def test_quarantine_keeps_raw_rows_with_reasons(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    rows = _delta(spark, lifecycle["layout"].platform_table("quarantine")).collect()
    assert rows
    for row in rows:
        assert row["reasons"], row
        assert json.loads(row["row_json"])  # the raw row is kept, not dropped
    reasons = {r for row in rows for r in row["reasons"]}
    assert any("monthly_charges" in r for r in reasons)
    assert any("contract" in r for r in reasons)


def test_rerun_for_same_date_is_idempotent(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    layout = lifecycle["layout"]
    preds = _delta(spark, layout.platform_table("predictions")).where(
        f"model_name = '{MODEL}' AND score_date = DATE '{CLEAN_DATE}'"
    )
    assert preds.count() == lifecycle["first_clean_count"]
    assert preds.select("run_id").distinct().count() == 1
    assert preds.first()["run_id"] == lifecycle["runs"]["clean_rerun"].run_id
    drift = _delta(spark, layout.platform_table("drift_metrics")).where(f"score_date = DATE '{CLEAN_DATE}'")
    assert drift.select("run_id").distinct().count() == 1


def test_every_task_wrote_lineage(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    lineage = _delta(spark, lifecycle["layout"].platform_table("lineage"))
    for name, run in lifecycle["runs"].items():
        dag = lifecycle["dags"][run.dag_id]
        rows = lineage.where(f"run_id = '{run.run_id}'").collect()
        assert {r["task_id"] for r in rows} == set(dag.task_ids), name
        assert all(r["status"] == "success" and r["model_name"] == MODEL for r in rows)
        assert all(r["started_at"] <= r["ended_at"] for r in rows)
    train_rows = lineage.where(f"run_id = '{lifecycle['runs']['train'].run_id}'").collect()
    assert {r["trigger_type"] for r in train_rows} == {"api"}
    register = next(r for r in train_rows if r["task_id"] == "register")
    assert register["model_version"] == 1
    assert {o["name"] for o in register["outputs"]} >= {"model_registry"}
    assert all(i["version"] is not None for i in register["inputs"])
    assert json.loads(register["params"])["conf"]["reason"] == "e2e: first model"


def test_drift_flagged_on_drifted_features_only(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    drift = _delta(spark, lifecycle["layout"].platform_table("drift_metrics")).where(
        f"model_name = '{MODEL}'"
    )

    def drifted(ds: str) -> set[str]:
        rows = drift.where(f"score_date = DATE '{ds}' AND feature_kind != 'prediction' AND drifted").collect()
        return {r["feature"] for r in rows}

    assert drifted(CLEAN_DATE) == set()
    assert drifted(DRIFT_DATE) == DRIFTED_FEATURES
    checked = drift.where(f"score_date = DATE '{DRIFT_DATE}'").select("feature").distinct().count()
    assert checked == 10  # 5 numeric + 4 categorical features + the prediction


def test_reports_exist_with_plots(lifecycle) -> None:  # type: ignore[no-untyped-def]
    layout = lifecycle["layout"]
    shap = Path(layout.shap_report(MODEL, 1))
    assert "shap" in shap.name
    html = shap.read_text()
    assert html.count("data:image/png;base64,") >= 5
    drift = Path(layout.drift_report(MODEL, DRIFT_DATE))
    assert "drift" in drift.name
    drift_html = drift.read_text()
    assert "monthly_charges" in drift_html and drift_html.count("data:image/png;base64,") >= 3
    docs = Path(layout.data_docs_dir()) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert docs.exists()


def test_catalog_lists_every_feature_of_both_specs(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.catalog import feature_definitions
    from mlplatform.specs import load_specs

    catalog = _delta(spark, lifecycle["layout"].platform_table("feature_catalog")).collect()
    listed = {(r["feature_name"], r["definition"]) for r in catalog}
    specs = load_specs(PROJECT_ROOT / "include" / "specs")
    assert set(specs) == {"churn_demo", "telco_churn"}
    for spec in specs.values():
        for feature in feature_definitions(spec):
            assert (feature["feature_name"], feature["definition"]) in listed, (
                spec.name,
                feature["feature_name"],
            )
    demo = {r["feature_name"]: r for r in catalog if "churn_demo" in r["models"]}
    assert set(demo) == set(specs["churn_demo"].model_features)
    assert demo["log_total_charges"]["definition"] == "log1p(total_charges)"
    assert [(v["model"], v["first_version"], v["last_version"]) for v in demo["age"]["model_versions"]] == [
        ("churn_demo", 1, 1)
    ]


def test_validation_results_summarise_each_batch(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    results = _delta(spark, lifecycle["layout"].platform_table("validation_results"))
    batches = {r["batch_id"] for r in results.select("batch_id").distinct().collect()}
    assert {f"score__{CLEAN_DATE}", f"score__{DRIFT_DATE}"} <= batches
    failed = results.where(f"batch_id = 'score__{DRIFT_DATE}' AND NOT success").collect()
    assert failed and all(r["unexpected_count"] > 0 for r in failed if r["column"])
    assert all(r["data_docs_uri"] and r["data_docs_uri"].endswith("index.html") for r in results.collect())
