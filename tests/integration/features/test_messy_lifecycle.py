"""A model brought as a YAML spec over a messy CSV, with no Python written for it: no id column,
missing-value sentinels, quoted symbolic categories (and one named ``other``), a column name that
needs renaming, negative values under ``log1p`` and exact duplicate rows. Trained, explained and
scored through the lifecycle steps on real Spark, Delta, GX, XGBoost and SHAP."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.spark

MODEL = "credit_messy"
TRAIN_DATE, SCORE_DATE = "2026-11-01", "2026-11-02"
HEADER = ["Credit Amount", "pdays", "savings", "duration", "job", "bad"]
SAVINGS = ["'<100'", "'100<=X<500'", "'>=1000'", "other"]
DURATIONS = ["'<1'", "'1<=X<4'", "'>=7'"]
JOBS = ["skilled", "unskilled", "other", "unknown"]

SPEC = {
    "name": MODEL,
    "source": {
        "training": {"path": "{storage_root}/landing/{model}/training.csv", "options": {"header": "true"}},
        "scoring": {"path": "{storage_root}/landing/{model}/batches/{ds}.csv", "options": {"header": "true"}},
    },
    "columns": {
        "target": "bad",
        "numeric": ["credit_amount", "pdays"],
        "categorical": ["savings", "duration", "job"],
        "rename": {"Credit Amount": "credit_amount"},
        "missing_values": {"pdays": [-1], "job": ["unknown"]},
    },
    "validation": {"duplicate_keys": "keep", "max_bad_row_fraction": 0.2},
    "features": {
        "categorical_encoding": "one_hot",
        "derived": [{"name": "log_amount", "op": "log1p", "inputs": ["credit_amount"]}],
    },
    "training": {"params": {"n_estimators": 40, "max_depth": 3}, "shap_sample_rows": 100},
    "evaluation": {"bootstrap_samples": 20},
    "promotion": {"min_auc": 0.55, "max_logloss": 5.0},
}


def _rows(n: int, seed: int, *, target: bool) -> tuple[list[list[str]], dict[str, int]]:
    """Rows with a real signal (savings and amount), and what the test expects validation to count."""
    rng = np.random.default_rng(seed)
    rows, counts = [], {"pdays": 0, "job": 0, "negative": 0}
    for i in range(n):
        savings = int(rng.integers(0, len(SAVINGS)))
        amount = float(np.round(rng.gamma(2.0, 1500.0), 0))
        if i % 37 == 5:
            amount = -float(rng.integers(1, 50))  # a refund: outside log1p's domain
            counts["negative"] += 1
        pdays = "-1" if rng.random() < 0.4 else str(int(rng.integers(0, 300)))
        counts["pdays"] += pdays == "-1"
        job = JOBS[int(rng.integers(0, len(JOBS)))]
        counts["job"] += job == "unknown"
        logit = -1.0 + 1.2 * (savings == 0) - 0.8 * (savings == 2) + 0.0004 * max(amount, 0) - 0.5
        bad = int(rng.random() < 1 / (1 + np.exp(-logit)))
        row = [f"{amount:.0f}", pdays, SAVINGS[savings], DURATIONS[i % 3], job]
        rows.append([*row, str(bad)] if target else row)
    return rows, counts


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def _ctx(dag: str, task: str, ds: str, run_id: str):  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext

    return RunContext(run_id, f"{MODEL}_{dag}", task, datetime.fromisoformat(ds).replace(tzinfo=UTC), "test")


@pytest.fixture(scope="module")
def lifecycle(spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.config.settings import Settings
    from mlplatform.io.layout import StorageLayout
    from mlplatform.lifecycle.runner import run_step

    base = tmp_path_factory.mktemp("messy")
    (base / "specs").mkdir()
    (base / "specs" / f"{MODEL}.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    settings = Settings(storage_root=str(base / "lake"), spec_dir=base / "specs")
    landing = base / "lake" / "landing" / MODEL
    rows, counts = _rows(400, seed=11, target=True)
    copies = [list(rows[i]) for i in (3, 3, 10, 20)]  # exact copies: row 3 thrice in all
    _write(landing / "training.csv", HEADER, rows + copies)
    score_rows, _ = _rows(120, seed=12, target=False)
    _write(landing / "batches" / f"{SCORE_DATE}.csv", HEADER[:-1], score_rows)
    out: dict[str, Any] = {"settings": settings, "layout": StorageLayout(settings.storage_root)}
    out["counts"] = {**counts, "pdays": counts["pdays"] + sum(r[1] == "-1" for r in copies)}
    out["counts"]["job"] += sum(r[4] == "unknown" for r in copies)
    out["counts"]["negative"] += sum(r[0].startswith("-") for r in copies)
    value: Any = "training"
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
    for task, arg in chain:
        value = run_step(
            task,
            MODEL,
            _ctx("training", task, TRAIN_DATE, "manual__messy"),
            settings=settings,
            **{arg: value},
        )
        out[task] = value
    value = "scoring"
    for task, arg in [
        ("ingest", "mode"),
        ("validate", "batch"),
        ("build_features", "batch"),
        ("score", "featured"),
    ]:
        value = run_step(
            task,
            MODEL,
            _ctx("scoring", task, SCORE_DATE, "scheduled__messy"),
            settings=settings,
            **{arg: value},
        )
        out[f"score_{task}"] = value
    return out


def _table(spark, lifecycle, name: str, model_table: bool = False):  # type: ignore[no-untyped-def]
    layout = lifecycle["layout"]
    uri = layout.model_table(MODEL, name) if model_table else layout.platform_table(name)
    return spark.read.format("delta").load(uri)


def test_readable_feature_names_reach_the_registry_and_shap(spark, lifecycle) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.features.engineering import feature_labels
    from mlplatform.lifecycle.runner import open_platform

    assert lifecycle["promote"]["promoted"] is True
    state = open_platform(MODEL, lifecycle["settings"]).registry.load_version(MODEL, 1).feature_state
    names = state["feature_names"]
    for name in ["savings__lt_100", "savings__100_le_X_lt_500", "savings__ge_1000", "savings__other"]:
        assert name in names
    assert {"duration__1_le_X_lt_4", "duration__lt_1", "duration__ge_7", "job__other", "job__OTHER__"} <= set(
        names
    )
    assert not [n for n in names if set(n) & set("[]< ,;{}()=")]
    assert "job__unknown" not in names  # a sentinel is missing, not a category
    labels = feature_labels(state)
    assert labels["savings__lt_100"] == "savings = '<100'" and labels["job__other"] == "job = other"
    shap = {r["feature"] for r in _table(spark, lifecycle, "shap_importance").where("version = 1").collect()}
    assert shap <= set(names) and "savings__lt_100" in shap


def test_sentinels_out_of_domain_and_copies_are_counted(spark, lifecycle) -> None:  # type: ignore[no-untyped-def]
    batch = lifecycle["validate"]["batch_id"]
    results = {
        (r["expectation"], r["column"]): r["unexpected_count"]
        for r in _table(spark, lifecycle, "validation_results").where(f"batch_id = '{batch}'").collect()
    }
    counts = lifecycle["counts"]
    assert results[("missing_value_sentinels", "pdays")] == counts["pdays"] > 0
    assert results[("missing_value_sentinels", "job")] == counts["job"] > 0
    assert results[("derived_out_of_domain", "log_amount")] == counts["negative"] > 0
    assert results[("duplicate_rows", None)] == 4


def test_no_row_is_lost_and_copies_share_a_side(spark, lifecycle) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    for prefix in ("", "score_"):
        batch = lifecycle[f"{prefix}validate"]["batch_id"]
        bronze = _table(spark, lifecycle, "bronze", True).where(F.col("_batch_id") == batch).count()
        validated = _table(spark, lifecycle, "validated", True).where(F.col("_batch_id") == batch).count()
        quarantined = _table(spark, lifecycle, "quarantine").where(F.col("batch_id") == batch).count()
        assert bronze == validated + quarantined == (404 if not prefix else 120)
    features = _table(spark, lifecycle, "features", True).where(
        F.col("_batch_id") == lifecycle["validate"]["batch_id"]
    )
    by_key = features.groupBy("entity_id").agg(
        F.count("*").alias("n"), F.countDistinct("split").alias("sides")
    )
    assert by_key.where("n > 1").count() >= 3 and by_key.where("sides > 1").count() == 0
    assert features.where("split = 'holdout'").count() > 0
    amounts = {r["credit_amount"] for r in _table(spark, lifecycle, "validated", True).collect()}
    assert any(a is not None and a < 0 for a in amounts)  # a refund is data, not an error
    assert features.where(F.isnan("log_amount")).count() == lifecycle["counts"]["negative"]


def test_scoring_rows_are_keyed_by_content(spark, lifecycle) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    preds = _table(spark, lifecycle, "predictions").where(F.col("score_date") == F.to_date(F.lit(SCORE_DATE)))
    validated = _table(spark, lifecycle, "validated", True).where(
        F.col("_batch_id") == lifecycle["score_validate"]["batch_id"]
    )
    assert preds.count() == validated.count() > 0
    assert {r["entity_id"] for r in preds.collect()} == {r["_content_key"] for r in validated.collect()}
    lineage = (
        _table(spark, lifecycle, "lineage").where("task_id = 'ingest' AND run_id = 'manual__messy'").first()
    )
    assert '"Credit Amount": "credit_amount"' in lineage["params"]
