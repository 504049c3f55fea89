"""Validation with real Great Expectations on Spark: each bad row is quarantined with its reasons."""

from __future__ import annotations

import json

import pytest

from mlplatform.data.ingest import CORRUPT
from mlplatform.data.validation import (
    ValidationOutcome,
    build_suite,
    prepare_for_validation,
    quarantine_frame,
    run_gx,
    table_level_failures,
    validated_frame,
)
from mlplatform.demo.data import COLUMNS

pytestmark = pytest.mark.spark

BRONZE_DDL = ", ".join(f"{c} string" for c in ["_row_id", CORRUPT, *COLUMNS])
GOOD_ROWS = 20


def _good(i: int) -> dict[str, str | None]:
    return {
        "customer_id": f"c{i:03d}",
        "tenure_months": str(1 + i),
        "monthly_charges": f"{20 + i}.5",
        "total_charges": str(100 * (i + 1)),
        "support_calls": str(i % 4),
        "age": str(25 + i),
        "contract": ["Month-to-month", "One year", "Two year"][i % 3],
        "payment_method": "card",
        "internet_service": ["DSL", "Fiber optic", "None"][i % 3],
        "region": "north",
        "churned": str(i % 2),
    }


# row id → (overrides of a good row, corrupt record, the reasons expected)
BAD = {
    "bad:charges": (
        {"monthly_charges": "abc"},
        None,
        {"expect_column_values_to_match_regex(monthly_charges)"},
    ),
    "bad:null_tenure": (
        {"tenure_months": "   "},
        None,
        {"expect_column_values_to_not_be_null(tenure_months)"},
    ),
    "bad:null_contract": ({"contract": None}, None, {"expect_column_values_to_not_be_null(contract)"}),
    "bad:age": ({"age": "150"}, None, {"expect_column_values_to_be_between(age)"}),
    "bad:contract": ({"contract": "Monthly"}, None, {"expect_column_values_to_be_in_set(contract)"}),
    "bad:dup1": ({"customer_id": "dup"}, None, {"expect_column_values_to_be_unique(customer_id)"}),
    "bad:dup2": ({"customer_id": "dup"}, None, {"expect_column_values_to_be_unique(customer_id)"}),
    "bad:corrupt": ({}, 'c,1,"2', {f"expect_column_values_to_be_null({CORRUPT})"}),
    "bad:no_target": ({"churned": ""}, None, {"expect_column_values_to_not_be_null(churned)"}),
    # neither the positive '1' nor the negative '0': rejected, as in late label files, not read as 0
    "bad:target_value": ({"churned": "yes"}, None, {"expect_column_values_to_be_in_set(churned)"}),
}


def _bronze_rows() -> list[dict[str, str | None]]:
    rows = [{"_row_id": f"good:{i}", CORRUPT: None, **_good(i)} for i in range(GOOD_ROWS)]
    for n, (row_id, (overrides, corrupt, _)) in enumerate(BAD.items()):
        base = {**_good(n), "customer_id": f"b{n:03d}"}
        rows.append({"_row_id": row_id, CORRUPT: corrupt, **{**base, **overrides}})
    return rows


@pytest.fixture(scope="module")
def validated(spark, churn_spec):  # type: ignore[no-untyped-def]
    bronze = spark.createDataFrame(_bronze_rows(), BRONZE_DDL)
    prepared = prepare_for_validation(bronze, churn_spec, require_target=True).cache()
    outcome = run_gx(
        prepared,
        churn_spec,
        build_suite(churn_spec, require_target=True),
        suite_name="churn_demo_training",
        gx_project_dir=None,
        run_name="unit",
    )
    return bronze, prepared, outcome


