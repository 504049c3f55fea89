"""The lifecycle steps, one function per DAG task, each recording its lineage.

A step takes the model spec, the run context and small values from earlier steps, does its work
on Spark and Delta, and returns a small JSON-able dict for the next step. ``run_step`` wraps every
step in the lineage record, so the Airflow glue only translates Airflow's context.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlplatform.config.settings import Settings, get_settings
from mlplatform.config.specs import ModelSpec, load_spec, load_specs, spec_path
from mlplatform.core.context import RunContext
from mlplatform.core.provenance import code_version
from mlplatform.io import files as filestore
from mlplatform.io.catalog import TABLES
from mlplatform.io.delta import (
    append_rows,
    delta_version,
    replace_partition,
    replace_table_partition,
    sql_literal,
)
from mlplatform.io.layout import StorageLayout, safe_key
from mlplatform.lineage.recorder import LineageEntry, record_lineage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass
class Platform:
    """What every step needs: settings, the storage layout, the spec and the Spark session."""

    settings: Settings
    layout: StorageLayout
    spec: ModelSpec
    spark: SparkSession

    def table(self, name: str) -> str:
        return self.layout.platform_table(name)

    def model_table(self, name: str) -> str:
        return self.layout.model_table(self.spec.name, name)


def open_platform(model: str, settings: Settings | None = None) -> Platform:
    from mlplatform.io.spark import get_spark

    settings = settings or get_settings()
    spec = load_spec(spec_path(settings.spec_dir, model))
    return Platform(settings, StorageLayout(settings.storage_root), spec, get_spark(settings))


def training_batch_id(ctx: RunContext) -> str:
    return f"train__{safe_key(ctx.run_id)}"


def scoring_batch_id(ctx: RunContext) -> str:
    return f"score__{ctx.ds}"


def resolve_path(p: Platform, template: str, ds: str) -> str:
    """A spec path with ``{storage_root}``, ``{model}``, ``{ds}`` and ``{datasets_dir}`` filled in."""
    return template.format(
        storage_root=p.settings.storage_root.rstrip("/"),
        model=p.spec.name,
        ds=ds,
        datasets_dir=str(p.settings.datasets_dir).rstrip("/"),
    )


def source_uri(p: Platform, mode: str, ds: str) -> str:
    source = p.spec.source.training if mode == "training" else p.spec.source.scoring
    return resolve_path(p, source.path, ds)


def _staging(p: Platform, ctx: RunContext) -> str:
    return p.layout.staging_dir(p.spec.name, safe_key(ctx.run_id))


# --- shared steps -------------------------------------------------------------------------------


def step_ingest(p: Platform, ctx: RunContext, entry: LineageEntry, *, mode: str) -> dict[str, Any]:
    """Source file → the batch's bronze partition (all strings, nothing dropped)."""
    from mlplatform.data.ingest import ingest_to_bronze, source_schema
    from mlplatform.data.source_schema import check_and_record
    from mlplatform.registry.store import ensure_not_retired

    ensure_not_retired(p.spark, p.table("model_registry"), p.spec.name)
    batch_id = training_batch_id(ctx) if mode == "training" else scoring_batch_id(ctx)
    uri = source_uri(p, mode, ctx.ds)
    source = p.spec.source.training if mode == "training" else p.spec.source.scoring
    bronze = p.model_table("bronze")
    entry.read("source", uri)
    schemas_uri = p.table("source_schemas")
    schema = check_and_record(
        p.spark, schemas_uri, p.spec, mode, source_schema(p.spark, source, uri), uri, ctx.run_id
    )
    entry.params.update(schema)
    entry.read("source_schemas", schemas_uri, delta_version(p.spark, schemas_uri))
    out = ingest_to_bronze(p.spark, p.spec, source, uri, bronze, batch_id, require_target=mode == "training")
    entry.wrote("bronze", bronze, int(out["bronze_version"]))
    entry.params.update(
        {"mode": mode, "batch_id": batch_id, "rows": out["rows"], "extra_columns": out["extra_columns"]}
    )
    return {
        "batch_id": batch_id,
        "mode": mode,
        "rows": out["rows"],
        "bronze_version": out["bronze_version"],
        "source_uri": uri,
        "schema_version": schema["schema_version"],
    }


def step_validate(
    p: Platform, ctx: RunContext, entry: LineageEntry, *, batch: dict[str, Any]
) -> dict[str, Any]:
    """GX validation of the bronze batch: quarantine bad rows, write typed good rows."""
    from mlplatform.data import validation as v
    from mlplatform.data.ingest import read_batch

    batch_id, mode = batch["batch_id"], batch["mode"]
    require_target = mode == "training"
    bronze_uri = p.model_table("bronze")
    entry.read("bronze", bronze_uri, delta_version(p.spark, bronze_uri))
    bronze = read_batch(p.spark, bronze_uri, batch_id).cache()
    prepared = v.prepare_for_validation(bronze, p.spec, require_target=require_target).cache()
    gx_dir = p.layout.data_docs_dir() if p.settings.is_local_storage else None
    outcome = v.run_gx(
        prepared,
        p.spec,
        v.build_suite(p.spec, require_target=require_target),
        suite_name=f"{p.spec.name}_{mode}",
        gx_project_dir=gx_dir,
        run_name=f"{p.spec.name}:{batch_id}",
    )
    table_failures = v.table_level_failures(outcome, p.spec)
    results_uri = p.table("validation_results")
    key = f"model_name = {sql_literal(p.spec.name)} AND batch_id = {sql_literal(batch_id)}"
    results_df = p.spark.createDataFrame(
        v.results_rows(outcome, model=p.spec.name, batch_id=batch_id, run_id=ctx.run_id),
        TABLES["validation_results"].ddl,
    )
    entry.wrote(
        "validation_results",
        results_uri,
        replace_table_partition(p.spark, TABLES["validation_results"], results_uri, results_df, key),
    )
    quarantine_uri = p.table("quarantine")
    quarantined = v.quarantine_frame(
        p.spark, bronze, outcome, model=p.spec.name, batch_id=batch_id, run_id=ctx.run_id
    )
    entry.wrote(
        "quarantine",
        quarantine_uri,
        replace_table_partition(p.spark, TABLES["quarantine"], quarantine_uri, quarantined, key),
    )
    entry.params.update(v.summarise(outcome))
    if outcome.data_docs_uri:
        entry.wrote("data_docs", outcome.data_docs_uri)
    if table_failures:
        raise v.DataQualityError(
            f"source file {batch.get('source_uri')} (table {bronze_uri}, batch {batch_id}) for model "
            f"'{p.spec.name}' failed table-level expectations: {'; '.join(table_failures)}"
        )
    if outcome.bad_fraction > p.spec.validation.max_bad_row_fraction:
        raise v.DataQualityError(v.failure_message(p.spec, bronze_uri, outcome))
    validated = v.validated_frame(p.spark, prepared, outcome, p.spec)
    from pyspark.sql import functions as F

    validated_uri = p.model_table("validated")
    version = replace_partition(
        p.spark,
        validated.withColumn("_batch_id", F.lit(batch_id)),
        validated_uri,
        f"_batch_id = {sql_literal(batch_id)}",
        partition_by=("_batch_id",),
    )
    entry.wrote("validated", validated_uri, version)
    good = outcome.total_rows - outcome.bad_rows
    bronze.unpersist()
    prepared.unpersist()
    return {
        **batch,
        "validated_rows": good,
        "quarantined_rows": outcome.bad_rows,
        "validated_version": version,
        "data_docs_uri": outcome.data_docs_uri,
    }


