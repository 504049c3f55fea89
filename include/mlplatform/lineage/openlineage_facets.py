"""The OpenLineage facets of the platform's events: its own run and model-version facets, and the
standard schema, column-lineage and data-quality facets built from the table catalog and a spec.

Pure functions of the catalog, the spec and GX results; ``openlineage`` assembles them into events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attr
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    schema_dataset,
)

from mlplatform.io.catalog import TABLES, _split_top_level

if TYPE_CHECKING:
    from mlplatform.config.specs import ModelSpec

FACET_SCHEMA = "https://github.com/mlplatform/mlplatform/blob/main/docs/openlineage-facets.json#/$defs/"


@attr.define
class MlplatformRunFacet(RunFacet):
    """How the run was triggered and by whom, the model it worked on, the code that ran."""

    trigger_type: str
    triggered_by: str | None = None
    model_name: str | None = None
    model_version: int | None = None
    code_version: str | None = None
    try_number: int = 1
    airflow_run_id: str | None = None
    step: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA + "MlplatformRunFacet"


@attr.define
class ModelVersionDatasetFacet(DatasetFacet):
    """A registered model version: its number, artifact folder and the booster's SHA-256."""

    model_name: str
    version: int
    artifact_uri: str
    booster_sha256: str | None = None
    created: bool | None = None

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA + "ModelVersionDatasetFacet"


def _declared_fields(ddl: str) -> list[tuple[str, str | None]]:
    fields = []
    for part in _split_top_level(ddl):
        name, _, kind = part.strip().partition(" ")
        if name:
            fields.append((name, kind.strip() or None))
    return fields


def table_fields(name: str, spec: ModelSpec | None = None) -> list[tuple[str, str | None]]:
    """A catalog table's columns and types: the declared ones, plus (model tables) the spec's."""
    entry = TABLES[name]
    fields = _declared_fields(entry.ddl)
    if spec is None or entry.scope != "model":
        return fields
    cols = spec.columns
    if name == "validated":
        times = {*([cols.event_time] if cols.event_time else []), *cols.timestamps}
        for col in cols.raw_columns:
            kind = "double" if col in cols.numeric else "timestamp" if col in times else "string"
            fields.append((col, kind))
    elif name == "features":
        one_hot = spec.features.categorical_encoding == "one_hot"
        # One-hot indicator columns are known only once fitted; the declared base features are not.
        skip = set(cols.categorical) if one_hot else set()
        fields += [(f, "double") for f in spec.model_features if f not in skip]
    unique: dict[str, str | None] = {}
    for col, kind in fields:
        unique.setdefault(col, kind)
    return list(unique.items())


def schema_facet(name: str, spec: ModelSpec | None = None) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name=col, type=kind, ordinal_position=i)
            for i, (col, kind) in enumerate(table_fields(name, spec), start=1)
        ]
    )


def column_lineage_facet(
    spec: ModelSpec, validated: tuple[str, str]
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Each feature column of ``features`` from its source columns in ``validated`` (namespace, name).

    The feature catalog's ``source_columns`` name columns as the source files spell them; the
    validated table holds them under the spec's names (``columns.rename`` applied).
    """
    from mlplatform.features.feature_catalog import feature_definitions

    namespace, name = validated
    rename = spec.columns.rename
    kinds = {
        "aggregate": "AGGREGATION",
        "numeric": "IDENTITY" if spec.features.numeric_impute == "none" else None,
    }

    def field(col: str, subtype: str, description: str) -> column_lineage_dataset.InputField:
        transformation = column_lineage_dataset.Transformation(
            type="DIRECT", subtype=subtype, description=description, masking=False
        )
        return column_lineage_dataset.InputField(
            namespace=namespace, name=name, field=rename.get(col, col), transformations=[transformation]
        )

    fields: dict[str, column_lineage_dataset.Fields] = {}
    for row in feature_definitions(spec):
        subtype = kinds.get(row["kind"]) or "TRANSFORMATION"
        inputs = [field(col, subtype, row["definition"]) for col in dict.fromkeys(row["source_columns"])]
        fields[row["feature_name"]] = column_lineage_dataset.Fields(inputFields=inputs)
    if spec.columns.id:
        fields["entity_id"] = column_lineage_dataset.Fields(
            inputFields=[field(spec.columns.source_name(spec.columns.id), "IDENTITY", "the row's id")]
        )
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields)


def assertions_facet(
    results: Iterable[Mapping[str, Any]],
) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    """The GX results of a batch (``validation_results`` rows) as data-quality assertions."""
    assertions = []
    for r in results:
        counts = {k: r.get(k) for k in ("unexpected_count", "unexpected_percent", "element_count")}
        assertions.append(
            data_quality_assertions_dataset.Assertion(
                assertion=str(r["expectation"]),
                success=bool(r["success"]),
                column=r.get("column") or None,
                actual=None if r.get("unexpected_count") is None else f"{r['unexpected_count']} unexpected",
                params={k: v for k, v in counts.items() if v is not None},
            )
        )
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(assertions=assertions)
