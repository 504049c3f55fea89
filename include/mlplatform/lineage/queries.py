"""Lineage questions answered from the Delta tables, without a JVM: the CLI and the catalog use these.

* ``upstream``: what made a model version: data versions, validations, features, code, parameters;
* ``downstream``: the prediction partitions a version made, and the runs that wrote them;
* ``trace``: one prediction back to its feature row, its bronze row and source file, and the model;
* ``who_touched``: every task attempt that wrote a table since a date, and who started its run;
* ``lineage_graph``: source files → bronze → validated → features → run → version → predictions.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from mlplatform.core.errors import RegistryError
from mlplatform.io.layout import scoring_batch_id, training_batch_id
from mlplatform.io.table_reader import read_table

DATA_TABLES = ("bronze", "validated", "features", "labels")


class LineageNotFound(RegistryError):
    """The model, version, prediction or table asked about is not recorded."""


def _records(frame: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _plain(value: Any) -> Any:
    """Numpy arrays, numpy scalars and timestamps as JSON-able values."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def _json(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) and text else {}


def _lineage_records(frame: Any) -> list[dict[str, Any]]:
    """Lineage rows with each input and output version an int (Arrow hands nullable ints as floats)."""
    rows = _records(frame)
    for row in rows:
        for key in ("inputs", "outputs"):
            row[key] = [
                {**ref, "version": None if ref.get("version") is None else int(ref["version"])}
                for ref in row.get(key) or []
            ]
    return rows


def registered_entry(storage_root: str, model: str, version: int) -> dict[str, Any]:
    """The ``registered`` event of a version; the error names the model and version."""
    registry = read_table(storage_root, "model_registry", model=model)
    rows = registry[(registry["event"] == "registered") & (registry["version"] == int(version))]
    if rows.empty:
        known = sorted(int(v) for v in registry.loc[registry["event"] == "registered", "version"])
        raise LineageNotFound(f"model '{model}' has no registered version {version}; registered: {known}")
    return _records(rows)[0]


def run_tasks(storage_root: str, run_id: str, model: str | None = None) -> list[dict[str, Any]]:
    """The lineage rows of one run (successful attempts last), in the order they started."""
    lineage = read_table(storage_root, "lineage", model=model)
    rows = lineage[lineage["run_id"] == run_id].sort_values("started_at")
    return _lineage_records(rows)