def test_every_bad_row_has_its_reasons(validated) -> None:  # type: ignore[no-untyped-def]
    _, _, outcome = validated
    assert outcome.total_rows == GOOD_ROWS + len(BAD)
    assert {rid: set(reasons) for rid, reasons in outcome.reasons_by_row.items()} == {
        rid: expected for rid, (_, _, expected) in BAD.items()
    }
    assert outcome.bad_rows == len(BAD)
    failed = {o.label: o.unexpected_count for o in outcome.outcomes if not o.success}
    assert failed["expect_column_values_to_be_unique(customer_id)"] == 2
    assert failed["expect_column_values_to_match_regex(monthly_charges)"] == 1
    assert "expect_table_row_count_to_be_between" not in failed
    assert table_level_failures(outcome) == []


def test_validated_frame_holds_each_good_row_once_typed(spark, validated, churn_spec) -> None:  # type: ignore[no-untyped-def]
    bronze, prepared, outcome = validated
    good = validated_frame(spark, prepared, outcome)
    ids = [r["_row_id"] for r in good.select("_row_id").collect()]
    assert sorted(ids) == sorted(f"good:{i}" for i in range(GOOD_ROWS))
    quarantined = quarantine_frame(
        spark, bronze, outcome, model="churn_demo", batch_id="b1", run_id="r1", id_column="customer_id"
    )
    assert good.count() + quarantined.count() == bronze.count()
    types = dict(good.dtypes)
    assert all(types[c] == "double" for c in churn_spec.columns.numeric)
    assert types["contract"] == "string" and types["_label"] == "double"
    assert not [c for c in good.columns if c.endswith("__raw") or c == CORRUPT]
    row = good.where("_row_id = 'good:3'").first()
    assert row["monthly_charges"] == 23.5 and row["tenure_months"] == 4.0 and row["_label"] == 1.0


def test_quarantine_keeps_raw_row_and_reasons(spark, validated) -> None:  # type: ignore[no-untyped-def]
    bronze, _, outcome = validated
    rows = {
        r["row_key"]: r
        for r in quarantine_frame(
            spark, bronze, outcome, model="churn_demo", batch_id="b1", run_id="r1", id_column="customer_id"
        ).collect()
    }
    assert set(rows) == set(BAD)
    charges = rows["bad:charges"]
    assert (charges["model_name"], charges["batch_id"], charges["run_id"]) == ("churn_demo", "b1", "r1")
    assert charges["entity_id"] == json.loads(charges["row_json"])["customer_id"]
    assert charges["reasons"] == ["expect_column_values_to_match_regex(monthly_charges)"]
    payload = json.loads(charges["row_json"])
    assert payload["monthly_charges"] == "abc"  # the raw value, not the failed cast
    assert "_row_id" not in payload
    assert json.loads(rows["bad:corrupt"]["row_json"])[CORRUPT] == 'c,1,"2'


def test_empty_batch_fails_row_count(spark, churn_spec) -> None:  # type: ignore[no-untyped-def]
    bronze = spark.createDataFrame([], BRONZE_DDL)
    prepared = prepare_for_validation(bronze, churn_spec, require_target=False)
    outcome = run_gx(
        prepared,
        churn_spec,
        build_suite(churn_spec, require_target=False),
        suite_name="churn_demo_scoring",
        gx_project_dir=None,
        run_name="unit-empty",
    )
    assert isinstance(outcome, ValidationOutcome) and outcome.total_rows == 0
    failures = table_level_failures(outcome)
    assert len(failures) == 1
    assert failures[0].startswith("expect_table_row_count_to_be_between failed")
    assert "0 rows" in failures[0]
    assert outcome.bad_rows == 0


def test_scoring_suite_does_not_require_target(churn_spec) -> None:  # type: ignore[no-untyped-def]
    def columns(items: list) -> set:  # type: ignore[type-arg]
        return {getattr(i, "column", None) for i in items}

    training = columns(build_suite(churn_spec, require_target=True))
    scoring = columns(build_suite(churn_spec, require_target=False))
    assert "churned" in training and "_label" not in training
    assert not {"churned", "_label"} & scoring
    assert {"customer_id", "tenure_months__raw", "monthly_charges", "contract", CORRUPT} <= scoring
