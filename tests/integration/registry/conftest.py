"""Registry fixtures: a fresh registry (fast backoff) and helpers that register and promote the tiny booster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mlplatform.io.layout import StorageLayout
from mlplatform.registry import ModelRegistry

MODEL = "tiny_model"


@pytest.fixture()
def model() -> str:
    """The model every registry test registers."""
    return MODEL


@pytest.fixture()
def layout(storage_root: str) -> StorageLayout:
    return StorageLayout(storage_root)


@pytest.fixture()
def registry(spark, layout: StorageLayout) -> ModelRegistry:  # type: ignore[no-untyped-def]
    """A registry in a fresh storage root, with a short retry backoff."""
    return ModelRegistry(spark, layout.platform_table("model_registry"), backoff_seconds=0.05)


def documents(feature_names: list[str], auc: float) -> dict[str, Any]:
    return {
        "feature_state.json": {"format": 1, "impute": {}, "vocabulary": {}, "feature_names": feature_names},
        "reference_profile.json": {"features": {}},
        "metrics.json": {"auc": auc, "pr_auc": 0.5, "logloss": 0.4},
        "signature.json": {"feature_names": feature_names, "feature_types": ["double"] * len(feature_names)},
    }


@pytest.fixture()
def register(registry: ModelRegistry, layout: StorageLayout, tiny_booster) -> Callable[..., tuple[int, bool]]:  # type: ignore[no-untyped-def]
    """``register(run_id, auc=0.8, feature_names=None)``: register the tiny booster from that run."""

    def register(run_id: str, auc: float = 0.8, feature_names: list[str] | None = None) -> tuple[int, bool]:
        return registry.register_version(
            model=MODEL,
            version_dir_for=lambda v: layout.model_version_dir(MODEL, v),
            booster_raw=tiny_booster.raw,
            documents=documents(feature_names or tiny_booster.feature_names, auc),
            extra_files={"run.txt": run_id.encode()},
            run_id=run_id,
            dag_id=f"{MODEL}_training",
            actor="test",
            reason="registry test",
            spec_hash="0" * 64,
            training_inputs={"features": 1},
            params={"max_depth": 3},
            code_version="test",
        )

    return register


@pytest.fixture()
def promote(registry: ModelRegistry) -> Callable[[int, int | None, str], bool]:
    """``promote(version, expected_champion, run_id)``: make the version champion."""

    def promote(version: int, expected: int | None, run_id: str) -> bool:
        return registry.promote(
            model=MODEL,
            version=version,
            demote=expected,
            run_id=run_id,
            dag_id=f"{MODEL}_training",
            actor="test",
            reason="registry test",
        )

    return promote
