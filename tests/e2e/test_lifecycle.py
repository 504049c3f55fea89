"""The production loop end to end through Airflow (``dag.test()``) on real Spark, Delta, GX,
XGBoost and SHAP, with alerts going to a real webhook receiver and SMTP server on loopback.

Trains the demo model; scores a clean batch twice (a rerun of the same date), then three drifted
batches whose labels arrive a day later; the retraining policy (three degraded runs in a row)
triggers the training DAG through ``TriggerDagRunOperator``, whose queued run is then executed (the
test plays the scheduler) and trains version 2 on its window: the base rows plus the labelled
scored batches, judged with the champion on the latest labelled day; finally the retirement DAG scores one last batch and retires the model, and the
next scoring run skips. Checks what the Delta tables, reports and alert inboxes say at each step.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL = "churn_demo"
TRAIN_DATE, CLEAN_DATE, DRIFT_DATE, DRIFT_DATE_2 = "2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"
DRIFT_DATE_3, FINAL_DATE, AFTER_RETIREMENT = "2026-11-05", "2026-11-06", "2026-11-07"
SCORED_DATES = (CLEAN_DATE, DRIFT_DATE, DRIFT_DATE_2, DRIFT_DATE_3)
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


def _task_states(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(TaskInstance).where(
            TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id
        )
        return {ti.task_id: str(ti.state) for ti in session.scalars(query)}


def _queued_run(dag_id: str, run_id: str):  # type: ignore[no-untyped-def]
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).first()
        if run is None:
            return None
        session.expunge(run)
        return run


@pytest.fixture(scope="module")
def lifecycle(airflow_db, spark, tmp_path_factory, alert_servers) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.demo.data import write_demo_landing
    from mlplatform.io.layout import StorageLayout
    from tests.support import platform_env, spec_dir_with_alerts, webhook_connection_env

    webhook, smtp_port, inbox = alert_servers
    inbox.clear()  # the servers are shared by the session: count only this lifecycle's alerts
    base = tmp_path_factory.mktemp("e2e")
    root = base / "lake"
    spec_dir = spec_dir_with_alerts(base / "specs", ["ml-oncall@example.com"])
    smtp = f"smtp://127.0.0.1:{smtp_port}?disable_ssl=true&disable_tls=true"
    with platform_env(
        MLP_STORAGE_ROOT=str(root),
        MLP_SPEC_DIR=str(spec_dir),
        AIRFLOW_CONN_SMTP_DEFAULT=smtp,
        **webhook_connection_env(webhook),
    ):
        layout = StorageLayout(str(root))
        batches = {
            CLEAN_DATE: False,
            DRIFT_DATE: True,
            DRIFT_DATE_2: True,
            DRIFT_DATE_3: True,
            FINAL_DATE: False,
            AFTER_RETIREMENT: False,
        }
        write_demo_landing(layout.landing_dir(MODEL), 4000, 1200, batches, seed=11)
        restore_task_runner = _write_task_logs_as_make_demo_does()
        dags = _dags()
        scoring = dags[f"{MODEL}_scoring"]
        runs: dict[str, Any] = {}
        runs["train"] = dags[f"{MODEL}_training"].test(
            logical_date=_date(TRAIN_DATE),
            run_conf={"reason": "e2e: first model", "trigger_source": "api"},
        )
        runs["clean"] = scoring.test(logical_date=_date(CLEAN_DATE))
        predictions = layout.platform_table("predictions")
        clean_filter = f"model_name = '{MODEL}' AND score_date = DATE '{CLEAN_DATE}'"
        first_count = _delta(spark, predictions).where(clean_filter).count()
        runs["clean_rerun"] = scoring.test(logical_date=_date(CLEAN_DATE))
        alerts_after_clean = list(inbox.webhooks)
        runs["drift"] = scoring.test(logical_date=_date(DRIFT_DATE))
        runs["drift_2"] = scoring.test(logical_date=_date(DRIFT_DATE_2))
        runs["drift_3"] = scoring.test(logical_date=_date(DRIFT_DATE_3))
        triggered = _queued_run(f"{MODEL}_training", f"policy__{DRIFT_DATE_3}")
        assert triggered is not None, "the retraining policy did not trigger the training DAG"
        # No scheduler runs here: execute the queued run the policy created, with its own conf.
        runs["retrain"] = dags[f"{MODEL}_training"].test(
            logical_date=triggered.logical_date, run_conf=triggered.conf
        )
        runs["retire"] = dags[f"{MODEL}_retirement"].test(
            logical_date=_date(FINAL_DATE),
            run_conf={"reason": "e2e: replaced by a new product line", "final_scoring": True},
        )
        after = scoring.test(logical_date=_date(AFTER_RETIREMENT))
        states = {name: _task_states(run) for name, run in {**runs, "after_retirement": after}.items()}
        yield {
            "runs": runs,
            "after_retirement": after,
            "states": states,
            "triggered": triggered,
            "layout": layout,
            "first_clean_count": first_count,
            "dags": dags,
            "inbox": inbox,
            "alerts_after_clean": alerts_after_clean,
            "spec_dir": spec_dir,
        }
        restore_task_runner()


def _write_task_logs_as_make_demo_does():  # type: ignore[no-untyped-def]
    """``scripts/run_dag.py``'s task log files (what ``make demo`` writes for the UI), at INFO for the
    platform's loggers; returns the undo."""
    import importlib.util
    import logging

    import airflow.sdk.definitions.dag as dag_module

    spec = importlib.util.spec_from_file_location("run_dag", PROJECT_ROOT / "scripts" / "run_dag.py")
    assert spec and spec.loader
    run_dag = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_dag)
    original = dag_module._run_task
    loggers = {name: logging.getLogger(name) for name in ("mlplatform", "airflow_glue", "spark")}
    levels = {name: logger.level for name, logger in loggers.items()}
    for logger in loggers.values():
        logger.setLevel(logging.INFO)
    run_dag.write_task_logs()

    def restore() -> None:
        dag_module._run_task = original
        for name, logger in loggers.items():
            logger.setLevel(levels[name])

    return restore


