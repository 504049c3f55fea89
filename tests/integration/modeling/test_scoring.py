"""Batch scoring on Spark equals the booster's own predictions on the same rows."""

from __future__ import annotations

import numpy as np
import pytest

from mlplatform.modeling.scoring import score_frame

pytestmark = pytest.mark.spark

THRESHOLD = 0.5


@pytest.fixture(scope="module")
def features(spark, tiny_booster):  # type: ignore[no-untyped-def]
    names = tiny_booster.feature_names
    rows = [(f"r{i}", f"e{i}", *[float(v) for v in x]) for i, x in enumerate(tiny_booster.X[:60])]
    ddl = "_row_id string, entity_id string, " + ", ".join(f"{n} double" for n in names)
    return spark.createDataFrame(rows, ddl).repartition(3)


def test_scores_equal_inplace_predict(spark, features, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    scored = score_frame(spark, features, tiny_booster.raw, tiny_booster.feature_names, THRESHOLD)
    assert scored.columns == ["_row_id", "entity_id", "score", "prediction"]
    got = {r["_row_id"]: r for r in scored.collect()}
    assert len(got) == 60
    X = tiny_booster.X[:60]
    assert np.isnan(X).any()  # missing values go through the same path
    expected = tiny_booster.booster().inplace_predict(X, missing=np.nan)
    assert len(set(np.round(expected, 6))) > 2  # not a constant model
    for i, want in enumerate(expected):
        row = got[f"r{i}"]
        assert row["entity_id"] == f"e{i}"
        assert row["score"] == pytest.approx(float(want), abs=1e-6)
        assert row["prediction"] == int(want >= THRESHOLD)
    assert {r["prediction"] for r in got.values()} == {0, 1}


def test_feature_order_comes_from_the_names_not_the_frame(spark, features, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    names = tiny_booster.feature_names
    reordered = features.select("entity_id", *reversed(names), "_row_id")
    a = {
        r["_row_id"]: r["score"] for r in score_frame(spark, features, tiny_booster.raw, names, 0.5).collect()
    }
    b = {
        r["_row_id"]: r["score"]
        for r in score_frame(spark, reordered, tiny_booster.raw, names, 0.5).collect()
    }
    assert a == b


def test_empty_frame_scores_nothing(spark, features, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    empty = features.limit(0)
    assert score_frame(spark, empty, tiny_booster.raw, tiny_booster.feature_names, 0.5).count() == 0


def test_missing_feature_column(spark, features, tiny_booster) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="f_b"):
        score_frame(spark, features.drop("f_b"), tiny_booster.raw, tiny_booster.feature_names, 0.5)