def _write_features(p: Platform, features: Any, batch_id: str, entry: LineageEntry) -> int:
    from pyspark.sql import functions as F

    uri = p.model_table("features")
    version = replace_partition(
        p.spark,
        features.withColumn("_batch_id", F.lit(batch_id)),
        uri,
        f"_batch_id = {sql_literal(batch_id)}",
        partition_by=("_batch_id",),
    )
    entry.wrote("features", uri, version)
    return version


def _aggregate_history(p: Platform, current: Any, batch_id: str) -> Any:
    """Validated rows of the model's other batches for the windowed aggregates (None without any).

    Only the columns the aggregates read, plus the id; rows repeated across batches (a source
    ingested twice) or equal to a current row count once.
    """
    from pyspark.sql import functions as F

    aggs, cols = p.spec.features.aggregates, p.spec.columns
    if not aggs:
        return None
    needed = list(dict.fromkeys([cols.id, str(cols.entity), str(cols.event_time)]))
    needed += list(dict.fromkeys(a.column for a in aggs if a.column not in ("*", *needed)))
    others = (
        p.spark.read.format("delta").load(p.model_table("validated")).where(F.col("_batch_id") != batch_id)
    )
    return others.select(*needed).subtract(current.select(*needed))


def step_features(
    p: Platform, ctx: RunContext, entry: LineageEntry, *, batch: dict[str, Any]
) -> dict[str, Any]:
    """Validated rows → features. Training fits the state on its train split; scoring uses the champion's."""
    from mlplatform.data.ingest import read_batch
    from mlplatform.features import engineering as fe
    from mlplatform.registry.store import load_champion

    batch_id, mode = batch["batch_id"], batch["mode"]
    validated_uri = p.model_table("validated")
    entry.read("validated", validated_uri, delta_version(p.spark, validated_uri))
    validated = read_batch(p.spark, validated_uri, batch_id)
    result: dict[str, Any] = dict(batch)
    if mode == "training":
        sample = int(ctx.conf.get("sample_size") or 0)
        if sample > 0:
            total = max(int(batch.get("validated_rows") or 1), 1)
            if sample < total:
                validated = validated.sample(fraction=sample / total, seed=p.spec.training.seed)
        train_rows = validated.where(fe.split_column(p.spec) == "train")
        state = fe.fit_feature_state(train_rows, p.spec)
        state_uri = f"{_staging(p, ctx)}/feature_state.json"
        filestore.write_text(state_uri, json.dumps(state, sort_keys=True, allow_nan=False))
        entry.wrote("feature_state", state_uri)
        history = _aggregate_history(p, validated, batch_id)
        features = fe.apply_features(validated, p.spec, state, with_split=True, history=history)
        result["feature_state_uri"] = state_uri
    else:
        champion = load_champion(p.spark, p.table("model_registry"), p.spec.name)
        entry.model_version = champion.version
        entry.read(
            "model_registry", p.table("model_registry"), delta_version(p.spark, p.table("model_registry"))
        )
        history = _aggregate_history(p, validated, batch_id)
        features = fe.apply_features(
            validated, p.spec, champion.feature_state, with_split=False, history=history
        )
        result["model_version"] = champion.version
    result["features_version"] = _write_features(p, features, batch_id, entry)
    return result


# --- training -----------------------------------------------------------------------------------


def step_train(p: Platform, ctx: RunContext, entry: LineageEntry, *, batch: dict[str, Any]) -> dict[str, Any]:
    """XGBoost on the train split (single-node or distributed by size); the booster goes to staging.

    The features are read as of the Delta version the features step wrote, and how the model was
    trained (path, native params, best iteration, threads/workers) is returned under ``training``
    and recorded in lineage, so that ``mlplatform.modeling.reproduce`` can train it again exactly.
    """
    from pyspark.sql import functions as F

    from mlplatform.core.provenance import library_versions
    from mlplatform.modeling.training import train_model, xgb_params

    uri = p.model_table("features")
    entry.read("features", uri, batch["features_version"])
    features = p.spark.read.format("delta").option("versionAsOf", int(batch["features_version"])).load(uri)
    train = features.where((F.col("_batch_id") == batch["batch_id"]) & (F.col("split") == "train"))
    names = _staged_feature_names(batch)
    result = train_model(train, p.spec, p.settings, names, table=uri)
    booster_uri = f"{_staging(p, ctx)}/model.ubj"
    sha = filestore.write_bytes(booster_uri, result.booster_raw)
    entry.wrote("staged_booster", booster_uri)
    training = {**result.record(), "libraries": library_versions()}
    entry.params.update(
        {
            "xgb_params": xgb_params(p.spec),
            "num_workers": p.settings.xgb_num_workers,
            "rows": result.rows,
            "positives": result.positives,
            "training_path": result.path,
            "best_iteration": result.best_iteration,
            "training": training,
        }
    )
    return {
        **batch,
        "booster_uri": booster_uri,
        "booster_sha256": sha,
        "train_rows": result.rows,
        "training_path": result.path,
        "best_iteration": result.best_iteration,
        "training": training,
    }


