"""The training steps after the shared ones: train → (evaluate) → register → explain (then the gate).

``evaluate`` lives in ``mlplatform.lifecycle.evaluation``.

Until ``register``, a run's artifacts live in its staging folder; from then on the version is in
the registry, and every later step reads it back through the registry's verified loader.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlplatform.core.context import RunContext
from mlplatform.core.provenance import code_version, library_versions
from mlplatform.io import files
from mlplatform.lifecycle.handoff import (
    EvaluatedModel,
    ExplainedVersion,
    FeaturedBatch,
    RegisteredVersion,
    TrainedModel,
)
from mlplatform.lifecycle.runner import Platform, step

if TYPE_CHECKING:
    from mlplatform.registry import LoadedModel

log = logging.getLogger("mlplatform.lifecycle")


def _staged_feature_names(feature_state_uri: str) -> list[str]:
    from mlplatform.features.engineering import output_feature_names

    return output_feature_names(json.loads(files.read_text(feature_state_uri)))


def _verified_staged_booster(trained: TrainedModel) -> bytes:
    raw = files.read_bytes(trained.booster_uri)
    if files.sha256_hex(raw) != trained.booster_sha256:
        raise RuntimeError(f"staged booster {trained.booster_uri} changed since training (sha256 differs)")
    return raw


@step("train", reads=("features",))
def train(p: Platform, ctx: RunContext, *, batch: FeaturedBatch | dict[str, Any]) -> TrainedModel:
    """XGBoost on the train split (single-node or distributed by size); the booster goes to staging.

    The features are read as of the Delta version the features step wrote, and how the model was
    trained (path, native params, best iteration, threads/workers) is recorded, so that
    ``mlplatform.modeling.reproduce`` can train it again exactly.
    """
    from pyspark.sql import functions as F

    from mlplatform.modeling.training import train_model, xgb_params

    batch = FeaturedBatch.of(batch)
    features = p.read("features", version=batch.features_version)
    train_split = features.where((F.col("_batch_id") == batch.batch_id) & (F.col("split") == "train"))
    names = _staged_feature_names(str(batch.feature_state_uri))
    result = train_model(train_split, p.spec, p.settings, names, table=p.table("features"))
    booster_uri = f"{p.staging(ctx)}/model.ubj"
    sha = files.write_bytes(booster_uri, result.booster_raw)
    p.wrote_file("staged_booster", booster_uri)
    training = {**result.record(), "libraries": library_versions()}
    p.lineage.params.update({"xgb_params": xgb_params(p.spec), "num_workers": p.settings.xgb_num_workers})
    log.info(
        "trained on %s rows (%s positives), %s path, best iteration %s",
        result.rows,
        result.positives,
        result.path,
        result.best_iteration,
    )
    return batch.extend(
        TrainedModel,
        booster_uri=booster_uri,
        booster_sha256=sha,
        train_rows=result.rows,
        training_path=result.path,
        best_iteration=result.best_iteration,
        training=training,
    )


def _signature(p: Platform, names: list[str]) -> dict[str, Any]:
    """What the model takes and gives: its features, task, target and classes or threshold."""
    spec = p.spec
    signature: dict[str, Any] = {
        "feature_names": names,
        "feature_types": ["double"] * len(names),
        "target": spec.columns.target,
        "task": spec.task,
        "decision_threshold": spec.training.decision_threshold if spec.task == "binary" else None,
    }
    if spec.task == "multiclass":
        signature["classes"] = list(spec.columns.classes or [])
    return signature


@step("register", reads=("features",), writes=("model_registry", "feature_catalog"))
def register(
    p: Platform, ctx: RunContext, *, evaluated: EvaluatedModel | dict[str, Any]
) -> RegisteredVersion:
    """Register the staged model as a new version: artifacts, checksums, registry event, feature catalog."""
    from mlplatform.config.specs import load_specs
    from mlplatform.features.engineering import output_feature_names
    from mlplatform.features.feature_catalog import sync_catalog

    evaluated = EvaluatedModel.of(evaluated)
    staging = p.staging(ctx)
    state = json.loads(files.read_text(str(evaluated.feature_state_uri)))
    names = output_feature_names(state)
    documents = {
        "feature_state.json": state,
        "reference_profile.json": json.loads(files.read_text(f"{staging}/reference_profile.json")),
        "metrics.json": evaluated.metrics,
        "signature.json": _signature(p, names),
    }
    training_inputs = {
        "bronze": {"uri": p.table("bronze"), "version": evaluated.bronze_version},
        "validated": {"uri": p.table("validated"), "version": evaluated.validated_version},
        "features": {"uri": p.table("features"), "version": evaluated.features_version},
        "batch_id": evaluated.batch_id,
        "source_uri": evaluated.source_uri,
        "as_of": ctx.ds,
    }
    if evaluated.window is not None:
        training_inputs["window"] = evaluated.window
        training_inputs["labels"] = {"uri": p.table("labels"), "version": evaluated.window["labels_version"]}
    version, created = p.registry.register_version(
        model=p.model,
        version_dir_for=lambda v: p.layout.model_version_dir(p.model, v),
        booster_raw=_verified_staged_booster(evaluated),
        documents=documents,
        extra_files={
            name: files.read_bytes(f"{staging}/{name}")
            for name in ("evaluation.json", *evaluated.plots)
            if files.exists(f"{staging}/{name}")
        },
        run_id=ctx.run_id,
        dag_id=ctx.dag_id,
        actor=ctx.actor,
        reason=ctx.reason or f"{ctx.trigger_type} training run",
        spec_hash=p.spec.content_hash,
        training_inputs=training_inputs,
        params={
            "xgb": p.spec.training.model_dump(),
            "conf": ctx.conf,
            "training": evaluated.training,
            "environment": library_versions(),
            "spec": json.loads(p.spec.model_dump_json()),
        },
        code_version=code_version(),
    )
    sync_catalog(
        p.spark,
        p.table("feature_catalog"),
        p.table("model_registry"),
        list(load_specs(p.settings.spec_dir).values()),
    )
    log.info("%s version %s of %s", "registered" if created else "found registered", version, p.model)
    return RegisteredVersion(
        version=version,
        created=created,
        metrics=evaluated.metrics,
        batch_id=evaluated.batch_id,
        features_version=evaluated.features_version,
        window=evaluated.window,
    )


def _package_explanation(
    p: Platform,
    ctx: RunContext,
    model: LoadedModel,
    html: str,
    importance: list[dict[str, Any]],
    feature_labels: dict[str, str],
) -> str:
    """The SHAP report and model card, written into the version folder through the registry."""
    from mlplatform.governance.model_card import build_model_card, render_model_card_markdown

    entry = next(e for e in p.registry.versions(p.model) if e["version"] == model.version)
    evaluation_uri = f"{model.artifact_uri}/evaluation.json"
    report = json.loads(files.read_text(evaluation_uri)) if files.exists(evaluation_uri) else model.metrics
    card = build_model_card(
        p.spec,
        model.version,
        report,
        importance,
        json.loads(entry["training_inputs"] or "{}"),
        json.loads(entry["params"] or "{}"),
        entry["code_version"] or "unknown",
        library_versions(),
        feature_labels=feature_labels,
    )
    p.registry.register_explanation(
        model=p.model,
        version=model.version,
        artifact_uri=model.artifact_uri,
        files={
            "shap_report.html": html.encode(),
            "model_card.json": json.dumps(card, indent=2, sort_keys=True, default=str).encode(),
            "model_card.md": render_model_card_markdown(card).encode(),
        },
        run_id=ctx.run_id,
        dag_id=ctx.dag_id,
        actor=ctx.actor,
        reason="SHAP report and model card",
        code_version=code_version(),
    )
    return f"{model.artifact_uri}/model_card.md"


@step("explain", reads=("features",), writes=("shap_importance", "model_registry"))
def explain(
    p: Platform, ctx: RunContext, *, registered: RegisteredVersion | dict[str, Any]
) -> ExplainedVersion:
    """SHAP report of the registered version (XGBoost TreeSHAP values, shap plots) on a holdout sample;
    a multiclass model is explained per class."""
    from mlplatform.features.engineering import output_feature_names
    from mlplatform.features.naming import feature_labels
    from mlplatform.io.catalog import TABLES
    from mlplatform.lifecycle.evaluation import holdout_frame
    from mlplatform.modeling.booster import predict_scores
    from mlplatform.modeling.explain import compute_shap_values, shap_importance_rows
    from mlplatform.reporting.shap_report import render_shap_report

    registered = RegisteredVersion.of(registered)
    model = p.registry.load_version(p.model, registered.version)
    booster = model.booster()
    names = output_feature_names(model.feature_state)
    holdout = holdout_frame(p, registered.batch_id, names)
    n = min(len(holdout), p.spec.training.shap_sample_rows)
    sample = holdout.sample(n=n, random_state=p.spec.training.seed) if n < len(holdout) else holdout
    X = sample[names].reset_index(drop=True)
    result = compute_shap_values(booster, X, class_names=p.spec.columns.classes)
    labels = feature_labels(model.feature_state)
    html = render_shap_report(
        result,
        model_name=p.model,
        model_version=model.version,
        metrics=model.metrics,
        scores=predict_scores(booster, X),
        task=p.spec.task,
        feature_labels=labels,
    )
    report_uri = p.layout.shap_report(p.model, model.version)
    files.write_text(report_uri, html)
    p.wrote_file("shap_report", report_uri)
    importance = shap_importance_rows(result)
    now = datetime.now(UTC)
    rows = [
        {
            "model_name": p.model,
            "version": model.version,
            "feature": r["feature"],
            "mean_abs_shap": r["mean_abs_shap"],
            "rank": r["rank"],
            "rows_explained": n,
            "computed_at": now,
            "class_label": r.get("class_label"),
        }
        for r in importance
    ]
    shap_df = p.spark.createDataFrame(rows, TABLES["shap_importance"].ddl)
    p.replace("shap_importance", shap_df, f"{p.model_key()} AND version = {int(model.version)}")
    overall = [r for r in importance if r.get("class_label") is None]
    card_uri = _package_explanation(p, ctx, model, html, importance, labels)
    p.wrote_file("model_card", card_uri)
    log.info(
        "explained v%s on %s holdout rows; top features %s%s",
        model.version,
        n,
        [r["feature"] for r in overall[:5]],
        f"; per class for {len(p.spec.columns.classes or [])} classes" if p.spec.task == "multiclass" else "",
    )
    return registered.extend(
        ExplainedVersion,
        shap_report=report_uri,
        model_card=card_uri,
        top_features=[r["feature"] for r in overall[:5]],
    )
