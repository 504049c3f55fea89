"""Data without ids, with sentinels, copies, renamed columns, symbolic categories and derived
values outside their op's domain: read, counted, keyed and split as the spec says (real Spark,
Delta and GX)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import functions as F

from mlplatform.config.specs import ModelSpec
from mlplatform.data.ingest import CORRUPT, SourceError, ingest_to_bronze, read_batch
from mlplatform.data.labels import LabelsError, read_labels
from mlplatform.data.row_keys import CONTENT_KEY, holdout_copies
from mlplatform.data.validation import (
    build_suite,
    prepare_for_validation,
    quarantine_frame,
    run_gx,
    summarise,
    table_level_failures,
    validated_frame,
)
from mlplatform.features.engineering import apply_features, fit_feature_state, split_column

pytestmark = pytest.mark.spark

RAW = ["ref", "amount", "pdays", "savings", "job", "bad"]
DDL = ", ".join(f"{c} string" for c in ["_row_id", CORRUPT, *RAW])


def _spec(**overrides: Any) -> ModelSpec:
    raw: dict[str, Any] = {
        "name": "credit_messy",
        "source": {
            "training": {"path": "a.csv", "options": {"header": "true"}},
            "scoring": {"path": "b.csv", "options": {"header": "true"}},
        },
        "columns": {
            "target": "bad",
            "numeric": ["amount", "pdays"],
            "categorical": ["savings", "job"],
            "missing_values": {"pdays": [-1], "job": ["unknown"]},
        },
        "features": {
            "derived": [
                {"name": "log_amount", "op": "log1p", "inputs": ["amount"]},
                {"name": "amount_per_day", "op": "ratio", "inputs": ["amount", "pdays"]},
                {"name": "log_per_day", "op": "log1p", "inputs": ["amount_per_day"]},
            ]
        },
        "labels": {"source": {"path": "l.csv", "options": {"header": "true"}}},
    }
    for section, values in overrides.items():
        raw[section] = {**raw.get(section, {}), **values}
    return ModelSpec.model_validate(raw)


def _row(
    rid: str, amount: str, pdays: str, savings: str, job: str, bad: str = "0", ref: str | None = None
) -> dict[str, Any]:
    values = {"amount": amount, "pdays": pdays, "savings": savings, "job": job, "bad": bad}
    return {"_row_id": rid, CORRUPT: None, "ref": ref, **values}


ROWS = [
    _row("b:0", "100", "-1", "'<100'", "unknown"),
    _row("b:1", "100", " -1.0 ", "'<100'", " unknown "),  # the same row: sentinels and spaces
    _row("b:2", "100", "-1", "'<100'", "unknown", bad="1"),  # the same content, another label
    _row("b:3", "-5", "10", "'100<=X<500'", "Unknown"),  # log1p(-5) is out of domain; 'Unknown' is a job
    _row("b:4", "50", "0", "other", "clerk"),  # ratio by 0 is out of domain
    _row("b:5", "50", "5", ">=1000", "clerk"),
    _row("b:6", "70", "-1", "other", "unknown"),
]


def _validate(spark, spec: ModelSpec, rows: list[dict[str, Any]] = ROWS):  # type: ignore[no-untyped-def]
    bronze = spark.createDataFrame(rows, DDL)
    prepared = prepare_for_validation(bronze, spec, require_target=True).cache()
    outcome = run_gx(
        prepared,
        spec,
        build_suite(spec, require_target=True),
        suite_name="m",
        gx_project_dir=None,
        run_name="t",
    )
    return bronze, prepared, outcome


def _result(outcome, expectation: str, column: str | None = None):  # type: ignore[no-untyped-def]
    return next(o for o in outcome.outcomes if o.expectation == expectation and o.column == column)


def test_sentinels_are_null_counted_and_not_imputed(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(validation={"duplicate_keys": "keep"})
    _, prepared, outcome = _validate(spark, spec)
    assert _result(outcome, "missing_value_sentinels", "pdays").unexpected_count == 4
    assert _result(outcome, "missing_value_sentinels", "job").unexpected_count == 4  # not 'Unknown'
    assert _result(outcome, "missing_value_sentinels", "pdays").success
    good = validated_frame(spark, prepared, outcome)
    values = {r["_row_id"]: (r["pdays"], r["job"]) for r in good.collect()}
    assert values["b:1"] == (None, None) and values["b:3"] == (10.0, "Unknown")
    assert summarise(outcome)["missing_values"] == {"pdays": 4, "job": 4}
    # pdays is -1 on most rows: the median of the values left is imputed, never -1
    state = fit_feature_state(good, spec)
    assert state["impute"]["pdays"] == 5.0


def test_rows_without_id_are_keyed_by_content(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(validation={"duplicate_keys": "keep"})
    _, prepared, outcome = _validate(spark, spec)
    keys = {r["_row_id"]: r[CONTENT_KEY] for r in validated_frame(spark, prepared, outcome).collect()}
    assert keys["b:0"] == keys["b:1"] == keys["b:2"]  # same text once sentinels and spaces are read
    assert len(set(keys.values())) == 5 and all(len(k) == 64 for k in keys.values())
    dup = _result(outcome, "duplicate_rows")
    assert dup.unexpected_count == 2 and dup.success and not dup.row_ids  # keep: counted, all kept
    assert outcome.bad_rows == 0


def test_duplicate_policy_fail_and_quarantine(spark) -> None:  # type: ignore[no-untyped-def]
    _, _, failed = _validate(spark, _spec())
    spec = _spec()
    problems = table_level_failures(failed, spec)
    assert any("2 rows are exact copies" in p and "duplicate_keys is 'fail'" in p for p in problems)
    quarantine = _spec(validation={"duplicate_keys": "quarantine"})
    bronze, prepared, outcome = _validate(spark, quarantine)
    assert table_level_failures(outcome, quarantine) == []
    assert set(outcome.reasons_by_row) == {"b:1", "b:2"}  # the first of the key stays
    assert outcome.reasons_by_row["b:1"][0].startswith("duplicate_rows: exact copy of an earlier row")
    good = validated_frame(spark, prepared, outcome)
    rows = quarantine_frame(
        spark, bronze, outcome, model="m", batch_id="b", run_id="r", id_column=quarantine.columns.id
    ).collect()
    keys = {r["_row_id"]: r[CONTENT_KEY] for r in good.collect()}
    assert {r["entity_id"] for r in rows} == {keys["b:0"]}  # the quarantine names the row's key
    assert good.count() + len(rows) == bronze.count()


def test_out_of_domain_values_are_counted_and_null(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(validation={"duplicate_keys": "keep"})
    _, prepared, outcome = _validate(spark, spec)
    counts = summarise(outcome)["derived_out_of_domain"]
    assert counts == {"log_amount": 1, "amount_per_day": 1, "log_per_day": 1}  # b:3 through the ratio
    log_amount = _result(outcome, "derived_out_of_domain", "log_amount")
    assert log_amount.success and log_amount.note == "log1p(amount) needs amount >= 0"
    good = validated_frame(spark, prepared, outcome)
    state = fit_feature_state(good, spec)
    feats = {r["_row_id"]: r for r in apply_features(good, spec, state, with_split=False).collect()}
    assert math.isnan(feats["b:3"]["log_amount"]) and math.isnan(feats["b:4"]["amount_per_day"])
    assert feats["b:5"]["log_amount"] == pytest.approx(math.log1p(50.0))
    assert feats["b:5"]["log_per_day"] == pytest.approx(math.log1p(10.0))
    assert feats["b:0"]["entity_id"] == good.where("_row_id = 'b:0'").first()[CONTENT_KEY]


def test_out_of_domain_quarantine_names_feature_op_and_input(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(
        validation={"duplicate_keys": "keep"},
        features={
            "derived": [
                {"name": "log_amount", "op": "log1p", "inputs": ["amount"], "out_of_domain": "quarantine"}
            ]
        },
    )
    _, _, outcome = _validate(spark, spec)
    assert outcome.reasons_by_row == {
        "b:3": ["derived_out_of_domain(log_amount): log1p(amount) needs amount >= 0"]
    }
    assert not _result(outcome, "derived_out_of_domain", "log_amount").success


def test_content_split_keeps_copies_together(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(validation={"duplicate_keys": "keep"})
    rows = [_row(f"b:{i}", str(i % 40), str(i % 7), "other", "clerk") for i in range(400)]
    _, prepared, outcome = _validate(spark, spec, rows)
    split = validated_frame(spark, prepared, outcome).withColumn("_split", split_column(spec))
    sides = split.groupBy(CONTENT_KEY).agg(F.countDistinct("_split").alias("n")).collect()
    assert len(sides) == 280 and all(r["n"] == 1 for r in sides)  # 280 distinct contents, one side each
    assert split.where("_split = 'holdout'").count() > 0
    assert holdout_copies(split, spec) == 0
    # with ids, copies of one content under different ids may cross the split, and are counted
    with_id = _spec(columns={"id": "ref"}, validation={"duplicate_keys": "keep"})
    rows = [{**r, "ref": f"r{i}"} for i, r in enumerate(rows)]
    _, prepared, outcome = _validate(spark, with_id, rows)
    by_id = validated_frame(spark, prepared, outcome).withColumn("_split", split_column(with_id))
    assert _result(outcome, "duplicate_rows").unexpected_count == 0  # ids differ: no exact copies
    got = [(r["amount"], r["pdays"], r["_split"]) for r in by_id.collect()]
    train = {(a, p) for a, p, side in got if side == "train"}
    expected = sum(1 for a, p, side in got if side == "holdout" and (a, p) in train)
    assert expected > 0 and holdout_copies(by_id, with_id) == expected


def test_labels_without_ids_join_on_the_content_key(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(columns={"rename": {"Credit Amount": "amount"}}, validation={"duplicate_keys": "keep"})
    _, prepared, outcome = _validate(spark, spec)
    keys = {r["_row_id"]: r[CONTENT_KEY] for r in validated_frame(spark, prepared, outcome).collect()}
    path = tmp_path / "labels.csv"
    path.write_text("Credit Amount,pdays,savings,job,bad\n100,-1.0,'<100',unknown,1\n50, 5 ,>=1000,clerk,0\n")
    good, bad = read_labels(spark, spec, str(path), "2026-01-02")
    assert sorted((r["entity_id"], r["label"]) for r in good.collect()) == sorted(
        [(keys["b:0"], 1.0), (keys["b:5"], 0.0)]
    )
    assert bad.count() == 0
    thin = tmp_path / "thin.csv"
    thin.write_text("pdays,bad\n1,1\n")
    with pytest.raises(LabelsError, match=r"thin.csv.*'Credit Amount' \(spec column 'amount'\).*'savings'"):
        read_labels(spark, spec, str(thin), "2026-01-02")


def test_rename_and_exact_category_text_at_ingest(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(columns={"rename": {"Credit Amount": "amount"}})
    path = tmp_path / "train.csv"
    path.write_text(
        "Credit Amount,pdays,savings,job,bad,note\n"
        "100,-1,'<100',unknown,0,x\n"
        '200,3,\'1<=X<4\',"chef, head",1,"said ""hi"""\n'
        "300,4,'>=7',other,0,\n"
    )
    bronze_uri = str(tmp_path / "bronze")
    out = ingest_to_bronze(
        spark, spec, spec.source.training, str(path), bronze_uri, "t1", require_target=True
    )
    assert out["renamed"] == {"Credit Amount": "amount"} and out["extra_columns"] == ["note"]
    rows = read_batch(spark, bronze_uri, "t1").orderBy("amount").collect()
    assert [r["amount"] for r in rows] == ["100", "200", "300"]
    assert [r["savings"] for r in rows] == ["'<100'", "'1<=X<4'", "'>=7'"]
    assert [r["job"] for r in rows] == ["unknown", "chef, head", "other"]
    assert all(r[CORRUPT] is None for r in rows)
    missing = tmp_path / "missing.csv"
    missing.write_text("amount,pdays,savings,job,bad\n1,2,a,b,0\n")
    with pytest.raises(
        SourceError, match=r"missing.csv.*'Credit Amount' \(spec column 'amount', columns.rename\)"
    ):
        ingest_to_bronze(
            spark, spec, spec.source.training, str(missing), bronze_uri, "t2", require_target=True
        )
    assert json.loads(json.dumps(out["renamed"])) == out["renamed"]
