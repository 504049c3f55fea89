"""Reproducing a registered version: same inputs (Delta time travel), same path and params, same predictions."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.spark

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MODEL = "churn_demo"
DS = "2026-11-10"
ENV_KEYS = ("MLP_STORAGE_ROOT", "MLP_SPEC_DIR", "MLP_SINGLE_NODE_MAX_ROWS")


def _set_env(values: dict[str, str | None]) -> None:
    from mlplatform.config.settings import get_settings

    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


def _ctx(run_id: str):  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext

    return RunContext(
        run_id, f"{MODEL}_training", "ingest", datetime.fromisoformat(DS).replace(tzinfo=UTC), "test"
    )


def _train_and_register(ctx, featured: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.lifecycle.runner import run_step

    trained = run_step("train", MODEL, ctx.for_task("train"), batch=featured)
    evaluated = run_step("evaluate", MODEL, ctx.for_task("evaluate"), trained=trained)
    registered = run_step("register", MODEL, ctx.for_task("register"), evaluated=evaluated)
    return {**registered, "trained": trained}


@pytest.fixture(scope="module")
def versions(spark, tmp_path_factory) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """One training batch through the real steps; v1 trained on the driver, v2 on Spark, same features."""
    from mlplatform.demo.data import generate_customers, write_csv
    from mlplatform.io import files as filestore
    from mlplatform.io.layout import StorageLayout, safe_key
    from mlplatform.lifecycle.runner import run_step

    tmp = tmp_path_factory.mktemp("repro")
    spec_dir = tmp / "specs"
    spec_dir.mkdir()
    spec_file = spec_dir / f"{MODEL}.yaml"
    spec_file.write_text((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())
    root = tmp / "lake"
    old = {k: os.environ.get(k) for k in ENV_KEYS}
    _set_env({"MLP_STORAGE_ROOT": str(root), "MLP_SPEC_DIR": str(spec_dir), "MLP_SINGLE_NODE_MAX_ROWS": None})
    try:
        write_csv(generate_customers(2000, seed=5), root / "landing" / MODEL / "training.csv")
        ctx = _ctx("manual__repro_single")
        batch = run_step("ingest", MODEL, ctx.for_task("ingest"), mode="training")
        validated = run_step("validate", MODEL, ctx.for_task("validate"), batch=batch)
        featured = run_step("build_features", MODEL, ctx.for_task("build_features"), batch=validated)
        single = _train_and_register(ctx, featured)
        # A second run on the same features, forced onto Spark; register reads its run's staging.
        ctx2 = _ctx("manual__repro_distributed")
        layout = StorageLayout(str(root))
        filestore.write_text(
            f"{layout.staging_dir(MODEL, safe_key(ctx2.run_id))}/feature_state.json",
            filestore.read_text(featured["feature_state_uri"]),
        )
        _set_env({"MLP_SINGLE_NODE_MAX_ROWS": "0"})
        distributed = _train_and_register(ctx2, featured)
        _set_env({"MLP_SINGLE_NODE_MAX_ROWS": None})
        yield {"single": single, "distributed": distributed, "spec_file": spec_file, "root": root}
    finally:
        _set_env(old)


def test_train_step_records_path_params_and_best_iteration(versions) -> None:  # type: ignore[no-untyped-def]
    trained = versions["single"]["trained"]
    assert (
        trained["training_path"] == "single_node"
        and versions["distributed"]["trained"]["training_path"] == "distributed"
    )
    assert {"booster_uri", "booster_sha256", "train_rows"} <= set(trained)
    training = trained["training"]
    assert training["best_iteration"] == trained["best_iteration"] >= 0
    assert training["params"]["num_boost_round"] == 150 and training["params"]["eta"] == 0.1
    assert training["libraries"]["xgboost"]
    json.dumps(trained)  # XCom-able


@pytest.mark.parametrize("which", ["single", "distributed"])
def test_reproduce_matches_registered_booster(spark, versions, which: str) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.config.settings import get_settings
    from mlplatform.modeling.reproduce import reproduce_version

    version = int(versions[which]["version"])
    report = reproduce_version(spark, get_settings(), MODEL, version)
    assert report["passed"], report
    assert report["max_abs_diff"] <= 1e-6
    assert report["path"] == report["recorded_path"] == versions[which]["trained"]["training_path"]
    assert report["best_iteration"] == report["recorded_best_iteration"]
    assert report["features_as_of"]["version"] == versions[which]["features_version"]
    assert report["holdout_rows"] > 100 and report["warnings"] == []
    assert report["environment"]["current"]["xgboost"] and report["code_version"]["current"]
    json.dumps(report, default=str)


def test_reproduce_reads_features_as_of_the_recorded_version(spark, versions) -> None:  # type: ignore[no-untyped-def]
    """A later write to the features table does not change what the version reproduces from."""
    from pyspark.sql import functions as F

    from mlplatform.config.settings import get_settings
    from mlplatform.io.layout import StorageLayout
    from mlplatform.modeling.reproduce import reproduce_version

    uri = StorageLayout(str(versions["root"])).model_table(MODEL, "features")
    batch_id = versions["single"]["batch_id"]
    current = spark.read.format("delta").load(uri)
    shifted = current.where(F.col("_batch_id") == batch_id).withColumn(
        "tenure_months", F.col("tenure_months") + 7
    )
    shifted.write.format("delta").mode("overwrite").option("replaceWhere", f"_batch_id = '{batch_id}'").save(
        uri
    )
    report = reproduce_version(spark, get_settings(), MODEL, int(versions["single"]["version"]))
    assert report["passed"] and report["max_abs_diff"] <= 1e-6


def test_reproduce_passes_after_maintenance_with_no_default_retention(spark, versions) -> None:  # type: ignore[no-untyped-def]
    """VACUUM with a 0 h default removes what no live version needs and keeps what they read.

    Runs after the features table was rewritten above, so the registered versions' feature files
    are removed files that a plain ``VACUUM RETAIN 0 HOURS`` would delete.
    """
    from mlplatform.config.settings import get_settings
    from mlplatform.io.layout import StorageLayout
    from mlplatform.lifecycle.maintenance import CHECK_KEY, collect_pins, maintain
    from mlplatform.lineage.retention import norm_uri
    from mlplatform.modeling.reproduce import reproduce_version

    settings = get_settings().model_copy(update={"vacuum_retention_hours": 0, "vacuum_margin_hours": 0})
    layout = StorageLayout(str(versions["root"]))
    features = layout.model_table(MODEL, "features")
    pins = collect_pins(spark, layout)
    assert pins[norm_uri(features)].version == versions["single"]["features_version"]
    control = layout.platform_table("validation_results")  # no version pins it; not append-only
    assert norm_uri(control) not in pins
    spark.read.format("delta").load(control).write.format("delta").mode("overwrite").save(control)
    spark.conf.set(CHECK_KEY, "false")
    try:
        at_risk = [
            r["path"] for r in spark.sql(f"VACUUM delta.`{features}` RETAIN 0 HOURS DRY RUN").collect()
        ]
    finally:
        spark.conf.unset(CHECK_KEY)
    assert at_risk, "the rewrite above left no removed file for VACUUM to take"

    report = maintain(spark, settings)
    summary = {v["path"]: v for v in report["vacuum"]}
    assert summary[control]["files_deleted"] > 0  # unpinned: the 0 h default applies
    assert summary[features]["pinned_version"] == versions["single"]["features_version"]
    assert all(Path(p.removeprefix("file:")).exists() for p in at_risk)
    for which in ("single", "distributed"):
        report = reproduce_version(spark, get_settings(), MODEL, int(versions[which]["version"]))
        assert report["passed"] and report["max_abs_diff"] <= 1e-6, report


def test_cli_prints_report_and_exits_zero(versions, capsys) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.cli import main

    code = main(["reproduce", "--model", MODEL, "--version", str(versions["single"]["version"])])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["passed"] is True and out["version"] == int(versions["single"]["version"])
    assert main(["reproduce", "--model", MODEL, "--version", "99"]) == 2


def test_spec_change_is_refused_naming_the_field(spark, versions, capsys) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.cli import main
    from mlplatform.config.settings import get_settings
    from mlplatform.modeling.reproduce import SpecChangedError, reproduce_version

    spec_file: Path = versions["spec_file"]
    original = spec_file.read_text()
    spec = yaml.safe_load(original)
    spec["training"]["params"]["max_depth"] = 3
    spec_file.write_text(yaml.safe_dump(spec))
    try:
        with pytest.raises(SpecChangedError, match=r"training\.params\.max_depth: 5 -> 3") as err:
            reproduce_version(spark, get_settings(), MODEL, int(versions["single"]["version"]))
        assert "changed since version" in str(err.value)
        assert err.value.changes == ["training.params.max_depth: 5 -> 3"]
        assert main(["reproduce", "--model", MODEL, "--version", str(versions["single"]["version"])]) == 1
        assert "max_depth" in json.loads(capsys.readouterr().out)["error"]
    finally:
        spec_file.write_text(original)
