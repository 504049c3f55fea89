"""Ingest: bronze keeps every line (malformed ones flagged), reports extras, and reruns replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlplatform.data.ingest import CORRUPT, SourceError, ingest_to_bronze, read_batch

pytestmark = pytest.mark.spark

GOOD = ["12", "50.5", "600", "2", "40", "One year", "card", "DSL", "north", "0"]


def _csv(tmp_path: Path, header: list[str], lines: list[str], name: str = "batch.csv") -> str:
    path = tmp_path / name
    path.write_text("\n".join([",".join(header), *lines]) + "\n")
    return str(path)


def _line(cid: str, *, extra: str | None = None) -> str:
    return ",".join([cid, *GOOD, *([extra] if extra is not None else [])])


@pytest.fixture()
def messy_csv(tmp_path: Path, churn_spec) -> str:  # type: ignore[no-untyped-def]
    """Declared columns plus an undeclared ``notes`` column, with three malformed lines."""
    header = [*churn_spec.columns.raw_columns, "notes"]
    lines = [
        _line("c1", extra="ok"),
        _line("c2", extra="ok") + ",SURPLUS",  # too many fields
        'c3,12,"50.5,600,2,40,One year,card,DSL,north,0,ok',  # unbalanced quote
        _line("c4", extra="ok"),
        "c5,12,50.5",  # too few fields
        _line("c6", extra=""),
    ]
    return _csv(tmp_path, header, lines)


def _bronze(spark, storage_root: str) -> str:  # type: ignore[no-untyped-def]
    return f"{storage_root}/delta/models/churn_demo/bronze"


def test_bronze_keeps_all_rows_and_flags_malformed(spark, churn_spec, storage_root, messy_csv) -> None:  # type: ignore[no-untyped-def]
    bronze_uri = _bronze(spark, storage_root)
    out = ingest_to_bronze(
        spark, churn_spec, churn_spec.source.training, messy_csv, bronze_uri, "b1", require_target=True
    )
    assert out["rows"] == 6
    assert out["extra_columns"] == ["notes"]
    assert out["source_uri"] == messy_csv
    rows = {r["customer_id"]: r for r in read_batch(spark, bronze_uri, "b1").collect()}
    assert set(rows) == {"c1", "c2", "c3", "c4", "c5", "c6"}
    flagged = {cid for cid, r in rows.items() if r[CORRUPT] is not None}
    assert flagged == {"c2", "c3", "c5"}
    assert rows["c2"][CORRUPT].endswith("SURPLUS")
    # good lines keep their values as strings, exactly as read
    assert rows["c1"]["monthly_charges"] == "50.5" and rows["c1"]["contract"] == "One year"
    assert rows["c1"]["_batch_id"] == "b1" and rows["c1"]["_source_file"].endswith("batch.csv")
    assert len({r["_row_id"] for r in rows.values()}) == 6
    assert all(r["_row_id"].startswith("b1:") for r in rows.values())
    schema = dict(spark.read.format("delta").load(bronze_uri).dtypes)
    assert all(schema[c] == "string" for c in churn_spec.columns.raw_columns)
    assert "notes" not in schema


def test_rerun_same_batch_is_idempotent(spark, churn_spec, storage_root, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bronze_uri = _bronze(spark, storage_root)
    header = churn_spec.columns.raw_columns
    first = _csv(tmp_path, header, [_line(f"c{i}") for i in range(5)], "one.csv")
    second = _csv(tmp_path, header, [_line(f"d{i}") for i in range(3)], "two.csv")
    source = churn_spec.source.training
    for _ in range(2):
        ingest_to_bronze(spark, churn_spec, source, first, bronze_uri, "b1", require_target=True)
    assert read_batch(spark, bronze_uri, "b1").count() == 5
    ingest_to_bronze(spark, churn_spec, source, second, bronze_uri, "b2", require_target=True)
    ingest_to_bronze(spark, churn_spec, source, second, bronze_uri, "b1", require_target=True)
    assert read_batch(spark, bronze_uri, "b1").count() == 3  # replaced, not appended
    assert read_batch(spark, bronze_uri, "b2").count() == 3  # other batches untouched
    assert spark.read.format("delta").load(bronze_uri).count() == 6


def test_missing_declared_column(spark, churn_spec, storage_root, tmp_path) -> None:  # type: ignore[no-untyped-def]
    header = [c for c in churn_spec.columns.raw_columns if c != "monthly_charges"]
    lines = [",".join(["c1", *[v for v in GOOD if v != "50.5"]])]
    uri = _csv(tmp_path, header, lines)
    with pytest.raises(SourceError) as info:
        ingest_to_bronze(
            spark,
            churn_spec,
            churn_spec.source.scoring,
            uri,
            _bronze(spark, storage_root),
            "s",
            require_target=False,
        )
    assert uri in str(info.value) and "monthly_charges" in str(info.value)


def test_scoring_file_may_lack_the_target(spark, churn_spec, storage_root, tmp_path) -> None:  # type: ignore[no-untyped-def]
    header = [c for c in churn_spec.columns.raw_columns if c != "churned"]
    uri = _csv(tmp_path, header, [",".join(["c1", *GOOD[:-1]])])
    source = churn_spec.source.scoring
    bronze_uri = _bronze(spark, storage_root)
    out = ingest_to_bronze(spark, churn_spec, source, uri, bronze_uri, "score__x", require_target=False)
    assert out["rows"] == 1 and out["extra_columns"] == []
    row = read_batch(spark, bronze_uri, "score__x").first()
    assert row["churned"] is None and row[CORRUPT] is None and row["region"] == "north"
    with pytest.raises(SourceError, match="churned"):
        ingest_to_bronze(spark, churn_spec, source, uri, bronze_uri, "train__x", require_target=True)


def test_missing_file(spark, churn_spec, storage_root, tmp_path) -> None:  # type: ignore[no-untyped-def]
    uri = str(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match="cannot read source file .*nope.csv"):
        ingest_to_bronze(
            spark,
            churn_spec,
            churn_spec.source.training,
            uri,
            _bronze(spark, storage_root),
            "b",
            require_target=True,
        )
