"""Catalog tables read and appended without a JVM, through delta-rs (``deltalake``).

The model catalog, the lineage queries and the CLI read the same Delta tables the Spark steps
write, as pandas frames; a table that does not exist yet reads as an empty frame with its declared
columns, so a fresh platform shows empty pages instead of errors. Audit rows written from the web
app are appended here too (delta-rs honours ``delta.appendOnly``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mlplatform.io.catalog import TABLES, TableSpec, table_spec
from mlplatform.io.layout import StorageLayout

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_ARROW_TYPES = {
    "string": "string",
    "int": "int32",
    "bigint": "int64",
    "double": "float64",
    "boolean": "bool",
    "date": "date32",
}


def table_path(storage_root: str, name: str, model: str | None = None) -> str:
    """Where a catalog table lives; model tables need the model."""
    layout = StorageLayout(storage_root)
    if table_spec(name).scope == "model":
        if not model:
            raise ValueError(f"table '{name}' is one per model: name the model")
        return layout.model_table(model, name)
    return layout.platform_table(name)


def _uri(path: str) -> str:
    """delta-rs speaks ``s3://``; Spark's ``s3a://`` names the same objects."""
    return "s3://" + path[len("s3a://") :] if path.startswith("s3a://") else path


def storage_options(path: str) -> dict[str, str] | None:
    """Credentials and endpoint for S3 paths, from the same settings the Spark side uses."""
    if not path.startswith(("s3://", "s3a://")):
        return None
    from mlplatform.config.settings import get_settings

    options = {"AWS_REGION": os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))}
    endpoint = get_settings().s3_endpoint_url
    if endpoint:
        options |= {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
        }
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(key):
            options[key] = os.environ[key]
    return options


def open_table(path: str, version: int | None = None) -> Any | None:
    """The delta-rs table at ``path`` (as of ``version``), or None when there is none."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(_uri(path), storage_options=storage_options(path))
    except TableNotFoundError:
        return None
    if version is not None:
        table.load_as_version(int(version))
    return table


def read_table(
    storage_root: str,
    name: str,
    *,
    model: str | None = None,
    columns: list[str] | None = None,
    version: int | None = None,
    equals: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """A catalog table as pandas; platform tables only ``model``'s rows when it is given.

    ``equals`` keeps the rows whose columns equal the given values, pushed down to the files
    (partition columns prune whole partitions).
    """
    import pandas as pd
    import pyarrow.compute as pc

    entry = table_spec(name)
    table = open_table(table_path(storage_root, name, model), version)
    if table is None:
        return pd.DataFrame(columns=columns or entry.columns)
    present = set(table.schema().to_arrow().names)
    wanted = [c for c in columns if c in present] if columns else None
    if wanted is not None and model and entry.scope == "platform" and "model_name" not in wanted:
        wanted = [*wanted, "model_name"]
    dataset = table.to_pyarrow_dataset()
    conditions = dict(equals or {})
    if model and entry.scope == "platform" and "model_name" in present:
        conditions["model_name"] = model
    filter_ = None
    for column, value in conditions.items():
        if column not in present:
            return pd.DataFrame(columns=columns or entry.columns)
        condition = pc.field(column) == value
        filter_ = condition if filter_ is None else filter_ & condition
    frame = dataset.to_table(columns=wanted, filter=filter_).to_pandas()
    for column in columns or []:
        if column not in frame.columns:
            frame[column] = None
    return frame[columns] if columns else frame


def table_history(
    storage_root: str, name: str, *, model: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The table's commits, newest first: version, timestamp, operation, and ``userMetadata``."""
    table = open_table(table_path(storage_root, name, model))
    return [] if table is None else list(table.history(limit))


def table_versions(storage_root: str, name: str, model: str | None = None) -> int | None:
    """The table's current Delta version, or None when there is no table yet."""
    table = open_table(table_path(storage_root, name, model))
    return None if table is None else int(table.version())


def arrow_schema(entry: TableSpec) -> pa.Schema:
    """The Arrow schema of a flat catalog table (its columns' types, timestamps in UTC)."""
    import pyarrow as pa

    fields = []
    for column in entry.ddl.split(","):
        name, kind = column.strip().split(" ", 1)
        kind = kind.strip()
        if kind == "timestamp":
            fields.append(pa.field(name, pa.timestamp("us", tz="UTC")))
        elif kind in _ARROW_TYPES:
            fields.append(pa.field(name, pa.type_for_alias(_ARROW_TYPES[kind])))
        else:
            raise ValueError(f"table column {name}: type {kind} is not appendable without Spark")
    return pa.schema(fields)


def append_table_rows(storage_root: str, name: str, rows: list[dict[str, Any]]) -> int:
    """Append rows to a flat platform table without Spark; creates it as the catalog declares."""
    import pyarrow as pa
    from deltalake import write_deltalake

    entry = TABLES[name]
    path = table_path(storage_root, name)
    schema = arrow_schema(entry)
    data = pa.Table.from_pylist([{c: row.get(c) for c in schema.names} for row in rows], schema=schema)
    config = {"delta.appendOnly": "true"} if entry.append_only else None
    if not path.startswith(("s3://", "s3a://")):
        os.makedirs(path, exist_ok=True)
    write_deltalake(
        _uri(path),
        data,
        mode="append",
        partition_by=list(entry.partition_by) or None,
        configuration=config,
        storage_options=storage_options(path),
        schema_mode="merge",
    )
    version = table_versions(storage_root, name)
    assert version is not None
    return version
