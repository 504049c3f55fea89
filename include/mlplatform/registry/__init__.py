"""The model registry: ``ModelRegistry(spark, registry_uri)`` and what it raises and returns."""

from __future__ import annotations

from mlplatform.core.errors import RegistryError
from mlplatform.registry.artifacts import LoadedModel
from mlplatform.registry.events import CommitConflictError
from mlplatform.registry.store import (
    ModelRegistry,
    ModelRetiredError,
    NoChampionError,
    PromotionConflictError,
)

__all__ = [
    "CommitConflictError",
    "LoadedModel",
    "ModelRegistry",
    "ModelRetiredError",
    "NoChampionError",
    "PromotionConflictError",
    "RegistryError",
]