def _staged_feature_names(batch: dict[str, Any]) -> list[str]:
    """The booster's features, from the feature state staged by this run's features step."""
    from mlplatform.features.engineering import output_feature_names

    return output_feature_names(json.loads(filestore.read_text(batch["feature_state_uri"])))


def _holdout_pandas(
    p: Platform, batch: dict[str, Any], feature_names: list[str], slices: list[str] | None = None
) -> Any:
    """The batch's holdout features (and raw slice columns as ``slice__<col>``), ordered by row id."""
    from pyspark.sql import functions as F

    from mlplatform.data.ingest import read_batch

    cols = ["_row_id", "entity_id", "label", *feature_names]
    holdout = (
        read_batch(p.spark, p.model_table("features"), batch["batch_id"])
        .where(F.col("split") == "holdout")
        .select(*cols)
    )
    if slices:
        raw = read_batch(p.spark, p.model_table("validated"), batch["batch_id"]).select(
            "_row_id", *[F.col(c).cast("string").alias(f"slice__{c}") for c in slices]
        )
        holdout = holdout.join(raw, "_row_id", "left")
    return holdout.orderBy("_row_id").toPandas()


def step_evaluate(
    p: Platform, ctx: RunContext, entry: LineageEntry, *, trained: dict[str, Any]
) -> dict[str, Any]:
    """Holdout metrics and the reference profile (raw training columns, model inputs, holdout scores)."""
    from pyspark.sql import functions as F

    from mlplatform.data.ingest import read_batch
    from mlplatform.features import engineering as fe
    from mlplatform.modeling.evaluation import calibration_plot_png, full_metrics
    from mlplatform.modeling.training import evaluate, load_booster, predict_scores
    from mlplatform.monitoring.drift import build_reference_profile

    entry.read("features", p.model_table("features"), trained["features_version"])
    raw = filestore.read_bytes(trained["booster_uri"])
    if filestore.sha256_hex(raw) != trained["booster_sha256"]:
        raise RuntimeError(f"staged booster {trained['booster_uri']} changed since training")
    booster = load_booster(raw)
    holdout = _holdout_pandas(p, trained, _staged_feature_names(trained), slices=p.spec.evaluation.slices)
    scores = predict_scores(booster, holdout)
    labels = holdout["label"].to_numpy()
    metrics = evaluate(labels, scores, p.spec.training.decision_threshold)
    report = full_metrics(
        labels,
        scores,
        p.spec.training.decision_threshold,
        n_bootstrap=p.spec.evaluation.bootstrap_samples,
        seed=p.spec.training.seed,
        slices={name: holdout[f"slice__{name}"].to_numpy() for name in p.spec.evaluation.slices},
    )
    validated = read_batch(p.spark, p.model_table("validated"), trained["batch_id"])
    reference = validated.where(fe.split_column(p.spec) == "train")
    profile = build_reference_profile(
        reference,
        p.spec.columns.numeric,
        p.spec.columns.categorical,
        bins=p.spec.drift.bins,
        max_categories=p.spec.features.max_categories,
    )
    score_df = p.spark.createDataFrame([(float(s),) for s in scores], "score double")
    profile["prediction"] = build_reference_profile(score_df, ["score"], [], bins=p.spec.drift.bins)[
        "features"
    ]["score"]
    profile["score_col"] = "score"
    feature_names = _staged_feature_names(trained)
    train_inputs = read_batch(p.spark, p.model_table("features"), trained["batch_id"]).where(
        F.col("split") == "train"
    )
    profile["model_inputs"] = build_reference_profile(train_inputs, feature_names, [], bins=p.spec.drift.bins)
    staging = _staging(p, ctx)
    filestore.write_text(f"{staging}/metrics.json", json.dumps(metrics, sort_keys=True))
    filestore.write_text(f"{staging}/evaluation.json", json.dumps(report, sort_keys=True, allow_nan=False))
    filestore.write_bytes(f"{staging}/calibration.png", calibration_plot_png(report["calibration"]))
    filestore.write_text(
        f"{staging}/reference_profile.json", json.dumps(profile, sort_keys=True, allow_nan=False)
    )
    entry.params.update({"metrics": metrics, "confidence_intervals": report["confidence_intervals"]})
    return {**trained, "metrics": metrics}


def package_explanation(p: Platform, ctx: RunContext, model: Any, html: str, importance: list[dict]) -> str:
    """Write the SHAP report and the model card into the version folder with a checksummed manifest.

    They exist only once the version does, so they get their own manifest, whose sha256 lands in the
    registry as an ``explained`` event next to the ``registered`` one.
    """
    from mlplatform.governance.model_card import (
        build_model_card,
        library_versions,
        render_model_card_markdown,
    )
    from mlplatform.registry.store import versions

    entry = next(
        e for e in versions(p.spark, p.table("model_registry"), p.spec.name) if e["version"] == model.version
    )
    evaluation_uri = f"{model.artifact_uri}/evaluation.json"
    report = (
        json.loads(filestore.read_text(evaluation_uri)) if filestore.exists(evaluation_uri) else model.metrics
    )
    card = build_model_card(
        p.spec,
        model.version,
        report,
        importance[:10],
        json.loads(entry["training_inputs"] or "{}"),
        json.loads(entry["params"] or "{}"),
        entry["code_version"] or "unknown",
        library_versions(),
    )
    files = {
        "shap_report.html": html.encode(),
        "model_card.json": json.dumps(card, indent=2, sort_keys=True, default=str).encode(),
        "model_card.md": render_model_card_markdown(card).encode(),
    }
    checksums = {
        name: filestore.write_bytes(f"{model.artifact_uri}/{name}", data) for name, data in files.items()
    }
    manifest = json.dumps({"files": checksums, "version": model.version}, indent=2, sort_keys=True).encode()
    manifest_uri = f"{model.artifact_uri}/explanation_manifest.json"
    append_rows(
        p.spark,
        p.table("model_registry"),
        TABLES["model_registry"],
        [
            {
                "model_name": p.spec.name,
                "version": model.version,
                "event": "explained",
                "alias": None,
                "run_id": ctx.run_id,
                "dag_id": ctx.dag_id,
                "actor": ctx.triggered_by or ctx.trigger_type,
                "reason": "SHAP report and model card",
                "artifact_uri": model.artifact_uri,
                "booster_sha256": None,
                "manifest_sha256": filestore.write_bytes(manifest_uri, manifest),
                "metrics": None,
                "spec_hash": None,
                "training_inputs": None,
                "params": None,
                "code_version": code_version(),
                "event_time": datetime.now(UTC),
            }
        ],
    )
    return f"{model.artifact_uri}/model_card.md"


