"""The data quality gate, defect by defect, through the real ingest and GX validation steps.

Each test feeds one scoring batch with one kind of defect and asserts the outcome: the row is
quarantined with its reason, or the run fails with a message naming the column (and file); and
in every case no good row is lost or duplicated.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform.io.layout import StorageLayout, scoring_batch_id

pytestmark = pytest.mark.spark

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MODEL = "churn_demo"
DS = "2026-11-10"


@pytest.fixture()
def platform_env(spark, tmp_path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A fresh storage root and a private copy of the specs, as the steps' settings."""
    from mlplatform.config.settings import Settings

    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    source = (PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text()
    (spec_dir / f"{MODEL}.yaml").write_text(source)
    root = tmp_path / "lake"
    return {
        "root": root,
        "settings": Settings(storage_root=str(root), spec_dir=spec_dir),
        "spec_file": spec_dir / f"{MODEL}.yaml",
        "batch": root / "landing" / MODEL / "batches",
    }


def _good_rows(n: int = 30) -> list[dict[str, str]]:
    from mlplatform.demo.data import generate_customers

    frame = generate_customers(n, seed=3, bad_row_fraction=0.0, id_offset=500)
    return frame.astype(str).to_dict("records")


def _write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    header = header or list(rows[0])
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _ctx(ds: str = DS, run: str = "scheduled__test"):  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext

    return RunContext(run, f"{MODEL}_scoring", "validate", datetime.fromisoformat(ds).replace(tzinfo=UTC))


def _ingest(settings: Any, ds: str = DS) -> dict[str, Any]:
    from mlplatform.lifecycle.runner import run_step

    return run_step("ingest", MODEL, _ctx(ds).for_task("ingest"), settings=settings, mode="scoring")


def _ingest_and_validate(settings: Any, ds: str = DS) -> dict[str, Any]:
    from mlplatform.lifecycle.runner import run_step

    batch = _ingest(settings, ds)
    return run_step("validate", MODEL, _ctx(ds).for_task("validate"), settings=settings, batch=batch)


def _quarantined(spark, root: Path) -> list[Any]:  # type: ignore[no-untyped-def]
    quarantine = spark.read.format("delta").load(StorageLayout(str(root)).platform_table("quarantine"))
    return quarantine.where(f"batch_id = '{scoring_batch_id(DS)}'").collect()


def _tables(spark, root: Path) -> tuple[set[str], list[Any]]:  # type: ignore[no-untyped-def]
    validated = spark.read.format("delta").load(StorageLayout(str(root)).model_table(MODEL, "validated"))
    ids = [r["customer_id"] for r in validated.where(f"_batch_id = '{scoring_batch_id(DS)}'").collect()]
    assert len(ids) == len(set(ids)), "a good row was duplicated"
    return set(ids), _quarantined(spark, root)


ROW_DEFECTS = {
    "wrong_type": ({"monthly_charges": "12,5O"}, "expect_column_values_to_match_regex(monthly_charges)"),
    "null_required": ({"tenure_months": ""}, "expect_column_values_to_not_be_null(tenure_months)"),
    "out_of_range": ({"age": "150"}, "expect_column_values_to_be_between(age)"),
    "unseen_category": ({"contract": "Weekly"}, "expect_column_values_to_be_in_set(contract)"),
}


@pytest.mark.parametrize("defect", sorted(ROW_DEFECTS))
def test_row_defect_is_quarantined_with_reason(defect: str, spark, platform_env) -> None:  # type: ignore[no-untyped-def]
    change, reason = ROW_DEFECTS[defect]
    rows = _good_rows()
    bad = {**rows[7], **change}
    _write_csv(platform_env["batch"] / f"{DS}.csv", [*rows[:7], bad, *rows[8:]])
    out = _ingest_and_validate(platform_env["settings"])
    good_ids = {r["customer_id"] for i, r in enumerate(rows) if i != 7}
    validated_ids, quarantined = _tables(spark, platform_env["root"])
    assert validated_ids == good_ids
    assert len(quarantined) == 1 and reason in quarantined[0]["reasons"]
    assert out["validated_rows"] == len(good_ids) and out["quarantined_rows"] == 1


def test_malformed_csv_line_is_quarantined(spark, platform_env) -> None:  # type: ignore[no-untyped-def]
    rows = _good_rows()
    path = platform_env["batch"] / f"{DS}.csv"
    _write_csv(path, rows)
    lines = path.read_text().splitlines()
    lines.insert(5, 'C9999999,12,"unterminated,40.5,,3,33,One year,Mailed check,DSL,north,0,extra,fields')
    path.write_text("\n".join(lines) + "\n")
    _ingest_and_validate(platform_env["settings"])
    validated_ids, quarantined = _tables(spark, platform_env["root"])
    assert validated_ids == {r["customer_id"] for r in rows}
    assert len(quarantined) == 1
    assert "expect_column_values_to_be_null(_corrupt_record)" in quarantined[0]["reasons"]
    assert "unterminated" in quarantined[0]["row_json"]


def test_duplicated_key_fails_the_run_and_quarantines_both(spark, platform_env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.validation import DataQualityError

    rows = _good_rows()
    dup = {**rows[3], "age": "44"}
    _write_csv(platform_env["batch"] / f"{DS}.csv", [*rows, dup])
    with pytest.raises(DataQualityError, match=r"customer_id") as err:
        _ingest_and_validate(platform_env["settings"])
    assert "expect_column_values_to_be_unique" in str(err.value)
    assert f"{DS}.csv" in str(err.value)
    quarantined = _quarantined(spark, platform_env["root"])
    assert (
        sorted(json.loads(q["row_json"])["customer_id"] for q in quarantined) == [rows[3]["customer_id"]] * 2
    )


def test_missing_column_fails_naming_file_and_column(platform_env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.ingest import SourceError

    rows = _good_rows()
    header = [c for c in rows[0] if c != "contract"]
    _write_csv(platform_env["batch"] / f"{DS}.csv", rows, header=header)
    with pytest.raises(SourceError, match=r"contract") as err:
        _ingest_and_validate(platform_env["settings"])
    assert f"{DS}.csv" in str(err.value)


def test_extra_column_is_recorded_and_ignored_by_default(spark, platform_env) -> None:  # type: ignore[no-untyped-def]

    rows = _good_rows()
    _write_csv(platform_env["batch"] / "2026-11-09.csv", rows)
    _ingest(platform_env["settings"], "2026-11-09")
    extra = [{**r, "loyalty_tier": "gold"} for r in rows]
    _write_csv(platform_env["batch"] / f"{DS}.csv", extra)
    out = _ingest_and_validate(platform_env["settings"])
    assert out["schema_version"] == 2
    validated_ids, quarantined = _tables(spark, platform_env["root"])
    assert validated_ids == {r["customer_id"] for r in rows} and quarantined == []
    schemas = spark.read.format("delta").load(
        StorageLayout(str(platform_env["root"])).platform_table("source_schemas")
    )
    latest = schemas.orderBy("schema_version", ascending=False).first()
    assert '"added": ["loyalty_tier"]' in latest["changes"]


def test_extra_column_fails_under_fail_policy(platform_env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.source_schema import SchemaDriftError

    spec = yaml.safe_load(platform_env["spec_file"].read_text())
    spec["validation"]["extra_columns"] = "fail"
    platform_env["spec_file"].write_text(yaml.safe_dump(spec))
    rows = _good_rows()
    _write_csv(platform_env["batch"] / "2026-11-09.csv", rows)
    _ingest(platform_env["settings"], "2026-11-09")
    _write_csv(platform_env["batch"] / f"{DS}.csv", [{**r, "loyalty_tier": "gold"} for r in rows])
    with pytest.raises(SchemaDriftError, match=r"loyalty_tier") as err:
        _ingest_and_validate(platform_env["settings"])
    assert "validation.extra_columns" in str(err.value) and f"{DS}.csv" in str(err.value)


def test_empty_batch_fails_naming_file_and_expectation(platform_env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.validation import DataQualityError

    rows = _good_rows()
    path = platform_env["batch"] / f"{DS}.csv"
    _write_csv(path, rows)
    path.write_text(path.read_text().splitlines()[0] + "\n")
    with pytest.raises(DataQualityError, match=r"expect_table_row_count_to_be_between") as err:
        _ingest_and_validate(platform_env["settings"])
    assert f"{DS}.csv" in str(err.value)


def test_unreadable_file_fails_naming_file(platform_env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.ingest import SourceError

    with pytest.raises(SourceError, match=rf"{DS}\.csv"):
        _ingest_and_validate(platform_env["settings"])


def test_failed_run_writes_failed_lineage(spark, platform_env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.ingest import SourceError

    with pytest.raises(SourceError):
        _ingest_and_validate(platform_env["settings"])
    lineage = spark.read.format("delta").load(str(platform_env["root"] / "delta" / "platform" / "lineage"))
    row = lineage.where("task_id = 'ingest'").first()
    assert row["status"] == "failed" and "SourceError" in row["error"]
