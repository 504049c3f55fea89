"""XGBoost parameters: sklearn names to native ones, conflicts refused, threads and paths (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from mlplatform.config.settings import Settings
from mlplatform.config.specs import ModelSpec, TrainingSpec
from mlplatform.modeling.training import (
    DISTRIBUTED,
    SINGLE_NODE,
    TrainingConfigError,
    choose_path,
    computed_scale_pos_weight,
    native_params,
    sklearn_params,
)


def test_spec_params_map_to_native_names(churn_spec: ModelSpec) -> None:
    # churn_demo: {max_depth: 5, learning_rate: 0.1, n_estimators: 150, subsample: 0.9, min_child_weight: 1}
    assert native_params(churn_spec) == {
        "eta": 0.1,
        "eval_metric": "logloss",
        "max_depth": 5,
        "min_child_weight": 1,
        "num_boost_round": 150,
        "objective": "binary:logistic",
        "seed": 42,
        "subsample": 0.9,
        "tree_method": "hist",
    }


@pytest.mark.parametrize(
    ("given", "native"),
    [
        ({"n_estimators": 7}, {"num_boost_round": 7}),
        ({"learning_rate": 0.3}, {"eta": 0.3}),
        ({"random_state": 5}, {"seed": 5}),
        ({"reg_alpha": 0.5}, {"alpha": 0.5}),
        ({"reg_lambda": 2.0}, {"lambda": 2.0}),
        ({"min_split_loss": 0.2}, {"gamma": 0.2}),
        ({"eta": 0.05, "seed": 9, "lambda": 3.0}, {"eta": 0.05, "seed": 9, "lambda": 3.0}),
        ({"colsample_bytree": 0.7, "max_bin": 64}, {"colsample_bytree": 0.7, "max_bin": 64}),
    ],
)
def test_each_sklearn_name_maps_to_its_native_name(
    churn_spec: ModelSpec, given: dict[str, Any], native: dict[str, Any]
) -> None:
    params = native_params(_with_training(churn_spec, params=given))
    assert {k: params[k] for k in native} == native
    assert not set(given) - set(native) & set(params), "a sklearn name leaked into the native params"


def test_sklearn_params_are_what_spark_accepts(churn_spec: ModelSpec) -> None:
    from xgboost import XGBClassifier

    spec = _with_training(churn_spec, params={"reg_alpha": 0.1, "reg_lambda": 1.5, "n_estimators": 9})
    params = sklearn_params(native_params(spec))
    assert params["n_estimators"] == 9 and params["learning_rate"] == 0.1 and params["random_state"] == 42
    assert params["reg_alpha"] == 0.1 and params["reg_lambda"] == 1.5
    assert "objective" not in params  # SparkXGBClassifier sets binary:logistic itself
    assert set(params) <= set(XGBClassifier().get_params())


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"learning_rate": 0.1, "eta": 0.2}, "both set 'eta'"),
        ({"early_stopping_rounds": 5}, "training.early_stopping_rounds"),
        ({"objective": "reg:squarederror"}, "'objective' must be"),
        ({"eval_metric": "auc"}, "'eval_metric' must be"),
    ],
)
def test_conflicting_or_platform_owned_params_fail(
    churn_spec: ModelSpec, given: dict[str, Any], message: str
) -> None:
    with pytest.raises(TrainingConfigError, match=message):
        native_params(_with_training(churn_spec, params=given))


def test_threads_are_the_platforms(churn_spec: ModelSpec) -> None:
    assert "nthread" not in native_params(_with_training(churn_spec, params={"n_jobs": 64}))


def _with_training(spec: ModelSpec, **training: Any) -> ModelSpec:
    data = spec.model_dump()
    data["training"] = {**data["training"], **training}
    return ModelSpec.model_validate(data)


# --- class imbalance and path choice ------------------------------------------------------------


def test_scale_pos_weight_default_off_auto_and_explicit(churn_spec: ModelSpec) -> None:
    assert "scale_pos_weight" not in native_params(churn_spec, rows=1000, positives=200)
    auto = _with_training(churn_spec, auto_scale_pos_weight=True)
    assert native_params(auto, rows=1000, positives=200)["scale_pos_weight"] == pytest.approx(4.0)
    assert computed_scale_pos_weight(10, 3) == pytest.approx(7 / 3)
    explicit = _with_training(churn_spec, auto_scale_pos_weight=True, params={"scale_pos_weight": 2.5})
    assert native_params(explicit, rows=1000, positives=200)["scale_pos_weight"] == 2.5


def test_threshold_chooses_the_path() -> None:
    settings = Settings(single_node_max_rows=1000)
    assert choose_path(999, settings) == SINGLE_NODE
    assert choose_path(1000, settings) == SINGLE_NODE
    assert choose_path(1001, settings) == DISTRIBUTED
    assert Settings().single_node_max_rows == 200_000


def test_new_training_spec_defaults() -> None:
    spec = TrainingSpec()
    assert spec.early_stopping_rounds == 20 and spec.validation_fraction == 0.1
    assert spec.auto_scale_pos_weight is False


# --- both paths on the same data ----------------------------------------------------------------


# --- task types ------------------------------------------------------------------------------------


def _as_task(spec: ModelSpec, task: str, **columns: Any) -> ModelSpec:
    data = spec.model_dump()
    data["task"] = task
    data["columns"] = {**data["columns"], "target_positive": "1", **columns}
    data["validation"]["allowed_values"].pop(spec.columns.target, None)
    data["promotion"] = {}
    data["retraining"] = {}
    return ModelSpec.model_validate(data)


def test_each_task_fixes_its_objective_and_metric(churn_spec: ModelSpec) -> None:
    assert native_params(churn_spec)["objective"] == "binary:logistic"
    multi = native_params(_as_task(churn_spec, "multiclass", classes=["a", "b", "c"]))
    assert (multi["objective"], multi["eval_metric"], multi["num_class"]) == ("multi:softprob", "mlogloss", 3)
    reg = native_params(_as_task(churn_spec, "regression"))
    assert (reg["objective"], reg["eval_metric"]) == ("reg:squarederror", "rmse") and "num_class" not in reg
    with pytest.raises(TrainingConfigError, match="'objective' must be 'reg:squarederror'"):
        native_params(
            _with_training(_as_task(churn_spec, "regression"), params={"objective": "binary:logistic"})
        )
    with pytest.raises(TrainingConfigError, match="'num_class' applies to multiclass models only"):
        native_params(_with_training(churn_spec, params={"num_class": 3}))