def step_explain(
    p: Platform, ctx: RunContext, entry: LineageEntry, *, registered: dict[str, Any]
) -> dict[str, Any]:
    """SHAP report of the registered version (XGBoost TreeSHAP values, shap plots) on a holdout sample."""
    from mlplatform.features.engineering import output_feature_names
    from mlplatform.modeling.explain import compute_shap_values, render_shap_report, shap_importance_rows
    from mlplatform.modeling.training import predict_scores
    from mlplatform.registry.store import load_version

    version = int(registered["version"])
    model = load_version(p.spark, p.table("model_registry"), p.spec.name, version)
    entry.model_version = version
    booster = model.booster()
    entry.read("features", p.model_table("features"), registered["features_version"])
    names = output_feature_names(model.feature_state)
    holdout = _holdout_pandas(p, registered, names)
    n = min(len(holdout), p.spec.training.shap_sample_rows)
    sample = holdout.sample(n=n, random_state=p.spec.training.seed) if n < len(holdout) else holdout
    X = sample[names].reset_index(drop=True)
    result = compute_shap_values(booster, X)
    html = render_shap_report(
        result,
        model_name=p.spec.name,
        model_version=version,
        metrics=model.metrics,
        scores=predict_scores(booster, X),
    )
    report_uri = p.layout.shap_report(p.spec.name, version)
    sha = filestore.write_text(report_uri, html)
    importance = shap_importance_rows(result)
    entry.wrote("shap_report", report_uri)
    entry.params.update({"shap_report_sha256": sha, "shap_rows": n, "top_features": importance[:5]})
    now = datetime.now(UTC)
    shap_rows = [
        {
            "model_name": p.spec.name,
            "version": version,
            "feature": r["feature"],
            "mean_abs_shap": r["mean_abs_shap"],
            "rank": r["rank"],
            "rows_explained": n,
            "computed_at": now,
        }
        for r in importance
    ]
    shap_uri = p.table("shap_importance")
    key = f"model_name = {sql_literal(p.spec.name)} AND version = {version}"
    shap_df = p.spark.createDataFrame(shap_rows, TABLES["shap_importance"].ddl)
    entry.wrote(
        "shap_importance",
        shap_uri,
        replace_table_partition(p.spark, TABLES["shap_importance"], shap_uri, shap_df, key),
    )
    entry.wrote("model_card", package_explanation(p, ctx, model, html, importance))
    return {**registered, "shap_report": report_uri, "top_features": [r["feature"] for r in importance[:5]]}


def step_register(
    p: Platform, ctx: RunContext, entry: LineageEntry, *, evaluated: dict[str, Any]
) -> dict[str, Any]:
    """Register the staged model as a new version: artifacts, checksums, registry event, catalog."""
    from mlplatform.core.provenance import library_versions
    from mlplatform.features.engineering import output_feature_names
    from mlplatform.features.feature_catalog import sync_catalog
    from mlplatform.registry.store import register_version

    staging = _staging(p, ctx)
    booster_raw = filestore.read_bytes(evaluated["booster_uri"])
    if filestore.sha256_hex(booster_raw) != evaluated["booster_sha256"]:
        raise RuntimeError(f"staged booster {evaluated['booster_uri']} changed since training")
    state = json.loads(filestore.read_text(f"{staging}/feature_state.json"))
    names = output_feature_names(state)
    documents = {
        "feature_state.json": state,
        "reference_profile.json": json.loads(filestore.read_text(f"{staging}/reference_profile.json")),
        "metrics.json": evaluated["metrics"],
        "signature.json": {
            "feature_names": names,
            "feature_types": ["double"] * len(names),
            "target": p.spec.columns.target,
            "decision_threshold": p.spec.training.decision_threshold,
        },
    }
    registry_uri = p.table("model_registry")
    features_uri = p.model_table("features")
    training_inputs = {
        "bronze": {"uri": p.model_table("bronze"), "version": evaluated["bronze_version"]},
        "validated": {"uri": p.model_table("validated"), "version": evaluated["validated_version"]},
        "features": {"uri": features_uri, "version": evaluated["features_version"]},
        "batch_id": evaluated["batch_id"],
        "source_uri": source_uri(p, "training", ctx.ds),
    }
    version, created = register_version(
        p.spark,
        registry_uri,
        model=p.spec.name,
        version_dir_for=lambda v: p.layout.model_version_dir(p.spec.name, v),
        booster_raw=booster_raw,
        documents=documents,
        extra_files={
            name: filestore.read_bytes(f"{staging}/{name}")
            for name in ("evaluation.json", "calibration.png")
            if filestore.exists(f"{staging}/{name}")
        },
        run_id=ctx.run_id,
        dag_id=ctx.dag_id,
        actor=ctx.triggered_by or ctx.trigger_type,
        reason=ctx.reason or f"{ctx.trigger_type} training run",
        spec_hash=p.spec.content_hash,
        training_inputs=training_inputs,
        params={
            "xgb": p.spec.training.model_dump(),
            "conf": ctx.conf,
            "training": evaluated.get("training"),
            "environment": library_versions(),
            "spec": json.loads(p.spec.model_dump_json()),
        },
        code_version=code_version(),
    )
    entry.model_version = version
    entry.read("features", features_uri, evaluated["features_version"])
    entry.wrote("model_registry", registry_uri, delta_version(p.spark, registry_uri))
    entry.params["created"] = created
    catalog_uri = p.table("feature_catalog")
    sync_catalog(p.spark, catalog_uri, registry_uri, list(load_specs(p.settings.spec_dir).values()))
    entry.wrote("feature_catalog", catalog_uri, delta_version(p.spark, catalog_uri))
    return {
        "version": version,
        "metrics": evaluated["metrics"],
        "batch_id": evaluated["batch_id"],
        "features_version": evaluated["features_version"],
    }


