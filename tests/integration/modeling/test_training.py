"""Training: one parameter mapping and one artifact format for the single-node and Spark paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mlplatform.config.settings import Settings
from mlplatform.config.specs import ModelSpec
from mlplatform.modeling.booster import load_booster, predict_scores
from mlplatform.modeling.training import (
    DISTRIBUTED,
    SINGLE_NODE,
    native_params,
    train_model,
)


def _with_training(spec: ModelSpec, **training: Any) -> ModelSpec:
    data = spec.model_dump()
    data["training"] = {**data["training"], **training}
    return ModelSpec.model_validate(data)


# --- parameter mapping --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def churn_features(spark, churn_spec):  # type: ignore[no-untyped-def]
    """3,000 demo customers as model features: the train split (Spark) and the holdout (pandas)."""
    from pyspark.sql import functions as F

    from mlplatform.demo.data import generate_customers
    from mlplatform.features import engineering as fe

    spec = churn_spec
    raw = spark.createDataFrame(generate_customers(3000, seed=11, bad_row_fraction=0.0))
    validated = raw.select(
        F.monotonically_increasing_id().cast("string").alias("_row_id"),
        "customer_id",
        *[F.col(c).cast("double").alias(c) for c in spec.columns.numeric],
        *spec.columns.categorical,
        F.col("churned").cast("double").alias("_label"),
    )
    state = fe.fit_feature_state(validated.where(fe.split_column(spec) == "train"), spec)
    features = fe.apply_features(validated, spec, state, with_split=True).cache()
    names = fe.output_feature_names(state)
    train = features.where(F.col("split") == "train")
    holdout = features.where(F.col("split") == "holdout").toPandas()
    yield train, holdout, names, train.count()
    features.unpersist()


@pytest.mark.spark
def test_single_node_and_distributed_agree(churn_spec, churn_features) -> None:  # type: ignore[no-untyped-def]
    train, holdout, names, rows = churn_features
    results, aucs = {}, {}
    # The threshold is inclusive: at the split's size it trains on the driver, one below on Spark.
    for threshold in (rows, rows - 1):
        r = train_model(train, churn_spec, Settings(single_node_max_rows=threshold, xgb_num_workers=2), names)
        booster = load_booster(r.booster_raw)
        assert booster.feature_names == names and booster.feature_types is None
        assert booster.num_boosted_rounds() == r.num_trees == r.best_iteration + 1
        assert booster.attributes() == {"best_iteration": str(r.best_iteration)}
        scores = predict_scores(booster, holdout)
        aucs[r.path] = roc_auc_score(holdout["label"].to_numpy(), scores)
        results[r.path] = r
    single, dist = results[SINGLE_NODE], results[DISTRIBUTED]
    print(f"holdout AUC single_node={aucs[SINGLE_NODE]:.4f} distributed={aucs[DISTRIBUTED]:.4f}")
    assert single.nthread and single.num_workers is None
    assert dist.num_workers == 2 and dist.nthread is None
    assert single.params == dist.params == native_params(churn_spec)
    assert single.rows == dist.rows == rows and single.positives == dist.positives
    assert single.validation_rows == dist.validation_rows > 0
    assert single.best_iteration < 149 and dist.best_iteration < 149  # early stopping on both paths
    assert min(aucs.values()) > 0.7
    assert abs(aucs[SINGLE_NODE] - aucs[DISTRIBUTED]) <= 0.03
    record = single.record()
    assert "booster_raw" not in record and record["path"] == SINGLE_NODE


@pytest.mark.spark
def test_single_node_is_deterministic(churn_spec, churn_features) -> None:  # type: ignore[no-untyped-def]
    train, _, names, _ = churn_features
    settings = Settings(single_node_max_rows=10**9)
    first = train_model(train, churn_spec, settings, names)
    again = train_model(train.repartition(3), churn_spec, settings, names, nthread=1)
    assert first.booster_raw == again.booster_raw


@pytest.mark.spark
def test_early_stopping_stops_on_noise_with_auto_scale_pos_weight(spark, churn_spec) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    n = 1500
    X = rng.normal(size=(n, 4))
    y = (rng.random(n) < 0.2).astype(float)  # labels independent of the features
    rows = [(f"e{i:05d}", float(y[i]), *map(float, X[i])) for i in range(n)]
    df = spark.createDataFrame(
        rows, "entity_id string, label double, x0 double, x1 double, x2 double, x3 double"
    )
    spec = _with_training(
        churn_spec,
        params={"n_estimators": 300, "max_depth": 6, "learning_rate": 0.3},
        early_stopping_rounds=10,
        auto_scale_pos_weight=True,
    )
    r = train_model(df, spec, Settings(), ["x0", "x1", "x2", "x3"])
    assert r.path == SINGLE_NODE
    assert r.best_iteration < 60 and r.num_trees == r.best_iteration + 1
    assert load_booster(r.booster_raw).num_boosted_rounds() == r.num_trees
    assert 0.05 * n < r.validation_rows < 0.15 * n
    assert r.params["scale_pos_weight"] == pytest.approx((r.rows - r.positives) / r.positives)
    no_stop = train_model(
        df, _with_training(spec, early_stopping_rounds=None), Settings(), ["x0", "x1", "x2", "x3"]
    )
    assert no_stop.num_trees == 300 and no_stop.validation_rows == 0 and no_stop.early_stopping_rounds is None
