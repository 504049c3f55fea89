"""Retrain a registered model version exactly and check that it predicts the same.

``reproduce_version`` reads the version's registry row (training inputs with Delta versions and
batch id, parameters, spec hash), reads the features table as of the recorded Delta version for
that batch, retrains with the recorded path, parameters, seed and feature state, and compares the
new booster's predictions with the registered booster's on the batch's holdout rows.

Run it as ``python -m mlplatform.modeling.reproduce --model churn_demo --version 3``: it prints the report
as JSON and exits 0 when the predictions match (max abs diff <= tolerance), 1 when they do not or
the spec changed since the version was trained, 2 when the version cannot be reproduced at all.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlplatform.config.settings import Settings
from mlplatform.core.errors import PlatformError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from mlplatform.config.specs import ModelSpec

DEFAULT_TOLERANCE = 1e-6
_ABSENT = "(absent)"


class ReproduceError(PlatformError, RuntimeError):
    """A version cannot be retrained: its record or inputs are missing."""


class SpecChangedError(ReproduceError):
    """The model's spec differs from the one the version was trained with."""

    def __init__(self, message: str, changes: list[str]) -> None:
        super().__init__(message)
        self.changes = changes


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    return {prefix: value}


def _diff(recorded: Any, current: Any, prefix: str) -> list[str]:
    old, new = _flatten(recorded, prefix), _flatten(current, prefix)
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if a != b:
            changes.append(f"{key}: {json.dumps(a, default=str)} -> {json.dumps(b, default=str)}")
    return changes


def spec_changes(spec: ModelSpec, params: dict[str, Any], feature_state: dict[str, Any] | None) -> list[str]:
    """What differs between the current spec and what the registry recorded of the trained one.

    With the full spec recorded (``params.spec``) every field is compared; otherwise the training
    section (``params.xgb``) and what the feature state keeps of the features.
    """
    current = json.loads(spec.model_dump_json())
    if isinstance(params.get("spec"), dict):
        return _diff(params["spec"], current, "")
    changes: list[str] = []
    if isinstance(params.get("xgb"), dict):
        changes += _diff(params["xgb"], current["training"], "training")
    if feature_state:
        if "base_features" in feature_state:
            changes += _diff(
                {"model_features": feature_state["base_features"]},
                {"model_features": spec.model_features},
                "",
            )
        if "categorical_encoding" in feature_state:
            changes += _diff(
                feature_state["categorical_encoding"],
                spec.features.categorical_encoding,
                "features.categorical_encoding",
            )
    return changes


def _registered_row(spark: SparkSession, registry_uri: str, model: str, version: int) -> dict[str, Any]:
    from mlplatform.registry import ModelRegistry

    registered = ModelRegistry(spark, registry_uri).versions(model)
    row = next((r for r in registered if int(r["version"]) == version), None)
    if row is None:
        raise ReproduceError(f"model '{model}' has no registered version {version} in {registry_uri}")
    return row


