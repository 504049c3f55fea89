"""The feature catalog: one Delta row per feature, with its definition taken from the specs.

A feature is identified by its name and definition, so two models that declare the same feature
share a row (and are both listed), while a same-named feature with another definition gets its
own. The catalog is synchronised from every spec and the registry (first and last model version
per model) whenever a version is registered, and by ``python -m mlplatform.cli catalog``.

``source_columns`` names the columns as the source files spell them (``columns.rename``
reversed: ``Credit Amount``, not ``credit_amount``). A one-hot model's latest version adds a row
per indicator column (kind ``one_hot``) whose definition holds the category's exact text
(``status = '<0'``), from the version's fitted feature state.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlplatform.config.specs import ModelSpec
from mlplatform.features.naming import feature_labels
from mlplatform.io.catalog import TABLES
from mlplatform.io.delta import ensure_table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("mlplatform.features")


def _derived_definition(feat: Any) -> str:
    extras = {
        k: v
        for k, v in feat.model_dump().items()
        if k not in ("name", "op", "inputs")
        and v not in (None, [], {})
        and not (k == "out_of_domain" and v == "null")  # the default: definitions stay as they were
    }
    args = ", ".join([*feat.inputs, *(f"{k}={v}" for k, v in extras.items())])
    return f"{feat.op}({args})"


def _as_read(spec: ModelSpec, name: str) -> str:
    """A raw column in words, with its source name when the spec renames it."""
    source = spec.columns.source_name(name)
    return f"'{name}'" if source == name else f"'{name}' (source column '{source}')"


def feature_definitions(spec: ModelSpec, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The spec's features with a human-readable definition each (pure; no Spark); with a fitted
    one-hot ``state``, also one row per indicator column naming its category's exact text."""
    impute = spec.features.numeric_impute
    source = spec.columns.source_name
    encoding = getattr(spec.features, "categorical_encoding", "index")
    rows: list[dict[str, Any]] = []
    for name in spec.columns.numeric:
        how = "left missing" if impute == "none" else f"nulls imputed with the training-split {impute}"
        rows.append(
            {
                "feature_name": name,
                "kind": "numeric",
                "dtype": "double",
                "source_columns": [source(name)],
                "definition": f"numeric source column {_as_read(spec, name)}; {how}",
            }
        )
    for feat in spec.features.derived:
        rows.append(
            {
                "feature_name": feat.name,
                "kind": "derived",
                "dtype": "double",
                "source_columns": [source(c) for c in feat.inputs],
                "definition": _derived_definition(feat),
            }
        )
    for name in spec.columns.categorical:
        rows.append(
            {
                "feature_name": name,
                "kind": "categorical",
                "dtype": "string",
                "source_columns": [source(name)],
                "definition": (
                    f"categorical source column {_as_read(spec, name)}; {encoding} encoding over the top "
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
                    source(c) for c in (agg.column, entity, spec.columns.event_time) if c and c != "*"
                ],
                "definition": (
                    f"{agg.agg}({agg.column}) per {entity} over the {agg.window} before each row's "
                    f"{spec.columns.event_time} (point in time: strictly earlier rows only)"
                ),
            }
        )
    if state is not None and state.get("categorical_encoding") == "one_hot":
        rows += _one_hot_rows(spec, state)
    return rows


def _one_hot_rows(spec: ModelSpec, state: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per fitted one-hot indicator: its name, the category's exact text, its column."""
    labels = feature_labels(state)
    rows = []
    for col in spec.columns.categorical:
        for name in state.get("one_hot", {}).get(col, []):
            rows.append(
                {
                    "feature_name": name,
                    "kind": "one_hot",
                    "dtype": "double",
                    "source_columns": [spec.columns.source_name(col)],
                    "definition": f"one-hot indicator of categorical {_as_read(spec, col)}: {labels[name]}",
                }
            )
    return rows


def catalog_rows(
    specs: list[ModelSpec],
    versions_by_model: dict[str, list[int]],
    states: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Catalog rows for all specs, merging features that two models define identically;
    ``states`` (model → the latest version's fitted feature state) adds one-hot indicators."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    users: dict[tuple[str, str], list[ModelSpec]] = defaultdict(list)
    states = states or {}
    for spec in specs:
        for row in feature_definitions(spec, states.get(spec.name)):
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
    states = {}
    for s in specs:
        if s.features.categorical_encoding == "one_hot" and versions_by_model[s.name]:
            latest = max(versions_by_model[s.name])
            try:
                states[s.name] = registry.load_version(s.name, latest).feature_state
            except Exception as exc:  # an unloadable version costs only its indicator rows
                log.warning("feature catalog: no one-hot rows for %s v%s: %s", s.name, latest, exc)
    rows = catalog_rows(specs, versions_by_model, states)
    log.info("feature catalog %s: %s feature rows from %s spec(s)", catalog_uri, len(rows), len(specs))
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