def _holdout_scores(p: Platform, batch_id: str, model: Any) -> Any:
    """A version's scores on the batch's holdout rows (its own feature state), by ``_row_id``."""
    from mlplatform.data.ingest import read_batch
    from mlplatform.features import engineering as fe
    from mlplatform.modeling.training import predict_scores

    validated = read_batch(p.spark, p.model_table("validated"), batch_id)
    holdout = validated.where(fe.split_column(p.spec) == "holdout")
    frame = (
        fe.apply_features(holdout, p.spec, model.feature_state, with_split=False)
        .orderBy("_row_id")
        .toPandas()
    )
    return frame[["_row_id", "label"]].assign(score=predict_scores(model.booster(), frame))


def _training_quality(p: Platform, batch_id: str) -> tuple[float, int]:
    """Bad-row share and table-level failures recorded for a training batch's validation."""
    from pyspark.sql import functions as F

    results = (
        p.spark.read.format("delta")
        .load(p.table("validation_results"))
        .where((F.col("model_name") == p.spec.name) & (F.col("batch_id") == batch_id))
        .collect()
    )
    if not results:
        return 1.0, 1
    quarantined = (
        p.spark.read.format("delta")
        .load(p.table("quarantine"))
        .where((F.col("model_name") == p.spec.name) & (F.col("batch_id") == batch_id))
        .count()
    )
    total = max(int(results[0]["element_count"] or 0), 1)
    table_failures = sum(
        1 for r in results if not r["success"] and r["expectation"].startswith("expect_table")
    )
    return quarantined / total, table_failures


def step_gate(
    p: Platform, ctx: RunContext, entry: LineageEntry, *, explained: dict[str, Any]
) -> dict[str, Any]:
    """The automatic promotion checks: thresholds, training data quality, and the champion on the same rows."""
    from mlplatform.modeling.evaluation import paired_auc_difference
    from mlplatform.registry.store import champion_version, decide_promotion, load_version

    registry_uri = p.table("model_registry")
    version = int(explained["version"])
    entry.model_version = version
    rules = p.spec.promotion
    current = champion_version(p.spark, registry_uri, p.spec.name)
    passed, checks = decide_promotion(explained["metrics"], rules, None)
    bad_share, table_failures = _training_quality(p, explained["batch_id"])
    checks.append(
        {
            "check": "training_data_quality",
            "value": bad_share,
            "threshold": p.spec.validation.max_bad_row_fraction,
            "passed": table_failures == 0 and bad_share <= p.spec.validation.max_bad_row_fraction,
        }
    )
    if current is not None and current != version:
        challenger = load_version(p.spark, registry_uri, p.spec.name, version)
        champion = load_version(p.spark, registry_uri, p.spec.name, current)
        try:
            new, old = (
                _holdout_scores(p, explained["batch_id"], challenger),
                _holdout_scores(p, explained["batch_id"], champion),
            )
            diff = paired_auc_difference(
                new["label"].to_numpy(),
                new["score"].to_numpy(),
                old["score"].to_numpy(),
                n_bootstrap=rules.bootstrap_samples,
                seed=p.spec.training.seed,
            )
            bound = diff["low"] if rules.require_significant_improvement else diff["difference"]
            checks.append(
                {
                    "check": "beats_champion_auc",
                    "value": diff["difference"],
                    "threshold": rules.min_auc_improvement,
                    "passed": bound >= rules.min_auc_improvement
                    if not rules.require_significant_improvement
                    else bound > rules.min_auc_improvement,
                    "champion_version": current,
                    "challenger_auc": diff["challenger_auc"],
                    "champion_auc": diff["champion_auc"],
                    "interval": [diff["low"], diff["high"]],
                    "level": diff["level"],
                    "same_holdout_rows": len(new),
                }
            )
        except ValueError as exc:  # the champion was built for other features: compare recorded AUCs
            recorded = decide_promotion(explained["metrics"], rules, champion.metrics)[1][-1]
            checks.append(
                {
                    **recorded,
                    "champion_version": current,
                    "note": f"champion not comparable on the same rows ({exc}); recorded holdout AUC used",
                }
            )
    passed = all(c["passed"] for c in checks)
    failed = [c["check"] for c in checks if not c["passed"]]
    entry.params.update({"checks": checks, "passed": passed})
    return {
        "version": version,
        "passed": passed,
        "checks": checks,
        "champion_version": current,
        "reason": "all checks passed" if passed else f"failed: {', '.join(failed)}",
        "require_approval": rules.require_approval,
    }


