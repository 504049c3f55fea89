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
    assert scored.columns == [
        "_row_id",
        "entity_id",
        "score",
        "prediction",
        "predicted_label",
        "class_probabilities",
    ]
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


def _booster(objective: str, X: np.ndarray, y: np.ndarray, **params: object) -> tuple[bytes, list[str]]:
    import xgboost as xgb

    names = [f"f_{i}" for i in range(X.shape[1])]
    booster = xgb.train(
        {"objective": objective, "max_depth": 3, "seed": 1, **params},
        xgb.DMatrix(X, label=y, feature_names=names, missing=np.nan),
        num_boost_round=15,
    )
    return bytes(booster.save_raw(raw_format="ubj")), names


def _frame(spark, X: np.ndarray, names: list[str]):  # type: ignore[no-untyped-def]
    rows = [(f"r{i}", f"e{i}", *[float(v) for v in x]) for i, x in enumerate(X)]
    ddl = "_row_id string, entity_id string, " + ", ".join(f"{n} double" for n in names)
    return spark.createDataFrame(rows, ddl).repartition(2)


def test_a_multiclass_model_scores_every_class_and_picks_the_most_probable(spark) -> None:  # type: ignore[no-untyped-def]
    import xgboost as xgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)  # classes 0, 1, 2
    raw, names = _booster("multi:softprob", X, y, num_class=3)
    classes = ["low", "mid", "high"]
    scored = score_frame(
        spark, _frame(spark, X[:50], names), raw, names, 0.5, task="multiclass", classes=classes
    )
    got = {r["_row_id"]: r for r in scored.collect()}
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    expected = booster.inplace_predict(X[:50], missing=np.nan)
    assert expected.shape == (50, 3)
    for i, want in enumerate(expected):
        row = got[f"r{i}"]
        assert [row["class_probabilities"][c] for c in classes] == pytest.approx(list(want), abs=1e-6)
        assert (
            row["prediction"] == int(want.argmax()) and row["predicted_label"] == classes[int(want.argmax())]
        )
        assert row["score"] == pytest.approx(float(want.max()), abs=1e-6)
    assert {r["predicted_label"] for r in got.values()} == set(classes)


def test_a_regression_model_scores_values(spark) -> None:  # type: ignore[no-untyped-def]
    import xgboost as xgb

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    y = 10 * X[:, 0] + rng.normal(size=300)
    raw, names = _booster("reg:squarederror", X, y)
    scored = score_frame(spark, _frame(spark, X[:40], names), raw, names, 0.5, task="regression").collect()
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    expected = booster.inplace_predict(X[:40], missing=np.nan)
    by_row = {r["_row_id"]: r for r in scored}
    for i, want in enumerate(expected):
        assert by_row[f"r{i}"]["score"] == pytest.approx(float(want), abs=1e-5)
        assert by_row[f"r{i}"]["prediction"] is None and by_row[f"r{i}"]["class_probabilities"] is None
    assert max(expected) - min(expected) > 10  # a real spread of values, not a constant
