"""Fixtures shared by the unit tests: the demo spec and a tiny XGBoost booster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mlplatform.config.specs import ModelSpec, load_spec

PROJECT_ROOT = Path(__file__).resolve().parents[2]

TINY_FEATURES = ["f_a", "f_b", "f_c"]


@dataclass(frozen=True)
class TinyBooster:
    raw: bytes
    feature_names: list[str]
    X: np.ndarray

    def booster(self):  # type: ignore[no-untyped-def]
        import xgboost as xgb

        b = xgb.Booster()
        b.load_model(bytearray(self.raw))
        return b


@pytest.fixture(scope="session")
def churn_spec() -> ModelSpec:
    return load_spec(PROJECT_ROOT / "include" / "specs" / "churn_demo.yaml")


@pytest.fixture(scope="session")
def tiny_booster() -> TinyBooster:
    """A 5-round booster on 200 rows of three features (one with missing values), as UBJSON bytes."""
    import xgboost as xgb

    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 3))
    X[rng.random(200) < 0.1, 2] = np.nan
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.3, size=200) > 0).astype(np.float64)
    dtrain = xgb.DMatrix(X, label=y, feature_names=TINY_FEATURES, missing=np.nan)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0},
        dtrain,
        num_boost_round=5,
    )
    return TinyBooster(bytes(booster.save_raw("ubj")), list(TINY_FEATURES), X)
