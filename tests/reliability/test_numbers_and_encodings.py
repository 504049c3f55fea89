"""Values that used to slip through: overflowing numbers and bytes invalid in the source's encoding.

``1e309`` parses to +Infinity and ``NaN`` to NaN: both fail validation with the column named,
however they are spelled, unless the spec lists the column in ``validation.allow_non_finite``.
A line with bytes invalid in the declared encoding is quarantined with its raw bytes (base64),
never rewritten with replacement characters; a declared ``latin-1`` source reads correctly.
Every case accounts for its rows: rows in = validated + quarantined, none lost or duplicated.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import PROJECT_ROOT

pytestmark = pytest.mark.spark

MODEL = "churn_demo"
DS = "2026-11-10"
HEADER = (
    "customer_id,tenure_months,monthly_charges,total_charges,support_calls,age,"
    "contract,payment_method,internet_service,region,churned"
)


def _row(
    i: int, *, charges: str = "70.5", total: str = "846.0", region: str = "north", cid: str | None = None
) -> str:
    return f"{cid or f'C{i:04d}'},12,{charges},{total},1,40,Month-to-month,card,DSL,{region},0"


@pytest.fixture()
def lake(spark, tmp_path: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from mlplatform.config.settings import Settings

    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    raw = yaml.safe_load((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())
    raw["validation"]["max_bad_row_fraction"] = 0.5
    root = tmp_path / "lake"
    return {
        "raw": raw,
        "spec_file": spec_dir / f"{MODEL}.yaml",
        "settings": Settings(storage_root=str(root), spec_dir=spec_dir),
        "batch_file": root / "landing" / MODEL / "batches" / f"{DS}.csv",
    }


def _run(spark, lake: dict[str, Any], body: bytes, **spec_changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Write the spec and the batch, run ingest and validate; the tables' rows for the batch."""
    from mlplatform.core.context import RunContext
    from mlplatform.io.layout import StorageLayout, scoring_batch_id
    from mlplatform.lifecycle.runner import run_step

    raw = copy.deepcopy(lake["raw"])
    for section, values in spec_changes.items():
        raw[section] = {**raw.get(section, {}), **values}
    lake["spec_file"].write_text(yaml.safe_dump(raw, sort_keys=False))
    lake["batch_file"].parent.mkdir(parents=True, exist_ok=True)
    lake["batch_file"].write_bytes(body)
    ctx = RunContext("scheduled__t", f"{MODEL}_scoring", "ingest", datetime(2026, 11, 10, tzinfo=UTC))
    batch = run_step("ingest", MODEL, ctx, settings=lake["settings"], mode="scoring")
    result = run_step("validate", MODEL, ctx.for_task("validate"), settings=lake["settings"], batch=batch)
    layout, batch_id = StorageLayout(lake["settings"].storage_root), scoring_batch_id(DS)

    def rows(path: str, where: str) -> list[Any]:
        return spark.read.format("delta").load(path).where(where).collect()

    return {
        "result": result,
        "validated": rows(layout.model_table(MODEL, "validated"), f"_batch_id = '{batch_id}'"),
        "quarantine": rows(
            layout.platform_table("quarantine"), f"model_name = '{MODEL}' AND batch_id = '{batch_id}'"
        ),
        "bronze": rows(layout.model_table(MODEL, "bronze"), f"_batch_id = '{batch_id}'"),
    }


def _accounting(out: dict[str, Any], rows_in: int) -> None:
    validated = [r["_row_id"] for r in out["validated"]]
    quarantined = [r["row_key"] for r in out["quarantine"]]
    assert len(validated) + len(quarantined) == rows_in, "a row was lost or duplicated"
    assert len(set(validated)) == len(validated) and len(set(quarantined)) == len(quarantined)
    assert not set(validated) & set(quarantined)
    assert len(out["bronze"]) == rows_in