def _training_record(
    spark: SparkSession, lineage_uri: str, row: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any] | None, str]:
    """How the version was trained: from the registry row, else from its run's train-step lineage."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if isinstance(params.get("training"), dict) and params["training"].get("path"):
        return params["training"], "registry"
    if row.get("run_id") and DeltaTable.isDeltaTable(spark, lineage_uri):
        rows = (
            spark.read.format("delta")
            .load(lineage_uri)
            .where((F.col("run_id") == row["run_id"]) & (F.col("status") == "success"))
            .orderBy(F.desc("ended_at"))
            .select("params")
            .collect()
        )
        for r in rows:
            training = json.loads(r["params"] or "{}").get("training")
            if isinstance(training, dict) and training.get("path"):
                return training, "lineage"
    return None, "none"


def _features_as_of(spark: SparkSession, inputs: dict[str, Any], model: str, version: int) -> DataFrame:
    from pyspark.sql import functions as F

    features = inputs.get("features") or {}
    uri, delta_v, batch_id = features.get("uri"), features.get("version"), inputs.get("batch_id")
    if uri is None or delta_v is None or batch_id is None:
        raise ReproduceError(
            f"model '{model}' v{version}: the registry row's training_inputs lack the features table "
            f"uri/version or the batch id ({inputs})"
        )
    try:
        df = spark.read.format("delta").option("versionAsOf", int(delta_v)).load(uri)
    except Exception as exc:  # the version may have been vacuumed or the table moved
        raise ReproduceError(
            f"model '{model}' v{version}: cannot read {uri} as of Delta version {delta_v}: {exc}"
        ) from exc
    return df.where(F.col("_batch_id") == batch_id)


def rebuilt_training_set(
    spark: SparkSession, spec: ModelSpec, inputs: dict[str, Any], features: DataFrame
) -> dict[str, Any]:
    """Rebuild a windowed version's training set from ``validated`` and ``labels`` as of the
    recorded Delta versions, and compare it with the recorded features: the same rows, labels and
    train/holdout split."""
    from pyspark.sql import functions as F

    from mlplatform.data.training_window import WindowPlan, rows_as_of

    plan = WindowPlan.model_validate(inputs["window"])
    rebuilt = rows_as_of(
        spark, spec, plan, validated_uri=inputs["validated"]["uri"], labels_uri=inputs["labels"]["uri"]
    ).select("_row_id", F.col("_label").cast("double").alias("label"), F.col("_split").alias("split"))
    recorded = features.select("_row_id", F.col("label").cast("double").alias("label"), "split")
    differing = rebuilt.exceptAll(recorded).count() + recorded.exceptAll(rebuilt).count()
    rows = recorded.count()
    from_window = recorded.where(~F.col("_row_id").startswith(f"{plan.base_batch_id}:")).count()
    return {"rows": rows, "window_rows": from_window, "differing_rows": differing, "matches": differing == 0}


def reproduce_version(
    spark: SparkSession,
    settings: Settings,
    model: str,
    version: int,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """Retrain version ``version`` of ``model`` from its recorded inputs; compare holdout predictions.

    Raises ``SpecChangedError`` (naming the changed fields) when the spec's hash differs from the
    recorded one, ``ReproduceError`` when the record or the inputs are missing. The report's
    ``passed`` is true when the max abs difference of holdout predictions is <= ``tolerance``.
    """
    import numpy as np
    from pyspark.sql import functions as F

    from mlplatform.config.specs import load_spec, spec_path
    from mlplatform.core.provenance import code_version, library_versions
    from mlplatform.io import files as filestore
    from mlplatform.io.layout import StorageLayout
    from mlplatform.modeling.booster import load_booster, predict_scores
    from mlplatform.modeling.training import train_model
    from mlplatform.registry import ModelRegistry

    layout = StorageLayout(settings.storage_root)
    registry_uri = layout.platform_table("model_registry")
    row = _registered_row(spark, registry_uri, model, version)
    params = json.loads(row.get("params") or "{}")
    spec = load_spec(spec_path(settings.spec_dir, model))
    loaded = ModelRegistry(spark, registry_uri).load_version(model, version)
    if spec.content_hash != row["spec_hash"]:
        changes = spec_changes(spec, params, loaded.feature_state)
        detail = "; ".join(changes) if changes else "fields outside the recorded training/features sections"
        raise SpecChangedError(
            f"spec of model '{model}' changed since version {version} was trained (recorded spec hash "
            f"{str(row['spec_hash'])[:12]}, current {spec.content_hash[:12]}): {detail}. Restore the spec "
            "that trained this version to reproduce it, or train a new version.",
            changes,
        )
    inputs = json.loads(row.get("training_inputs") or "{}")
    record, record_source = _training_record(spark, layout.platform_table("lineage"), row, params)
    warnings: list[str] = []
    if record is None:
        warnings.append(
            "no training record (path, threads, workers) in the registry or lineage; "
            "the path is chosen again from the current settings"
        )
    record = record or {}
    names = list(loaded.feature_state["feature_names"])
    batch = _features_as_of(spark, inputs, model, version)
    training_set = None
    if inputs.get("window"):
        training_set = rebuilt_training_set(spark, spec, inputs, batch)
        if (params.get("conf") or {}).get("sample_size"):
            warnings.append("the run sampled its rows (conf sample_size): the rebuilt set is not compared")
            training_set["matches"] = None
    train = batch.where(F.col("split") == "train")
    result = train_model(
        train,
        spec,
        settings,
        names,
        table=str(inputs["features"]["uri"]),
        path=record.get("path"),
        nthread=record.get("nthread"),
        num_workers=record.get("num_workers"),
    )
    holdout = batch.where(F.col("split") == "holdout").select("entity_id", "_row_id", *names).toPandas()
    if holdout.empty:
        raise ReproduceError(f"model '{model}' v{version}: batch {inputs['batch_id']} has no holdout rows")
    holdout = holdout.sort_values(["entity_id", "_row_id"], kind="mergesort").reset_index(drop=True)
    registered = predict_scores(loaded.booster(), holdout)
    reproduced = predict_scores(load_booster(result.booster_raw), holdout)
    max_diff = float(np.max(np.abs(registered - reproduced)))
    if record.get("params") is not None and record["params"] != result.params:
        warnings.append(f"recorded params {record['params']} differ from the retrain's {result.params}")
    for key in ("rows", "positives", "best_iteration"):
        if key in record and record[key] != getattr(result, key):
            warnings.append(f"recorded {key} {record[key]} != reproduced {getattr(result, key)}")
    current_env = library_versions()
    recorded_env = params.get("environment") or record.get("libraries")
    if recorded_env:
        for lib, ver in sorted(recorded_env.items()):
            if current_env.get(lib) != ver:
                warnings.append(f"{lib} {ver} at training, {current_env.get(lib)} now")
    missing = [
        name
        for name, present in (
            (
                "params.training (path, native params, best_iteration, nthread/num_workers)",
                "training" in params,
            ),
            ("params.environment (library versions)", "environment" in params),
            ("params.spec (the full spec, to name any changed field)", "spec" in params),
        )
        if not present
    ]
    return {
        "model": model,
        "version": version,
        "passed": bool(max_diff <= tolerance) and (training_set or {}).get("matches") is not False,
        "training_set": training_set,
        "max_abs_diff": max_diff,
        "tolerance": tolerance,
        "holdout_rows": len(holdout),
        "spec_hash": row["spec_hash"],
        "training_inputs": inputs,
        "features_as_of": {
            "uri": inputs["features"]["uri"],
            "version": inputs["features"]["version"],
            "batch_id": inputs["batch_id"],
        },
        "training_record_source": record_source,
        "path": result.path,
        "recorded_path": record.get("path"),
        "params": result.params,
        "best_iteration": result.best_iteration,
        "recorded_best_iteration": record.get("best_iteration"),
        "rows": result.rows,
        "nthread": result.nthread,
        "num_workers": result.num_workers,
        "booster_sha256": {
            "registered": row["booster_sha256"],
            "reproduced": filestore.sha256_hex(result.booster_raw),
        },
        "booster_identical": filestore.sha256_hex(result.booster_raw) == row["booster_sha256"],
        "code_version": {"recorded": row.get("code_version"), "current": code_version()},
        "environment": {"recorded": recorded_env, "current": current_env},
        "missing_from_registry": missing,
        "warnings": warnings,
        "seconds": round(result.seconds, 3),
    }