def _task_log(run, task_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    from airflow.configuration import conf

    folder = Path(conf.get("logging", "base_log_folder"))
    path = folder / f"dag_id={run.dag_id}" / f"run_id={run.run_id}" / f"task_id={task_id}" / "attempt=1.log"
    assert path.is_file(), f"no task log where the UI reads it: {path}"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_scoring_runs_task_logs_tell_the_story_without_errors(lifecycle) -> None:  # type: ignore[no-untyped-def]
    """The clean night's scoring run, as its log files (the UI's layout) tell it."""
    run = lifecycle["runs"]["clean"]
    logs = {task: _task_log(run, task) for task in ("ingest", "validate", "build_features", "score")}
    for task, lines in logs.items():
        levels = {line["level"] for line in lines}
        text = "\n".join(line["event"] for line in lines)
        assert levels <= {"debug", "info", "warning"}, f"{task}: {text[-3000:]}"
        assert f"{task} done. Summary (the task's XCom):" in text, task
        assert "NativeCodeLoader" not in text and "Using Spark's default log4j profile" not in text
    text = {task: "\n".join(line["event"] for line in lines) for task, lines in logs.items()}
    assert "ingested 1200 rows of" in text["ingest"] and "wrote bronze version" in text["ingest"]
    assert "input bronze:" in text["validate"] and "(Delta version " in text["validate"]
    assert " passed, " in text["validate"] and " quarantined (" in text["validate"]
    assert "input features:" in text["score"] and "scored " in text["score"]
    assert "wrote predictions version " in text["score"] and "  predictions: " in text["score"]


def test_every_run_succeeded(lifecycle) -> None:  # type: ignore[no-untyped-def]
    states = {name: str(run.state) for name, run in lifecycle["runs"].items()}
    assert all(s.endswith("success") for s in states.values()), states


def test_registry_has_a_champion_with_checksummed_native_model(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.registry import ModelRegistry

    layout = lifecycle["layout"]
    first = ModelRegistry(spark, layout.platform_table("model_registry")).load_version(MODEL, 1)
    assert first.metrics["auc"] > 0.7
    assert first.booster_raw[:1] == b"{"  # UBJSON object marker: XGBoost's own format, not a pickle
    decisions = _delta(spark, layout.platform_table("promotion_decisions")).orderBy("decided_at").collect()
    assert [(d["version"], d["promoted"]) for d in decisions][0] == (1, True)
    assert [d["version"] for d in decisions] == [1, 2]
    checks = {c["check"]: c["passed"] for c in json.loads(decisions[0]["checks"])}
    assert checks == {"min_auc": True, "min_pr_auc": True, "max_logloss": True, "training_data_quality": True}


def test_registry_records_what_made_the_model(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    layout = lifecycle["layout"]
    reg = (
        _delta(spark, layout.platform_table("model_registry"))
        .where("event = 'registered' AND version = 1")
        .first()
    )
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
    for ds in (*SCORED_DATES, FINAL_DATE):
        batch_id = f"score__{ds}"
        batch_rows = bronze.where(f"_batch_id = '{batch_id}'").count()
        quarantined = quarantine.where(f"model_name = '{MODEL}' AND batch_id = '{batch_id}'").count()
        preds = predictions.where(f"model_name = '{MODEL}' AND score_date = DATE '{ds}'")
        assert batch_rows == 1200
        assert quarantined > 0, "the demo batches contain bad rows; they must be quarantined"
        assert preds.count() == batch_rows - quarantined
        assert preds.select("entity_id").distinct().count() == preds.count()
        versions = {r["model_version"] for r in preds.select("model_version").distinct().collect()}
        assert len(versions) == 1 and (versions == {1} or ds == FINAL_DATE)
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
    airflow_only = {"retraining_requested", "trigger_retraining", "champion_changed"}  # no platform step
    for name, run in lifecycle["runs"].items():
        dag = lifecycle["dags"][run.dag_id]
        rows = lineage.where(f"run_id = '{run.run_id}'").collect()
        assert {r["task_id"] for r in rows} == set(dag.task_ids) - airflow_only, name
        assert all(r["status"] == "success" and r["model_name"] == MODEL for r in rows)
        assert all(r["started_at"] <= r["ended_at"] for r in rows)
    train_rows = lineage.where(f"run_id = '{lifecycle['runs']['train'].run_id}'").collect()
    assert {r["trigger_type"] for r in train_rows} == {"cli"}, "Airflow's triggered_by, not the conf"
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
        rows = drift.where(f"score_date = DATE '{ds}' AND scope = 'input' AND drifted").collect()
        return {r["feature"] for r in rows}

    assert drifted(CLEAN_DATE) == set()
    assert drifted(DRIFT_DATE) == DRIFTED_FEATURES
    assert drifted(DRIFT_DATE_2) == DRIFTED_FEATURES
    assert drifted(DRIFT_DATE_3) == DRIFTED_FEATURES
    rows = drift.where(f"score_date = DATE '{DRIFT_DATE}' AND scope != 'model_input'").collect()
    assert len(rows) == 10  # 5 numeric + 4 categorical features + the prediction
    tests = {r["feature"]: r["metric"] for r in rows}
    assert tests["monthly_charges"] == "wasserstein" and tests["contract"] == "jensenshannon"
    assert tests["score"] == "psi"
    assert all(r["psi"] is not None and r["null_rate_current"] is not None for r in rows)
    clean = drift.where(f"score_date = DATE '{CLEAN_DATE}'").collect()
    assert not any(r["drifted"] for r in clean), [r["feature"] for r in clean if r["drifted"]]
    assert not any(r["quality_flags"] for r in clean)
    skew = drift.where(f"score_date = DATE '{DRIFT_DATE}' AND scope = 'model_input'").collect()
    assert {r["feature"] for r in skew} >= {"monthly_charges", "log_total_charges", "contract"}
    assert {r["feature"] for r in skew if r["drifted"]} >= {"monthly_charges", "contract"}


def test_late_labels_give_performance_over_time(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    layout = lifecycle["layout"]
    perf = {
        str(r["score_date"]): r
        for r in _delta(spark, layout.platform_table("performance_metrics"))
        .where(f"model_name = '{MODEL}'")
        .collect()
    }
    # labels for a batch arrive the next day: by the last scoring run the first three dates are labelled
    assert set(perf) == {CLEAN_DATE, DRIFT_DATE, DRIFT_DATE_2}
    clean = perf[CLEAN_DATE]
    predicted = _delta(spark, layout.platform_table("predictions")).where(
        f"model_name = '{MODEL}' AND score_date = DATE '{CLEAN_DATE}'"
    )
    assert clean["predicted_rows"] == predicted.count()
    assert 0 < clean["labeled_rows"] <= clean["predicted_rows"]
    assert 0.6 < clean["auc"] <= 1.0 and 0.0 <= clean["precision"] <= 1.0 and 0.0 <= clean["recall"] <= 1.0
    assert 0.7 < clean["reference_auc"] < 1.0 and clean["model_version"] == 1
    labels = _delta(spark, layout.platform_table("labels")).where(f"model_name = '{MODEL}'")
    assert sorted(str(r["label_date"]) for r in labels.select("label_date").distinct().collect()) == [
        DRIFT_DATE,
        DRIFT_DATE_2,
        DRIFT_DATE_3,
    ]


def test_policy_triggers_retraining_after_three_degraded_runs(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    decisions = {
        str(r["score_date"]): r
        for r in _delta(spark, lifecycle["layout"].platform_table("monitoring_decisions")).collect()
    }
    assert decisions[CLEAN_DATE]["degraded"] is False and decisions[CLEAN_DATE]["retrain"] is False
    assert decisions[DRIFT_DATE]["degraded"] is True and decisions[DRIFT_DATE]["retrain"] is False
    assert decisions[DRIFT_DATE]["consecutive_degraded"] == 1
    assert (
        decisions[DRIFT_DATE_2]["retrain"] is False and decisions[DRIFT_DATE_2]["consecutive_degraded"] == 2
    )
    assert decisions[DRIFT_DATE_3]["retrain"] is True and decisions[DRIFT_DATE_3]["consecutive_degraded"] == 3
    signals = json.loads(decisions[DRIFT_DATE_3]["signals"])["measured"]
    assert signals["new_labels"]["champion_version"] == 1 and signals["new_labels"]["cutoff"] == TRAIN_DATE
    assert signals["new_labels"]["rows"] > 0, "labels arrived after v1's cut-off"
    states = lifecycle["states"]
    assert states["drift"]["trigger_retraining"] == "skipped"
    assert states["drift_2"]["trigger_retraining"] == "skipped"
    assert states["drift_3"]["trigger_retraining"] == "success"
    triggered = lifecycle["triggered"]
    assert triggered.logical_date == _date(DRIFT_DATE_3), "the training run is about the scoring date"
    conf = triggered.conf
    assert conf["requested_by"] == f"{MODEL}_scoring/{lifecycle['runs']['drift_3'].run_id}"
    assert conf["reason"] == decisions[DRIFT_DATE_3]["reason"] and "drift" in conf["reason"]


def test_retrained_version_records_the_policy_reason(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    layout = lifecycle["layout"]
    run = lifecycle["runs"]["retrain"]
    registered = (
        _delta(spark, layout.platform_table("model_registry")).where("event = 'registered'").collect()
    )
    assert sorted(r["version"] for r in registered) == [1, 2]
    v2 = next(r for r in registered if r["version"] == 2)
    assert v2["reason"] == lifecycle["triggered"].conf["reason"]
    rows = _delta(spark, layout.platform_table("lineage")).where(f"run_id = '{run.run_id}'").collect()
    assert {r["trigger_type"] for r in rows} == {"policy"}
    register = next(r for r in rows if r["task_id"] == "register")
    assert register["model_version"] == 2
    assert json.loads(register["params"])["conf"]["reason"].startswith("retraining policy")


def test_the_policy_version_trains_on_its_window_and_is_judged_on_the_latest_labelled_day(
    lifecycle, spark
) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    layout = lifecycle["layout"]
    registered = {
        r["version"]: r
        for r in _delta(spark, layout.platform_table("model_registry"))
        .where("event = 'registered'")
        .collect()
    }
    inputs = json.loads(registered[2]["training_inputs"])
    window = inputs["window"]
    assert window["used"] is True and window["as_of"] == DRIFT_DATE_3
    # labels of a batch arrive the next day: by 11-05 the batches of 11-02..11-04 are labelled
    assert window["train_dates"] == [CLEAN_DATE, DRIFT_DATE] and window["holdout_dates"] == [DRIFT_DATE_2]
    assert inputs["labels"]["version"] == window["labels_version"] is not None
    assert registered[2]["booster_sha256"] != registered[1]["booster_sha256"], "v2 is not a copy of v1"

    features = (
        spark.read.format("delta")
        .option("versionAsOf", inputs["features"]["version"])
        .load(inputs["features"]["uri"])
        .where(F.col("_batch_id") == inputs["batch_id"])
        .withColumn("origin", F.split("_row_id", ":")[0])
    )
    by_origin = {
        (r["origin"], r["split"]): r["count"] for r in features.groupBy("origin", "split").count().collect()
    }
    predictions = _delta(spark, layout.platform_table("predictions")).where(f"model_name = '{MODEL}'")
    for ds, split in ((CLEAN_DATE, "train"), (DRIFT_DATE, "train"), (DRIFT_DATE_2, "holdout")):
        counted = by_origin.get((f"score__{ds}", split), 0)
        scored = predictions.where(f"score_date = DATE '{ds}'").count()
        assert counted == window["labelled_rows"][ds] and 0 < counted <= scored, (ds, by_origin)
    base = _delta(spark, layout.model_table(MODEL, "validated")).where(
        F.col("_batch_id") == inputs["batch_id"]
    )
    assert by_origin[(inputs["batch_id"], "train")] == base.count(), "every base row trains"
    assert (inputs["batch_id"], "holdout") not in by_origin and (
        f"score__{DRIFT_DATE_3}",
        "train",
    ) not in by_origin
    # the labels are the late labels of the entities, never the scoring file's own target column
    labels = _delta(spark, layout.platform_table("labels")).where(f"model_name = '{MODEL}'")
    window_rows = features.where(F.col("origin").startswith("score__"))
    joined = window_rows.join(labels.select("entity_id", F.col("label").alias("late")), "entity_id")
    assert joined.count() == window_rows.count() and joined.where("label != late").count() == 0

    decision = _delta(spark, layout.platform_table("promotion_decisions")).where("version = 2").first()
    checks = {c["check"]: c for c in json.loads(decision["checks"])}
    against = checks["beats_champion_auc"]
    assert against["champion_version"] == 1
    assert against["holdout"] == {"kind": "recent", "dates": [DRIFT_DATE_2], "as_of": DRIFT_DATE_3}
    assert against["same_holdout_rows"] == window["labelled_rows"][DRIFT_DATE_2]
    assert 0.5 < against["challenger_auc"] <= 1 and 0.5 < against["champion_auc"] <= 1
    assert checks["differs_from_champion"]["passed"] is True
    v2_auc = json.loads(registered[2]["metrics"])["auc"]
    assert abs(v2_auc - against["challenger_auc"]) < 1e-9, "v2's recorded holdout is the recent day"


def test_a_windowed_version_reproduces_after_new_batches(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    """The final scoring run has since added a batch and labels moved on; time travel rebuilds v2's set."""
    from mlplatform.config.settings import Settings
    from mlplatform.modeling.reproduce import reproduce_version

    layout = lifecycle["layout"]
    inputs_v2 = json.loads(
        _delta(spark, layout.platform_table("model_registry"))
        .where("event = 'registered' AND version = 2")
        .first()["training_inputs"]
    )
    validated = layout.model_table(MODEL, "validated")
    from delta.tables import DeltaTable

    assert (
        DeltaTable.forPath(spark, validated).history(1).first()["version"]
        > inputs_v2["window"]["validated_version"]
    )
    settings = Settings(storage_root=str(layout.root), spec_dir=lifecycle["spec_dir"])
    report = reproduce_version(spark, settings, MODEL, 2)
    assert report["passed"] is True, report
    assert report["training_set"]["matches"] is True and report["training_set"]["differing_rows"] == 0
    assert report["training_set"]["window_rows"] == sum(
        inputs_v2["window"]["labelled_rows"][d] for d in (CLEAN_DATE, DRIFT_DATE, DRIFT_DATE_2)
    )


def test_backfilled_dates_each_have_one_partition(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    preds = _delta(spark, lifecycle["layout"].platform_table("predictions")).where(f"model_name = '{MODEL}'")
    dates = sorted(str(r["score_date"]) for r in preds.select("score_date").distinct().collect())
    assert dates == [*SCORED_DATES, FINAL_DATE]
    assert preds.where(f"score_date = DATE '{AFTER_RETIREMENT}'").count() == 0


def test_alerts_went_to_webhook_and_email(lifecycle) -> None:  # type: ignore[no-untyped-def]
    inbox = lifecycle["inbox"]
    assert lifecycle["alerts_after_clean"] == [], "a clean batch must not alert"
    events = [(a["event"], (a["logical_date"] or "")[:10]) for a in inbox.webhooks]
    assert {("drift", DRIFT_DATE), ("drift", DRIFT_DATE_2), ("drift", DRIFT_DATE_3)} <= set(events)
    assert ("retraining", DRIFT_DATE_3) in events
    assert ("retraining", DRIFT_DATE) not in events and ("retraining", DRIFT_DATE_2) not in events
    assert ("retirement", FINAL_DATE) in events
    drift_alert = next(a for a in inbox.webhooks if a["event"] == "drift")
    assert set(drift_alert["details"]["features_drifted"]) == DRIFTED_FEATURES
    subjects = [m["subject"] for m in inbox.emails]
    assert any("retraining triggered" in s for s in subjects) and any("drift detected" in s for s in subjects)
    assert all(m["to"] == ["ml-oncall@example.com"] for m in inbox.emails)


def test_retirement_archives_and_stops_scoring(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.registry import ModelRegistry, ModelRetiredError

    layout = lifecycle["layout"]
    registry = layout.platform_table("model_registry")
    state = ModelRegistry(spark, registry).model_state(MODEL)
    assert state["retired"] is True and state["aliases"] == {}
    assert state["archived"] == [1, 2]
    assert state["retired_reason"] == "e2e: replaced by a new product line"
    with pytest.raises(ModelRetiredError, match="retired"):
        ModelRegistry(spark, registry).load_champion(MODEL)
    manifest = json.loads(Path(layout.retirement_manifest(MODEL)).read_text())
    assert [v["version"] for v in manifest["versions"]] == [1, 2]
    assert manifest["final_scoring"]["predictions"] > 0
    retire_rows = (
        _delta(spark, layout.platform_table("lineage"))
        .where(f"run_id = '{lifecycle['runs']['retire'].run_id}' AND task_id = 'retire'")
        .collect()
    )
    assert len(retire_rows) == 1 and {o["name"] for o in retire_rows[0]["outputs"]} >= {"model_registry"}
    after = lifecycle["states"]["after_retirement"]
    assert after["ingest"] == "skipped" and after["score"] == "skipped", after


def test_reports_exist_with_plots(lifecycle) -> None:  # type: ignore[no-untyped-def]
    layout = lifecycle["layout"]
    html = Path(layout.shap_report(MODEL, 1)).read_text()
    assert html.count("data:image/png;base64,") >= 5
    drift_html = Path(layout.drift_report(MODEL, DRIFT_DATE_3)).read_text()
    assert "monthly_charges" in drift_html and drift_html.count("data:image/png;base64,") >= 3
    assert "Drift over time" in drift_html and "Performance over time" in drift_html
    for feature in DRIFTED_FEATURES:
        assert f'<h3 class="drifted">{feature} (input)' in drift_html
    docs = Path(layout.data_docs_dir()) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert "churn_demo" in docs.read_text(), "Data Docs list the model's validation runs"


def test_catalog_lists_every_feature_of_every_spec(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.config.specs import load_specs
    from mlplatform.features.feature_catalog import feature_definitions

    catalog = _delta(spark, lifecycle["layout"].platform_table("feature_catalog")).collect()
    listed = {(r["feature_name"], r["definition"]) for r in catalog}
    specs = load_specs(PROJECT_ROOT / "include" / "specs")
    assert set(specs) == {"churn_demo", "telco_churn", "ticket_routing_demo", "demand_demo"}
    for spec in specs.values():
        for feature in feature_definitions(spec):
            assert (feature["feature_name"], feature["definition"]) in listed, (
                spec.name,
                feature["feature_name"],
            )
    demo = {r["feature_name"]: r for r in catalog if "churn_demo" in r["models"]}
    assert set(demo) == set(specs["churn_demo"].model_features)
    assert demo["log_total_charges"]["definition"] == "log1p(total_charges)"
    assert [(v["model"], v["first_version"]) for v in demo["age"]["model_versions"]] == [("churn_demo", 1)]


def test_validation_results_summarise_each_batch(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    results = _delta(spark, lifecycle["layout"].platform_table("validation_results"))
    batches = {r["batch_id"] for r in results.select("batch_id").distinct().collect()}
    assert {f"score__{ds}" for ds in SCORED_DATES} <= batches
    failed = results.where(f"batch_id = 'score__{DRIFT_DATE}' AND NOT success").collect()
    assert failed and all(r["unexpected_count"] > 0 for r in failed if r["column"])
    assert all(r["data_docs_uri"] and r["data_docs_uri"].endswith("index.html") for r in results.collect())


def test_summary_says_what_v2_trained_on_and_why_it_was_or_was_not_promoted(lifecycle) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.cli import collect_summary, format_summary

    summary = collect_summary(MODEL, list(SCORED_DATES))
    v1, v2 = summary["version_history"]
    assert v1["train_dates"] == [] and v2["train_dates"] == [CLEAN_DATE, DRIFT_DATE]
    assert v2["comparison"]["holdout_dates"] == [DRIFT_DATE_2] and v2["comparison"]["champion_version"] == 1
    text = format_summary(summary)
    assert f"v2: trained on base rows + labelled batches {CLEAN_DATE}, {DRIFT_DATE}" in text
    rows = v2["comparison"]["same_holdout_rows"]
    assert f"on the same {rows} holdout rows (['{DRIFT_DATE_2}']): AUC v2 " in text and " vs v1 " in text
    assert ("PROMOTED: " in text) if v2["promoted"] else ("not promoted: " in text)


def test_audit_records_each_runs_trigger_source_and_the_promotion_and_retirement(lifecycle) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.governance.audit import read_audit

    audit = read_audit(lifecycle["layout"].root, model=MODEL)
    triggers = audit[audit["action"] == "trigger"]
    source = dict(zip(triggers["run_id"], triggers["source"], strict=True))
    runs = lifecycle["runs"]
    # dag.test() runs are a person's command (Airflow's triggered_by "test"); the conf's
    # trigger_source "api" of the first training run changes nothing.
    assert source[runs["train"].run_id] == "cli"
    assert source[runs["clean"].run_id] == "cli"
    # dag.test runs the policy's queued run under a run id of its own, with the run's conf
    assert source[runs["retrain"].run_id] == "policy"
    policy = triggers[triggers["run_id"] == runs["retrain"].run_id].iloc[0]
    assert policy["reason"] == lifecycle["triggered"].conf["reason"]
    assert source[runs["retire"].run_id] == "cli"
    assert len(triggers) == triggers["run_id"].nunique(), "a run's trigger is audited once"
    promoted = audit[audit["action"] == "promotion"]
    assert 1 in set(promoted["version"]) and set(promoted["run_id"]) <= set(source)
    retired = audit[audit["action"] == "retirement"]
    assert list(retired["reason"]) == ["e2e: replaced by a new product line"]


def test_trace_finds_the_model_and_input_versions_of_one_prediction(lifecycle, spark) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.lineage import queries

    layout = lifecycle["layout"]
    row = (
        _delta(spark, layout.platform_table("predictions"))
        .where(f"model_name = '{MODEL}' AND score_date = DATE '{DRIFT_DATE}'")
        .orderBy("entity_id")
        .first()
    )
    answer = queries.trace(layout.root, MODEL, DRIFT_DATE, row["entity_id"])
    assert answer["model_version"] == row["model_version"] and answer["run_id"] == row["run_id"]
    lineage = _delta(spark, layout.platform_table("lineage")).where(
        f"run_id = '{row['run_id']}' AND status = 'success'"
    )
    wrote = {
        (r["task_id"], ref["name"]): ref["version"]
        for r in lineage.collect()
        for ref in r["outputs"]
        if ref["version"] is not None
    }
    assert answer["input_versions"] == {
        "features": wrote[("build_features", "features")],
        "validated": wrote[("validate", "validated")],
        "bronze": wrote[("ingest", "bronze")],
    }
    bronze = _delta(spark, layout.model_table(MODEL, "bronze")).where(
        f"_row_id = '{answer['row_id']}' AND _batch_id = '{answer['batch_id']}'"
    )
    assert answer["source_file"] == bronze.first()["_source_file"] and DRIFT_DATE in answer["source_file"]
    up = queries.upstream(layout.root, MODEL, row["model_version"])
    assert up["inputs"]["features"]["version"] is not None and up["code_version"]
    parts = queries.downstream(layout.root, MODEL, row["model_version"])["partitions"]
    assert DRIFT_DATE in {p["score_date"] for p in parts}


def test_openlineage_events_are_complete_and_each_output_version_traces_to_its_inputs(
    lifecycle, spark
) -> None:  # type: ignore[no-untyped-def]
    layout = lifecycle["layout"]
    events = [
        json.loads(line)
        for line in (Path(layout.root) / "openlineage" / "events.jsonl").read_text().splitlines()
    ]
    attempts: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        attempts.setdefault(event["run"]["runId"], []).append(event)
    for run_id, mine in attempts.items():
        kinds = [e["eventType"] for e in mine]
        assert kinds[0] == "START" and kinds[-1] in ("COMPLETE", "FAIL") and len(kinds) == 2, (run_id, kinds)
    ended: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (run, task) → its steps' last events
    for e in sorted(events, key=lambda e: e["eventTime"]):
        if e["eventType"] in ("COMPLETE", "FAIL"):
            task = e["job"]["name"].split(".")[1]
            ended.setdefault((e["run"]["facets"]["mlplatform"]["airflow_run_id"], task), []).append(e)
    lineage = sorted(_delta(spark, layout.platform_table("lineage")).collect(), key=lambda r: r["started_at"])
    rows: dict[tuple[str, str], list[Any]] = {}
    for r in lineage:
        rows.setdefault((r["run_id"], r["task_id"]), []).append(r)
    assert lineage and set(rows) <= set(ended), "a step without events"
    for key, mine in rows.items():
        assert len(ended[key]) == len(mine), key  # one START/terminal pair per lineage row
        for row, event in zip(mine, ended[key], strict=True):
            assert event["eventType"] == ("COMPLETE" if row["status"] == "success" else "FAIL")
            versions = {
                o["name"].rsplit("/", 1)[-1]: o["facets"]["version"]["datasetVersion"]
                for o in event["outputs"]
                if "version" in o.get("facets", {})
            }
            for ref in row["outputs"]:
                if ref["version"] is not None and ref["name"] in versions:
                    assert versions[ref["name"]] == str(ref["version"]), (key, ref["name"])
    flat = [(run, e) for (run, _), mine in ended.items() for e in mine]
    links = 0
    for run_id, event in flat:
        earlier = sorted(
            (e for other, e in flat if other == run_id and e["eventTime"] < event["eventTime"]),
            key=lambda e: e["eventTime"],
        )
        written = {  # the last version each earlier step of the run wrote
            o["name"]: o["facets"]["version"]["datasetVersion"]
            for e in earlier
            for o in e["outputs"]
            if "version" in o.get("facets", {})
        }
        for dataset in event["inputs"]:
            if dataset["name"] in written and "version" in dataset.get("facets", {}):
                assert dataset["facets"]["version"]["datasetVersion"] == written[dataset["name"]], (
                    run_id,
                    event["job"]["name"],
                    dataset["name"],
                )
                links += 1
    assert links >= 3 * len(lifecycle["runs"])  # ingest → validate → build_features → score/train at least