@pytest.mark.parametrize("spelling", ["1e309", "-1e309", "inf", "-Infinity", "NaN"])
def test_non_finite_numbers_are_quarantined_naming_the_column(spark, lake, spelling: str) -> None:  # type: ignore[no-untyped-def]
    lines = [HEADER, *[_row(i) for i in range(20)], _row(99, charges=spelling)]
    out = _run(spark, lake, ("\n".join(lines) + "\n").encode())
    _accounting(out, 21)
    assert [r["entity_id"] for r in out["quarantine"]] == ["C0099"]
    reasons = out["quarantine"][0]["reasons"]
    assert any("monthly_charges" in r for r in reasons), reasons
    if spelling.lower().lstrip("+-").startswith("1e"):
        assert "expect_column_values_to_be_finite(monthly_charges)" in reasons
    finite = [v["monthly_charges"] for v in out["validated"]]
    assert all(abs(x) < 1e300 for x in finite)


def test_allow_non_finite_makes_them_missing_values(spark, lake) -> None:  # type: ignore[no-untyped-def]
    lines = [HEADER, *[_row(i) for i in range(20)], _row(98, total="1e309"), _row(99, total="NaN")]
    out = _run(
        spark, lake, ("\n".join(lines) + "\n").encode(), validation={"allow_non_finite": ["total_charges"]}
    )
    _accounting(out, 22)
    assert out["quarantine"] == []
    by_id = {r["customer_id"]: r["total_charges"] for r in out["validated"]}
    assert by_id["C0098"] is None and by_id["C0099"] is None and by_id["C0001"] == 846.0


def test_allow_non_finite_names_only_numeric_columns(tmp_path: Path) -> None:
    from mlplatform.config.specs import SpecError, load_spec

    raw = yaml.safe_load((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())
    raw["validation"]["allow_non_finite"] = ["contract"]
    path = tmp_path / f"{MODEL}.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match="validation.allow_non_finite.*contract"):
        load_spec(path)


def test_bytes_invalid_in_utf8_are_quarantined_with_their_raw_bytes(spark, lake) -> None:  # type: ignore[no-untyped-def]
    bad_category = _row(97, region="M\xfcnchen").encode("latin-1")
    bad_id = _row(98, cid="C\xe90098").encode("latin-1")
    good_accent = _row(99, region="Zürich").encode("utf-8")
    lines = [HEADER.encode(), *[_row(i).encode() for i in range(20)], bad_category, bad_id, good_accent]
    out = _run(spark, lake, b"\n".join(lines) + b"\n")
    _accounting(out, 23)
    assert len(out["quarantine"]) == 2
    kept = set()
    for row in out["quarantine"]:
        assert "expect_column_values_to_be_null(_invalid_encoding)" in row["reasons"]
        corrupt = json.loads(row["row_json"])["_corrupt_record"]
        assert corrupt.startswith("[undecodable bytes, base64] ")
        kept.add(base64.b64decode(corrupt.split("] ", 1)[1]))
    assert kept == {bad_category, bad_id}, "the raw bytes must be kept exactly"
    regions = {r["customer_id"]: r["region"] for r in out["validated"]}
    assert regions["C0099"] == "Zürich"
    assert not any("\ufffd" in str(v) for r in out["validated"] for v in r.asDict().values())


def test_a_declared_latin1_source_reads_correctly(spark, lake) -> None:  # type: ignore[no-untyped-def]
    lines = [HEADER, *[_row(i) for i in range(20)], _row(99, region="München")]
    body = ("\n".join(lines) + "\n").encode("latin-1")
    source = {**lake["raw"]["source"]["scoring"], "encoding": "latin-1"}
    out = _run(spark, lake, body, source={"scoring": source})
    _accounting(out, 21)
    assert out["quarantine"] == []
    assert {r["customer_id"]: r["region"] for r in out["validated"]}["C0099"] == "München"


def test_an_overflow_in_a_column_without_an_upper_bound_is_quarantined(spark, lake) -> None:  # type: ignore[no-untyped-def]
    """``total_charges`` only has ``min: 0``: no range check would catch +Infinity."""
    lines = [HEADER, *[_row(i) for i in range(20)], _row(99, total="1e309")]
    out = _run(spark, lake, ("\n".join(lines) + "\n").encode())
    _accounting(out, 21)
    assert [(r["entity_id"], r["reasons"]) for r in out["quarantine"]] == [
        ("C0099", ["expect_column_values_to_be_finite(total_charges)"])
    ]