def step_promote(
    p: Platform,
    ctx: RunContext,
    entry: LineageEntry,
    *,
    gate: dict[str, Any],
    approval: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record the decision (checks and human approval) and make the version champion only when it passed."""

    from mlplatform.registry.store import PromotionConflictError, append_alias_events, champion_version

    registry_uri = p.table("model_registry")
    version = int(gate["version"])
    entry.model_version = version
    current = champion_version(p.spark, registry_uri, p.spec.name)
    if current == version:
        return {"version": version, "promoted": True, "champion_version": version, "already": True}
    if current != gate["champion_version"]:
        raise PromotionConflictError(
            f"model '{p.spec.name}': the champion changed from v{gate['champion_version']} to v{current} "
            f"after the gate compared v{version} with it; rerun the gate"
        )
    approval_status, approver, comment = "not_required", None, None
    if gate["require_approval"]:
        if not gate["passed"]:
            approval_status = "not_requested"
        elif approval is None:
            approval_status = "missing"
        else:
            chosen = (approval.get("chosen_options") or [""])[0]
            approval_status = "approved" if chosen.lower().startswith("approve") else "rejected"
            user = approval.get("responded_by_user") or {}
            approver = user.get("name") or user.get("id") if isinstance(user, dict) else str(user)
            comment = (approval.get("params_input") or {}).get("comment")
    promoted = gate["passed"] and approval_status in ("not_required", "approved")
    reason = (
        gate["reason"]
        if approval_status in ("not_required", "not_requested")
        else (f"{gate['reason']}; approval {approval_status}" + (f" by {approver}" if approver else ""))
    )
    decisions_uri = p.table("promotion_decisions")
    append_rows(
        p.spark,
        decisions_uri,
        TABLES["promotion_decisions"],
        [
            {
                "model_name": p.spec.name,
                "version": version,
                "run_id": ctx.run_id,
                "champion_version": current,
                "checks": json.dumps(gate["checks"], default=str),
                "promoted": promoted,
                "reason": reason,
                "approval": approval_status,
                "approver": approver,
                "approval_comment": comment,
                "decided_at": datetime.now(UTC),
            }
        ],
    )
    entry.wrote("promotion_decisions", decisions_uri, delta_version(p.spark, decisions_uri))
    if promoted:
        append_alias_events(
            p.spark,
            registry_uri,
            model=p.spec.name,
            promote=version,
            demote=gate["champion_version"],
            alias="champion",
            run_id=ctx.run_id,
            dag_id=ctx.dag_id,
            actor=approver or ctx.triggered_by or ctx.trigger_type,
            reason=reason,
        )
        entry.wrote("model_registry", registry_uri, delta_version(p.spark, registry_uri))
    entry.params.update({"promoted": promoted, "approval": approval_status, "approver": approver})
    return {
        "version": version,
        "promoted": promoted,
        "champion_version": version if promoted else current,
        "reason": reason,
        "approval": approval_status,
    }


# --- scoring ------------------------------------------------------------------------------------


def step_score(
    p: Platform, ctx: RunContext, entry: LineageEntry, *, featured: dict[str, Any]
) -> dict[str, Any]:
    """Score the batch with the champion resolved at the features step; replace the date's partition."""
    from pyspark.sql import functions as F

    from mlplatform.data.ingest import read_batch
    from mlplatform.modeling.scoring import score_frame
    from mlplatform.registry.store import load_version

    version = int(featured["model_version"])
    model = load_version(p.spark, p.table("model_registry"), p.spec.name, version)
    entry.model_version = version
    features_uri = p.model_table("features")
    entry.read("features", features_uri, featured["features_version"])
    features = read_batch(p.spark, features_uri, featured["batch_id"])
    scored = score_frame(
        p.spark,
        features,
        model.booster_raw,
        model.signature["feature_names"],
        float(model.signature["decision_threshold"]),
    )
    predictions = scored.select(
        F.lit(p.spec.name).alias("model_name"),
        F.to_date(F.lit(ctx.ds)).alias("score_date"),
        F.col("entity_id").alias("row_id"),
        "score",
        "prediction",
        F.lit(version).alias("model_version"),
        F.lit(ctx.run_id).alias("run_id"),
        F.current_timestamp().alias("scored_at"),
    )
    uri = p.table("predictions")
    key = f"model_name = {sql_literal(p.spec.name)} AND score_date = DATE {sql_literal(ctx.ds)}"
    out_version = replace_table_partition(p.spark, TABLES["predictions"], uri, predictions, key)
    entry.wrote("predictions", uri, out_version)
    rows = p.spark.read.format("delta").load(uri).where(key).count()
    entry.params["predictions"] = rows
    return {**featured, "predictions": rows, "predictions_version": out_version}


def step_performance(
    p: Platform, ctx: RunContext, entry: LineageEntry, *, scored: dict[str, Any]
) -> dict[str, Any]:
    """Load the labels that arrived on the logical date; score past predictions against all labels.

    The arrival file replaces the date's ``labels`` partition (reruns are idempotent); performance
    is recomputed for every scoring date in the lookback window that has labels.
    """
    from datetime import date, timedelta

    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from mlplatform.monitoring.performance import performance_by_date, read_labels
    from mlplatform.registry.store import versions

    labels_spec = p.spec.labels
    if labels_spec is None:
        entry.params["labels"] = "not configured"
        return {**scored, "performance": None}
    uri = resolve_path(p, labels_spec.source.path, ctx.ds)
    labels_uri = p.table("labels")
    arrived = filestore.exists(uri)
    new_labels = 0
    if arrived:
        entry.read("labels_source", uri)
        good, bad = read_labels(p.spark, p.spec, uri, ctx.ds)
        now = F.current_timestamp()
        rows = good.select(
            F.lit(p.spec.name).alias("model_name"),
            "row_id",
            "label",
            "label_date",
            F.lit(uri).alias("source_uri"),
            F.lit(ctx.run_id).alias("run_id"),
            now.alias("loaded_at"),
        )
        key = f"model_name = {sql_literal(p.spec.name)} AND label_date = DATE {sql_literal(ctx.ds)}"
        entry.wrote(
            "labels", labels_uri, replace_table_partition(p.spark, TABLES["labels"], labels_uri, rows, key)
        )
        new_labels = good.count()
        rejected = bad.select(
            F.lit(p.spec.name).alias("model_name"),
            F.lit(f"labels__{ctx.ds}").alias("batch_id"),
            F.lit(ctx.run_id).alias("run_id"),
            "row_id",
            F.array(F.col("reason")).alias("reasons"),
            "row_json",
            now.alias("quarantined_at"),
        )
        quarantine_uri = p.table("quarantine")
        qkey = f"model_name = {sql_literal(p.spec.name)} AND batch_id = {sql_literal(f'labels__{ctx.ds}')}"
        entry.wrote(
            "quarantine",
            quarantine_uri,
            replace_table_partition(p.spark, TABLES["quarantine"], quarantine_uri, rejected, qkey),
        )
        entry.params["rejected_labels"] = bad.count()
    entry.params.update({"labels_arrived": arrived, "new_labels": new_labels, "labels_source": uri})
    if delta_version(p.spark, labels_uri) is None:
        return {**scored, "performance": None, "new_labels": 0}

    today = date.fromisoformat(ctx.ds)
    start = (today - timedelta(days=labels_spec.lookback_days)).isoformat()
    latest = Window.partitionBy("row_id").orderBy(F.desc("label_date"))
    labels = (
        p.spark.read.format("delta")
        .load(labels_uri)
        .where((F.col("model_name") == p.spec.name) & (F.col("label_date") <= F.to_date(F.lit(ctx.ds))))
        .withColumn("_rank", F.row_number().over(latest))
        .where("_rank = 1")
        .select("row_id", "label")
    )
    predictions_uri = p.table("predictions")
    window = F.col("score_date").between(F.to_date(F.lit(start)), F.to_date(F.lit(ctx.ds)))
    predictions = (
        p.spark.read.format("delta")
        .load(predictions_uri)
        .where((F.col("model_name") == p.spec.name) & window)
        .select("score_date", "row_id", "score", "prediction", "model_version")
    )
    entry.read("labels", labels_uri, delta_version(p.spark, labels_uri))
    entry.read("predictions", predictions_uri, delta_version(p.spark, predictions_uri))
    registered = {int(v["version"]): v for v in versions(p.spark, p.table("model_registry"), p.spec.name)}
    thresholds, reference_auc = {}, {}
    for v, row in registered.items():
        metrics = json.loads(row.get("metrics") or "{}")
        signature_threshold = metrics.get("decision_threshold", p.spec.training.decision_threshold)
        thresholds[v] = float(signature_threshold)
        if metrics.get("auc") is not None:
            reference_auc[v] = float(metrics["auc"])
    perf = performance_by_date(predictions, labels, thresholds).collect()
    now_ts = datetime.now(UTC)
    rows = [
        {
            **r.asDict(),
            "model_name": p.spec.name,
            "reference_auc": reference_auc.get(int(r["model_version"])),
            "labels_through": today,
            "run_id": ctx.run_id,
            "computed_at": now_ts,
        }
        for r in perf
    ]
    perf_uri = p.table("performance_metrics")
    key = (
        f"model_name = {sql_literal(p.spec.name)} AND score_date >= DATE {sql_literal(start)} "
        f"AND score_date <= DATE {sql_literal(ctx.ds)}"
    )
    df = p.spark.createDataFrame(rows, TABLES["performance_metrics"].ddl)
    entry.wrote(
        "performance_metrics",
        perf_uri,
        replace_table_partition(p.spark, TABLES["performance_metrics"], perf_uri, df, key),
    )
    usable = [r for r in rows if r["labeled_rows"] >= labels_spec.min_labeled_rows and r["auc"] is not None]
    latest_perf = max(usable, key=lambda r: r["score_date"], default=None)
    performance = None
    if latest_perf is not None:
        performance = {
            "score_date": latest_perf["score_date"].isoformat(),
            "auc": latest_perf["auc"],
            "precision": latest_perf["precision"],
            "recall": latest_perf["recall"],
            "labeled_rows": int(latest_perf["labeled_rows"]),
            "reference_auc": latest_perf["reference_auc"],
            "model_version": int(latest_perf["model_version"]),
        }
    entry.params.update({"performance": performance, "dates_with_labels": len(rows)})
    return {**scored, "performance": performance, "new_labels": new_labels}


def step_policy(
    p: Platform, ctx: RunContext, entry: LineageEntry, *, drift: dict[str, Any], performance: dict[str, Any]
) -> dict[str, Any]:
    """Judge today's run by the spec's retraining policy and record the decision (append-only)."""
    from datetime import date

    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from mlplatform.monitoring.performance import Signals, decide_retraining

    perf = performance.get("performance") or {}
    signals = Signals(
        share_drifted=float(drift["share_drifted"]),
        drifted_features=list(drift["features_drifted"]),
        prediction_drifted=bool(drift["prediction_drifted"]),
        auc=perf.get("auc"),
        reference_auc=perf.get("reference_auc"),
        performance_date=perf.get("score_date"),
    )
    uri = p.table("monitoring_decisions")
    earlier: list[dict[str, Any]] = []
    if delta_version(p.spark, uri) is not None:
        entry.read("monitoring_decisions", uri, delta_version(p.spark, uri))
        last = Window.partitionBy("score_date").orderBy(F.desc("decided_at"))
        earlier = [
            r.asDict()
            for r in p.spark.read.format("delta")
            .load(uri)
            .where((F.col("model_name") == p.spec.name) & (F.col("score_date") < F.to_date(F.lit(ctx.ds))))
            .withColumn("_rank", F.row_number().over(last))
            .where("_rank = 1")
            .select("score_date", "degraded", "retrain")
            .collect()
        ]
    decision = decide_retraining(p.spec.retraining, signals, earlier, ctx.ds)
    training_dag = f"{p.spec.name}_training"
    row = {
        "model_name": p.spec.name,
        "score_date": date.fromisoformat(ctx.ds),
        "run_id": ctx.run_id,
        "model_version": int(drift["model_version"]),
        "degraded": decision.degraded,
        "signals": json.dumps({"met": decision.signals, "measured": decision.details}, sort_keys=True),
        "consecutive_degraded": decision.consecutive_degraded,
        "retrain": decision.retrain,
        "reason": decision.reason,
        "triggered_dag_id": training_dag if decision.retrain else None,
        "decided_at": datetime.now(UTC),
    }
    entry.wrote(
        "monitoring_decisions",
        uri,
        append_rows(p.spark, uri, TABLES["monitoring_decisions"], [row]),
    )
    entry.params["decision"] = decision.to_dict()
    return {
        "retrain": decision.retrain,
        "degraded": decision.degraded,
        "reason": decision.reason,
        "consecutive_degraded": decision.consecutive_degraded,
        "training_dag_id": training_dag,
        "model_version": int(drift["model_version"]),
    }


def _history(p: Platform, table: str, ds: str, days: int, columns: list[str]) -> list[dict[str, Any]]:
    """Rows of a monitoring table for this model over the ``days`` before and including ``ds``."""
    from pyspark.sql import functions as F

    uri = p.table(table)
    if delta_version(p.spark, uri) is None:
        return []
    day = F.to_date(F.lit(ds))
    rows = (
        p.spark.read.format("delta")
        .load(uri)
        .where((F.col("model_name") == p.spec.name) & F.col("score_date").between(F.date_sub(day, days), day))
        .select(*columns)
        .orderBy("score_date")
        .collect()
    )
    return [r.asDict() for r in rows]


def step_drift(
    p: Platform, ctx: RunContext, entry: LineageEntry, *, scored: dict[str, Any]
) -> dict[str, Any]:
    """Drift of the raw inputs and the scores, and skew of the model inputs, against the reference."""
    from datetime import date

    from pyspark.sql import functions as F

    from mlplatform.data.ingest import read_batch
    from mlplatform.monitoring.drift import compute_drift, drift_summary, render_drift_report
    from mlplatform.registry.store import load_version

    version = int(scored["model_version"])
    model = load_version(p.spark, p.table("model_registry"), p.spec.name, version)
    entry.model_version = version
    validated_uri, predictions_uri = p.model_table("validated"), p.table("predictions")
    entry.read("validated", validated_uri, scored["validated_version"])
    entry.read("predictions", predictions_uri, scored["predictions_version"])
    current = read_batch(p.spark, validated_uri, scored["batch_id"])
    preds = (
        p.spark.read.format("delta")
        .load(predictions_uri)
        .where((F.col("model_name") == p.spec.name) & (F.col("score_date") == F.to_date(F.lit(ctx.ds))))
        .select(F.col("row_id").alias(p.spec.columns.id), "score")
    )
    current = current.join(preds, p.spec.columns.id, "left")
    profile = model.reference_profile
    drifts = compute_drift(profile, current, p.spec.drift, score_col="score")
    if p.spec.drift.check_skew and profile.get("model_inputs"):
        features_uri = p.model_table("features")
        entry.read("features", features_uri, scored["features_version"])
        inputs = read_batch(p.spark, features_uri, scored["batch_id"])
        drifts += compute_drift(profile["model_inputs"], inputs, p.spec.drift, scope="model_input")
    summary = drift_summary(drifts)
    now = datetime.now(UTC)
    base = {
        "model_name": p.spec.name,
        "score_date": date.fromisoformat(ctx.ds),
        "run_id": ctx.run_id,
        "model_version": version,
        "computed_at": now,
    }
    rows = [{**base, **d.to_record()} for d in drifts]
    uri = p.table("drift_metrics")
    key = f"model_name = {sql_literal(p.spec.name)} AND score_date = DATE {sql_literal(ctx.ds)}"
    df = p.spark.createDataFrame(rows, TABLES["drift_metrics"].ddl)
    entry.wrote("drift_metrics", uri, replace_table_partition(p.spark, TABLES["drift_metrics"], uri, df, key))
    days = p.spec.drift.history_days
    history = _history(
        p,
        "drift_metrics",
        ctx.ds,
        days,
        ["score_date", "scope", "feature", "metric", "value", "threshold", "drifted"],
    )
    performance = _history(
        p, "performance_metrics", ctx.ds, days, ["score_date", "auc", "precision", "recall", "labeled_rows"]
    )
    report_uri = p.layout.drift_report(p.spec.name, ctx.ds)
    filestore.write_text(
        report_uri,
        render_drift_report(
            drifts,
            model_name=p.spec.name,
            model_version=version,
            ds=ctx.ds,
            summary=summary,
            history=history,
            performance=performance,
        ),
    )
    entry.wrote("drift_report", report_uri)
    entry.params["drift"] = summary
    return {**summary, "report": report_uri, "model_version": version, "predictions": scored["predictions"]}


def step_retire(
    p: Platform,
    ctx: RunContext,
    entry: LineageEntry,
    *,
    reason: str,
    final_scoring: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Retire the model: archive every version, clear the champion alias, write a retirement event
    and an archive manifest (artifacts and checksums). Later runs of its DAGs skip."""
    from mlplatform.registry.store import archive_version, model_state, retire_model, versions

    registry_uri = p.table("model_registry")
    entry.read("model_registry", registry_uri, delta_version(p.spark, registry_uri))
    before = model_state(p.spark, registry_uri, p.spec.name)
    actor = ctx.triggered_by or ctx.trigger_type
    common = {"actor": actor, "reason": reason, "run_id": ctx.run_id, "dag_id": ctx.dag_id}
    newly_retired = retire_model(p.spark, registry_uri, model=p.spec.name, **common)
    registered = versions(p.spark, registry_uri, p.spec.name)
    archived = [
        int(v["version"])
        for v in registered
        if archive_version(
            p.spark, registry_uri, model=p.spec.name, version=int(v["version"]), force=True, **common
        )
    ]
    manifest = {
        "model": p.spec.name,
        "retired_at": datetime.now(UTC).isoformat(),
        "retired_by": actor,
        "reason": reason,
        "run_id": ctx.run_id,
        "champion_before": before["aliases"].get("champion"),
        "final_scoring": final_scoring,
        "versions": [
            {
                "version": int(v["version"]),
                "artifact_uri": v["artifact_uri"],
                "booster_sha256": v["booster_sha256"],
                "manifest_sha256": v["manifest_sha256"],
            }
            for v in registered
        ],
    }
    manifest_uri = p.layout.retirement_manifest(p.spec.name)
    filestore.write_text(manifest_uri, json.dumps(manifest, indent=2, sort_keys=True))
    entry.wrote("model_registry", registry_uri, delta_version(p.spark, registry_uri))
    entry.wrote("retirement_manifest", manifest_uri)
    after = model_state(p.spark, registry_uri, p.spec.name)
    entry.params.update({"reason": reason, "newly_retired": newly_retired, "archived_versions": archived})
    return {
        "model": p.spec.name,
        "retired": after["retired"],
        "newly_retired": newly_retired,
        "champion_before": before["aliases"].get("champion"),
        "aliases_after": after["aliases"],
        "archived_versions": after["archived"],
        "manifest": manifest_uri,
    }


STEPS: dict[str, Callable[..., dict[str, Any]]] = {
    "ingest": step_ingest,
    "validate": step_validate,
    "build_features": step_features,
    "train": step_train,
    "evaluate": step_evaluate,
    "explain": step_explain,
    "register": step_register,
    "gate": step_gate,
    "promote": step_promote,
    "score": step_score,
    "check_drift": step_drift,
    "check_performance": step_performance,
    "decide_retraining": step_policy,
    "retire": step_retire,
}


def run_step(step: str, model: str, ctx: RunContext, **inputs: Any) -> dict[str, Any]:
    """Run one lifecycle step for a model inside its lineage record."""
    p = open_platform(model)
    with record_lineage(p.spark, p.table("lineage"), ctx, model_name=model) as entry:
        entry.model_version = inputs.get("model_version")
        return STEPS[step](p, ctx, entry, **inputs)
