"""Feature engineering: state learned from train rows only, identical features wherever applied."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from mlplatform.features.engineering import apply_features, fit_feature_state, split_column

pytestmark = pytest.mark.spark

DDL = (
    "_row_id string, customer_id string, tenure_months double, monthly_charges double, "
    "total_charges double, support_calls double, age double, contract string, payment_method string, "
    "internet_service string, region string, churned string, _label double"
)

# (id, tenure, monthly, total, support_calls, age, contract, payment, internet, region)
TRAIN = [
    ("t0", 1.0, 10.0, 10.0, 0.0, 20.0, "Month-to-month", "card", "DSL", "north"),
    ("t1", 2.0, 20.0, 40.0, 1.0, 30.0, "Month-to-month", "card", "DSL", "north"),
    ("t2", 3.0, 30.0, 90.0, 2.0, 40.0, "Month-to-month", "bank", "Fiber optic", "south"),
    ("t3", 4.0, 40.0, 160.0, 3.0, 50.0, "One year", "bank", "Fiber optic", "south"),
    ("t4", 5.0, 50.0, 250.0, 20.0, 60.0, "One year", "card", None, "east"),
    ("t5", None, None, None, None, None, None, "card", "DSL", "north"),
]
# Rows never seen when fitting: extreme numbers and categories absent from the train rows.
OTHER = [
    ("h0", 1000.0, 900.0, 5000.0, 99.0, 99.0, "Two year", "crypto", "None", "west"),
    ("h1", 0.0, 30.0, 100.0, 5.0, 33.0, None, "card", "DSL", "north"),
    ("h2", None, 35.0, 0.0, 1.0, None, "One year", None, "DSL", "north"),
]


def _rows(data: list[tuple], prefix: str) -> list[tuple]:
    return [(f"{prefix}:{i}", r[0], *r[1:], "0", 0.0) for i, r in enumerate(data)]


@pytest.fixture(scope="module")
def frames(spark):  # type: ignore[no-untyped-def]
    train = spark.createDataFrame(_rows(TRAIN, "tr"), DDL)
    other = spark.createDataFrame(_rows(OTHER, "ot"), DDL)
    return train, other, train.unionByName(other)


@pytest.fixture(scope="module")
def state(frames, churn_spec) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return fit_feature_state(frames[0], churn_spec)


def _by_id(df, spec) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    return {r["entity_id"]: {f: r[f] for f in spec.model_features} for r in df.collect()}


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_state_learned_from_train_rows_only(state: dict[str, Any], churn_spec) -> None:  # type: ignore[no-untyped-def]
    assert state["impute"] == {
        "tenure_months": 3.0,
        "monthly_charges": 30.0,
        "total_charges": 90.0,
        "support_calls": 2.0,
        "age": 40.0,
    }
    assert state["vocabulary"]["contract"] == ["Month-to-month", "One year"]  # by count, then name
    assert state["vocabulary"]["payment_method"] == ["card", "bank"]
    assert state["vocabulary"]["internet_service"] == ["DSL", "Fiber optic"]  # null is not a category
    assert state["vocabulary"]["region"] == ["north", "south", "east"]
    assert state["feature_names"] == churn_spec.model_features
    assert state["spec_hash"] == churn_spec.content_hash


def test_feature_values(frames, state, churn_spec) -> None:  # type: ignore[no-untyped-def]
    feats = _by_id(apply_features(frames[2], churn_spec, state, with_split=False), churn_spec)
    t1, t4, t5 = feats["t1"], feats["t4"], feats["t5"]
    assert t1["tenure_months"] == 2.0 and t1["charges_per_tenure"] == 20.0
    assert t1["log_total_charges"] == pytest.approx(math.log1p(40.0))
    assert t4["support_calls_capped"] == 15.0  # clipped at upper
    # missing numerics are imputed with the train medians before derived features are computed
    assert (t5["tenure_months"], t5["total_charges"], t5["age"]) == (3.0, 90.0, 40.0)
    assert t5["charges_per_tenure"] == 30.0
    assert math.isnan(t5["contract"])  # null categorical stays missing
    assert t1["contract"] == 0.0 and feats["t3"]["contract"] == 1.0
    h0, h1, h2 = feats["h0"], feats["h1"], feats["h2"]
    assert h0["contract"] == 2.0  # unseen category → len(vocab)
    assert h0["payment_method"] == 2.0 and h0["region"] == 3.0 and h0["internet_service"] == 2.0
    assert math.isnan(h1["charges_per_tenure"])  # ratio with a zero denominator
    assert math.isnan(h1["contract"]) and math.isnan(h2["payment_method"])
    assert h2["tenure_months"] == 3.0 and h2["charges_per_tenure"] == 0.0
    assert h2["log_total_charges"] == 0.0


def test_no_train_serve_skew(frames, state, churn_spec) -> None:  # type: ignore[no-untyped-def]
    """The same rows get the same features in the training frame, alone, and with a JSON-stored state."""
    train_frame = _by_id(apply_features(frames[2], churn_spec, state, with_split=True), churn_spec)
    stored = json.loads(json.dumps(state, sort_keys=True, allow_nan=False))
    alone = _by_id(apply_features(frames[1], churn_spec, stored, with_split=False), churn_spec)
    assert set(alone) == {"h0", "h1", "h2"}
    for entity, values in alone.items():
        for name in churn_spec.model_features:
            assert _same(values[name], train_frame[entity][name]), (entity, name)


def test_output_columns(frames, state, churn_spec) -> None:  # type: ignore[no-untyped-def]
    out = apply_features(frames[0], churn_spec, state, with_split=True)
    assert out.columns == ["_row_id", "entity_id", "label", "split", *churn_spec.model_features]
    assert all(t == "double" for c, t in out.dtypes if c in churn_spec.model_features)
    scoring = apply_features(frames[0].drop("_label"), churn_spec, state, with_split=False)
    assert scoring.columns == ["_row_id", "entity_id", *churn_spec.model_features]


def test_state_for_other_features_is_refused(frames, state, churn_spec) -> None:  # type: ignore[no-untyped-def]
    stale = {**state, "feature_names": churn_spec.model_features[:-1]}
    with pytest.raises(ValueError, match="retrain"):
        apply_features(frames[0], churn_spec, stale, with_split=False)


def test_split_is_deterministic_and_near_holdout_fraction(spark, churn_spec) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    ids = spark.range(4000).select(F.concat(F.lit("cust-"), F.col("id").cast("string")).alias("customer_id"))
    first = {
        r["customer_id"]: r["s"]
        for r in ids.select("customer_id", split_column(churn_spec).alias("s")).collect()
    }
    shuffled = ids.orderBy(F.rand(3)).repartition(3)
    second = {
        r["customer_id"]: r["s"]
        for r in shuffled.select("customer_id", split_column(churn_spec).alias("s")).collect()
    }
    assert first == second
    subset = ids.where(F.col("customer_id").endswith("7"))
    for r in subset.select("customer_id", split_column(churn_spec).alias("s")).collect():
        assert first[r["customer_id"]] == r["s"]
    holdout = sum(1 for s in first.values() if s == "holdout") / len(first)
    assert set(first.values()) == {"train", "holdout"}
    assert abs(holdout - churn_spec.training.holdout_fraction) < 0.03
    reseeded = churn_spec.model_copy(update={"training": churn_spec.training.model_copy(update={"seed": 7})})
    third = {
        r["customer_id"]: r["s"]
        for r in ids.select("customer_id", split_column(reseeded).alias("s")).collect()
    }
    assert third != first  # the seed matters
