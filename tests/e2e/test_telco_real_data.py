"""End to end on real data: the Telco churn spec through Airflow, when ../shared/datasets exists.

The file's real defect (a blank ``TotalCharges`` for 11 customers with tenure 0) must be handled
by the spec's policy (blank → null → imputed), not crash the run or lose those customers.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.shared_data]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL = "telco_churn"
TRAIN_DATE, SCORE_DATE = "2026-10-01", "2026-10-02"
TELCO_ROWS = 7043


def _date(ds: str) -> datetime:
    return datetime.fromisoformat(ds).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def telco_run(airflow_db, spark, telco_csv, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    from mlplatform.io.layout import StorageLayout
    from tests.support import platform_env

    root = tmp_path_factory.mktemp("telco") / "lake"
    with platform_env(MLP_STORAGE_ROOT=str(root), MLP_DATASETS_DIR=str(telco_csv.parent)):
        layout = StorageLayout(str(root))
        with telco_csv.open(newline="") as fh:
            rows = list(csv.reader(fh))
        header, body = rows[0], rows[1:]
        batch = body[::14]  # every 14th customer: ~500 rows, including some with a blank TotalCharges
        batch_path = Path(layout.landing_dir(MODEL)) / "batches" / f"{SCORE_DATE}.csv"
        batch_path.parent.mkdir(parents=True)
        with batch_path.open("w", newline="") as fh:
            csv.writer(fh).writerows([header, *batch])
        dags = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags
        runs = {
            "train": dags[f"{MODEL}_training"].test(
                logical_date=_date(TRAIN_DATE), run_conf={"reason": "telco e2e"}
            ),
            "score": dags[f"{MODEL}_scoring"].test(logical_date=_date(SCORE_DATE)),
        }
        yield {"runs": runs, "layout": layout, "batch_rows": len(batch)}


def test_runs_succeed(telco_run) -> None:  # type: ignore[no-untyped-def]
    states = {k: str(r.state) for k, r in telco_run["runs"].items()}
    assert all(s.endswith("success") for s in states.values()), states


def test_blank_total_charges_are_imputed_not_lost(telco_run, spark) -> None:  # type: ignore[no-untyped-def]
    layout = telco_run["layout"]
    validated = spark.read.format("delta").load(layout.model_table(MODEL, "validated"))
    train = validated.where("_batch_id LIKE 'train__%'")
    assert train.count() == TELCO_ROWS, "every Telco customer is valid and must reach training"
    assert train.where("TotalCharges IS NULL").count() == 11
    features = spark.read.format("delta").load(layout.model_table(MODEL, "features"))
    assert features.where("_batch_id LIKE 'train__%' AND isnan(TotalCharges)").count() == 0


def test_champion_quality_on_real_data(telco_run, spark) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.registry import ModelRegistry

    champion = ModelRegistry(spark, telco_run["layout"].platform_table("model_registry")).load_champion(MODEL)
    assert champion.metrics["auc"] > 0.80
    assert len(champion.signature["feature_names"]) == 21


def test_scored_every_valid_row(telco_run, spark) -> None:  # type: ignore[no-untyped-def]
    layout = telco_run["layout"]
    preds = spark.read.format("delta").load(layout.platform_table("predictions"))
    preds = preds.where(f"model_name = '{MODEL}' AND score_date = DATE '{SCORE_DATE}'")
    quarantined = (
        spark.read.format("delta")
        .load(layout.platform_table("quarantine"))
        .where(f"model_name = '{MODEL}' AND batch_id = 'score__{SCORE_DATE}'")
        .count()
    )
    assert preds.count() == telco_run["batch_rows"] - quarantined
    assert quarantined == 0