def _refs(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [dict(ref, task_id=row["task_id"]) for row in rows for ref in (row.get(key) or [])]


def upstream(storage_root: str, model: str, version: int) -> dict[str, Any]:
    """What made ``model`` v``version``: the inputs' Delta versions, validations, features, code, params."""
    entry = registered_entry(storage_root, model, version)
    inputs = _json(entry["training_inputs"])
    tasks = [t for t in run_tasks(storage_root, entry["run_id"], model) if t["status"] == "success"]
    batch = inputs.get("batch_id") or training_batch_id(entry["run_id"])
    checks = read_table(storage_root, "validation_results", model=model)
    checks = checks[checks["batch_id"] == batch]
    catalog = read_table(storage_root, "feature_catalog")
    features = []
    for row in _records(catalog):
        for used in row.get("model_versions") or []:
            first, last = used.get("first_version"), used.get("last_version")
            if used.get("model") == model and first is not None and first <= version <= (last or first):
                features.append({k: row[k] for k in ("feature_name", "definition", "kind", "source_columns")})
    return {
        "model": model,
        "version": int(version),
        "run_id": entry["run_id"],
        "dag_id": entry["dag_id"],
        "registered_by": entry["actor"],
        "registered_at": entry["event_time"],
        "reason": entry["reason"],
        "source_uri": inputs.get("source_uri"),
        "inputs": {k: v for k, v in inputs.items() if isinstance(v, dict) and "version" in v},
        "window": inputs.get("window"),
        "validations": _records(
            checks[["expectation", "column", "success", "unexpected_count", "data_docs_uri"]]
        ),
        "features": features,
        "code_version": entry["code_version"],
        "spec_hash": entry["spec_hash"],
        "params": _json(entry["params"]),
        "artifact_uri": entry["artifact_uri"],
        "booster_sha256": entry["booster_sha256"],
        "tasks": [
            {
                "task_id": t["task_id"],
                "inputs": t["inputs"],
                "outputs": t["outputs"],
                "ended_at": t["ended_at"],
            }
            for t in tasks
        ],
    }


def downstream(storage_root: str, model: str, version: int) -> dict[str, Any]:
    """The prediction partitions ``model`` v``version`` made, with the runs and Delta versions that wrote them."""
    registered_entry(storage_root, model, version)
    predictions = read_table(
        storage_root,
        "predictions",
        model=model,
        columns=["score_date", "model_version", "run_id", "scored_at"],
    )
    mine = predictions[predictions["model_version"] == int(version)]
    lineage = read_table(storage_root, "lineage", model=model)
    scored = lineage[(lineage["task_id"] == "score") & (lineage["status"] == "success")]
    written: dict[str, int | None] = {}
    for row in _lineage_records(scored):
        for ref in row["outputs"] or []:
            if ref["name"] == "predictions":
                written[row["run_id"]] = ref["version"]
    partitions = []
    for (score_date, run_id), rows in mine.groupby(["score_date", "run_id"], sort=True):
        partitions.append(
            {
                "score_date": _plain(score_date),
                "rows": int(len(rows)),
                "run_id": run_id,
                "predictions_version": written.get(run_id),
                "scored_at": _plain(rows["scored_at"].max()),
            }
        )
    return {"model": model, "version": int(version), "partitions": partitions}


def _task(rows: list[dict[str, Any]], task_id: str) -> dict[str, Any] | None:
    done = [r for r in rows if r["task_id"] == task_id and r["status"] == "success"]
    return done[-1] if done else None


def _ref_version(row: dict[str, Any] | None, key: str, name: str) -> int | None:
    for ref in (row or {}).get(key) or []:
        if ref["name"] == name:
            return ref["version"]
    return None


def trace(storage_root: str, model: str, score_date: date | str, entity_id: str) -> dict[str, Any]:
    """One prediction back to its feature row, validated and bronze versions, source file and model version."""
    day = str(score_date)[:10]
    predictions = read_table(storage_root, "predictions", model=model)
    hit = predictions[
        (predictions["score_date"].astype(str) == day)
        & (predictions["entity_id"].astype(str) == str(entity_id))
    ]
    if hit.empty:
        raise LineageNotFound(f"no prediction of model '{model}' on {day} for entity '{entity_id}'")
    prediction = _records(hit)[0]
    rows = run_tasks(storage_root, prediction["run_id"], model)
    score, featured = _task(rows, "score"), _task(rows, "build_features")
    validated, ingested = _task(rows, "validate"), _task(rows, "ingest")
    versions = {
        "features": _ref_version(score, "inputs", "features")
        or _ref_version(featured, "outputs", "features"),
        "validated": _ref_version(featured, "inputs", "validated")
        or _ref_version(validated, "outputs", "validated"),
        "bronze": _ref_version(validated, "inputs", "bronze") or _ref_version(ingested, "outputs", "bronze"),
    }
    batch = scoring_batch_id(day)
    feature_row = _row(storage_root, model, "features", versions["features"], batch, entity_id=str(entity_id))
    bronze_row = None
    if feature_row is not None:
        bronze_row = _row(
            storage_root, model, "bronze", versions["bronze"], batch, _row_id=feature_row["_row_id"]
        )
    sources = [ref["uri"] for ref in (ingested or {}).get("inputs") or [] if ref["name"] == "source"]
    return {
        "model": model,
        "score_date": day,
        "entity_id": str(entity_id),
        "prediction": {k: prediction.get(k) for k in ("score", "prediction", "predicted_label", "scored_at")},
        "model_version": prediction["model_version"],
        "run_id": prediction["run_id"],
        "batch_id": batch,
        "input_versions": versions,
        "row_id": (feature_row or {}).get("_row_id"),
        "source_file": (bronze_row or {}).get("_source_file") or (sources[0] if sources else None),
        "bronze_row": bronze_row,
        "features": feature_row,
    }


def _row(
    storage_root: str, model: str, table: str, version: int | None, batch: str, **equal: str
) -> dict[str, Any] | None:
    found = read_table(
        storage_root, table, model=model, version=version, equals={"_batch_id": batch, **equal}
    )
    return _records(found)[0] if not found.empty else None


def who_touched(
    storage_root: str, table: str, since: date | datetime | str, *, model: str | None = None
) -> list[dict[str, Any]]:
    """Every task attempt that wrote ``table`` since ``since``: run, task, version, who started the run, how."""
    import pandas as pd

    from mlplatform.io.catalog import table_spec

    table_spec(table)
    lineage = read_table(storage_root, "lineage", model=model)
    recent = lineage[pd.to_datetime(lineage["started_at"], utc=True) >= pd.Timestamp(str(since), tz="UTC")]
    touched = []
    for row in _lineage_records(recent.sort_values("started_at")):
        for ref in row["outputs"] or []:
            if ref["name"] == table:
                touched.append(
                    {
                        "time": row["ended_at"],
                        "table": table,
                        "version": ref["version"],
                        "model": row["model_name"],
                        "dag_id": row["dag_id"],
                        "run_id": row["run_id"],
                        "task_id": row["task_id"],
                        "status": row["status"],
                        "trigger_type": row["trigger_type"],
                        "triggered_by": row["triggered_by"],
                    }
                )
    return touched


def lineage_graph(storage_root: str, model: str, version: int) -> dict[str, Any]:
    """Nodes and edges from the source files through the training run to the version and its predictions."""
    entry = registered_entry(storage_root, model, version)
    tasks = [t for t in run_tasks(storage_root, entry["run_id"], model) if t["status"] == "success"]
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, str]] = []

    def node(node_id: str, kind: str, label: str, **extra: Any) -> str:
        nodes.setdefault(node_id, {"id": node_id, "kind": kind, "label": label, **extra})
        return node_id

    def data_node(ref: dict[str, Any]) -> str | None:
        if ref["name"] == "source":
            return node(f"file:{ref['uri']}", "source", ref["uri"].rsplit("/", 1)[-1], uri=ref["uri"])
        if ref["name"] in DATA_TABLES and ref.get("version") is not None:
            label = f"{ref['name']} v{ref['version']}"
            return node(
                f"{ref['name']}@{ref['version']}",
                ref["name"],
                label,
                table=ref["name"],
                version=ref["version"],
            )
        return None

    for task in tasks:
        sources = [n for n in map(data_node, task["inputs"] or []) if n]
        for target in [n for n in map(data_node, task["outputs"] or []) if n]:
            edges.extend({"source": s, "target": target} for s in sources if s != target)
    run = node(
        f"run:{entry['run_id']}", "run", entry["run_id"], run_id=entry["run_id"], dag_id=entry["dag_id"]
    )
    for task in tasks:
        if task["task_id"] == "train":
            for ref in task["inputs"] or []:
                if (source := data_node(ref)) is not None:
                    edges.append({"source": source, "target": run})
    inputs = _json(entry["training_inputs"])
    if not any(e["target"] == run for e in edges) and "features" in inputs:
        edges.append({"source": data_node({"name": "features", **inputs["features"]}) or run, "target": run})
    model_node = node(
        f"model:{model}@{version}", "model_version", f"{model} v{version}", model=model, version=version
    )
    edges.append({"source": run, "target": model_node})
    for part in downstream(storage_root, model, version)["partitions"]:
        target = node(
            f"predictions:{part['score_date']}",
            "predictions",
            f"predictions {part['score_date']}",
            score_date=part["score_date"],
            rows=part["rows"],
            run_id=part["run_id"],
            version=part["predictions_version"],
        )
        edges.append({"source": model_node, "target": target})
    unique = list({(e["source"], e["target"]): e for e in edges}.values())
    return {"model": model, "version": int(version), "nodes": list(nodes.values()), "edges": unique}
