"""The feature catalog: one Delta row per feature, with its definition taken from the specs.

A feature is identified by its name and definition, so two models that declare the same feature
share a row (and are both listed), while a same-named feature with another definition gets its
own. The catalog is synchronised from every spec and the registry (first and last model version
per model) whenever a version is registered, and by ``python -m mlplatform.cli catalog``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlplatform.config.specs import ModelSpec
from mlplatform.io.catalog import TABLES
from mlplatform.io.delta import ensure_table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _derived_definition(feat: Any) -> str:
    extras = {
        k: v
        for k, v in feat.model_dump().items()
        if k not in ("name", "op", "inputs") and v not in (None, [], {})
    }
    args = ", ".join([*feat.inputs, *(f"{k}={v}" for k, v in extras.items())])
    return f"{feat.op}({args})"


def feature_definitions(spec: ModelSpec) -> list[dict[str, Any]]:
    """The spec's features with a human-readable definition each (pure; no Spark)."""
    impute = spec.features.numeric_impute
    encoding = getattr(spec.features, "categorical_encoding", "index")
    rows: list[dict[str, Any]] = []
    for name in spec.columns.numeric:
        how = "left missing" if impute == "none" else f"nulls imputed with the training-split {impute}"
        rows.append(
            {
                "feature_name": name,
                "kind": "numeric",
                "dtype": "double",
                "source_columns": [name],
                "definition": f"numeric source column '{name}'; {how}",
            }
        )
    for feat in spec.features.derived:
        rows.append(
            {
                "feature_name": feat.name,
                "kind": "derived",
                "dtype": "double",
                "source_columns": list(feat.inputs),
                "definition": _derived_definition(feat),
            }
        )
    for name in spec.columns.categorical:
        rows.append(
            {
                "feature_name": name,
                "kind": "categorical",
                "dtype": "string",
                "source_columns": [name],
                "definition": (
                    f"categorical source column '{name}'; {encoding} encoding over the top "
                    f"{spec.features.max_categories} training-split values, unseen values as 'other'"
                ),
            }
        )
    for agg in getattr(spec.features, "aggregates", []) or []:
        entity = getattr(spec.columns, "entity", None) or spec.columns.id
        rows.append(
            {
                "feature_name": agg.name,
                "kind": "aggregate",
                "dtype": "double",
                "source_columns": [
                    c for c in (agg.column, entity, spec.columns.event_time) if c and c != "*"
                ],
                "definition": (
                    f"{agg.agg}({agg.column}) per {entity} over the {agg.window} before each row's "
                    f"{spec.columns.event_time} (point in time: strictly earlier rows only)"
                ),
            }
        )
    return rows


def catalog_rows(specs: list[ModelSpec], versions_by_model: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Catalog rows for all specs, merging features that two models define identically."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    users: dict[tuple[str, str], list[ModelSpec]] = defaultdict(list)
    for spec in specs:
        for row in feature_definitions(spec):
            key = (row["feature_name"], row["definition"])
            merged.setdefault(key, row)
            users[key].append(spec)
    now = datetime.now(UTC)
    out = []
    for key, row in sorted(merged.items()):
        models = users[key]
        out.append(
            {
                **row,
                "owner": ", ".join(sorted({m.owner for m in models})),
                "models": sorted(m.name for m in models),
                "model_versions": [
                    {
                        "model": m.name,
                        "first_version": min(versions_by_model.get(m.name) or [0]) or None,
                        "last_version": max(versions_by_model.get(m.name) or [0]) or None,
                    }
                    for m in sorted(models, key=lambda m: m.name)
                ],
                "updated_at": now,
            }
        )
    return out


def sync_catalog(spark: SparkSession, catalog_uri: str, registry_uri: str, specs: list[ModelSpec]) -> int:
    """Upsert every spec's features into the catalog (keyed by name and definition); returns rows."""
    from delta.tables import DeltaTable

    from mlplatform.registry import ModelRegistry

    schema = TABLES["feature_catalog"]
    registry = ModelRegistry(spark, registry_uri)
    versions_by_model = {s.name: [int(v["version"]) for v in registry.versions(s.name)] for s in specs}
    rows = catalog_rows(specs, versions_by_model)
    ensure_table(spark, catalog_uri, schema)
    updates = spark.createDataFrame(rows, schema.ddl)
    (
        DeltaTable.forPath(spark, catalog_uri)
        .alias("c")
        .merge(updates.alias("u"), "c.feature_name = u.feature_name AND c.definition = u.definition")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    return len(rows)
