"""The scoring steps after the shared ones: score, then check_performance (in
``mlplatform.lifecycle.performance``) and check_drift side by side, then decide_retraining from both.

Every step replaces its logical date's partition, so a rerun or a backfill of a date is idempotent.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from typing import Any

from mlplatform.core.context import RunContext
from mlplatform.io import files
from mlplatform.lifecycle.handoff import (
    DriftResult,
    FeaturedBatch,
    PerformanceResult,
    RetrainingDecision,
    ScoredBatch,
)
from mlplatform.lifecycle.runner import Platform, step
from mlplatform.monitoring.policy import NewLabels

log = logging.getLogger("mlplatform.lifecycle")


def _date_key(p: Platform, column: str, ds: str) -> str:
    from mlplatform.io.delta import sql_literal

    return f"{p.model_key()} AND {column} = DATE {sql_literal(ds)}"


@step("score", reads=("features", "model_registry"), writes=("predictions",))
def score(p: Platform, ctx: RunContext, *, featured: FeaturedBatch | dict[str, Any]) -> ScoredBatch:
    """Score the batch with the champion resolved at the features step; replace the date's partition."""
    from pyspark.sql import functions as F

    from mlplatform.modeling.scoring import score_frame

    featured = FeaturedBatch.of(featured)
    model = p.registry.load_version(p.model, int(featured.model_version or 0))
    features = p.read_batch("features", featured.batch_id)
    signature = model.signature
    task = signature.get("task", "binary")
    scored = score_frame(
        p.spark,
        features,
        model.booster_raw,
        signature["feature_names"],
        float(signature.get("decision_threshold") or 0.5),
        task=task,
        classes=signature.get("classes"),
        labels=_binary_labels(p) if task == "binary" else None,
    )
    predictions = scored.select(
        F.lit(p.model).alias("model_name"),
        F.to_date(F.lit(ctx.ds)).alias("score_date"),
        "entity_id",
        "score",
        "prediction",
        "predicted_label",
        "class_probabilities",
        F.lit(model.version).alias("model_version"),
        F.lit(ctx.run_id).alias("run_id"),
        F.current_timestamp().alias("scored_at"),
    )
    key = _date_key(p, "score_date", ctx.ds)
    version = p.replace("predictions", predictions, key)
    rows = p.read("predictions").where(F.col("score_date") == F.to_date(F.lit(ctx.ds))).count()
    log.info("scored %s rows of batch %s with v%s", rows, featured.batch_id, model.version)
    return featured.extend(ScoredBatch, predictions=rows, predictions_version=version)


def _binary_labels(p: Platform) -> tuple[str, str | None]:
    """A binary model's positive and (first) negative target text, for ``predicted_label``."""
    from mlplatform.data.labels import target_values

    positive, negatives = target_values(p.spec)
    return positive, (negatives[0] if negatives else None)


def _history(p: Platform, table: str, ds: str, days: int, columns: list[str]) -> list[dict[str, Any]]:
    """Rows of a monitoring table for this model over the ``days`` before and including ``ds``."""
    from pyspark.sql import functions as F

    if p.version(table) is None:
        return []
    day = F.to_date(F.lit(ds))
    rows = p.read(table).where(F.col("score_date").between(F.date_sub(day, days), day))
    return [r.asDict() for r in rows.select(*columns).orderBy("score_date").collect()]


@step(
    "check_drift", reads=("validated", "predictions", "features", "model_registry"), writes=("drift_metrics",)
)
def check_drift(p: Platform, ctx: RunContext, *, scored: ScoredBatch | dict[str, Any]) -> DriftResult:
    """Drift of the raw inputs and the scores, and skew of the model inputs, against the reference."""
    from pyspark.sql import functions as F

    from mlplatform.io.catalog import TABLES
    from mlplatform.monitoring.drift.verdict import compute_drift, drift_summary
    from mlplatform.reporting.drift_report import render_drift_report

    scored = ScoredBatch.of(scored)
    model = p.registry.load_version(p.model, int(scored.model_version or 0))
    profile = model.reference_profile
    # The raw inputs from the validated batch, the prediction from the predictions table: no join,
    # so rows need no unique key.
    drifts = compute_drift(
        {**profile, "prediction": None}, p.read_batch("validated", scored.batch_id), p.spec.drift
    )
    if profile.get("prediction"):
        score_col = profile.get("score_col") or "score"
        preds = p.read("predictions").where(F.col("score_date") == F.to_date(F.lit(ctx.ds))).select(score_col)
        only_prediction = {
            "features": {},
            **{k: profile[k] for k in ("prediction", "score_col", "row_count")},
        }
        drifts += compute_drift({**only_prediction, "score_col": score_col}, preds, p.spec.drift)
    if p.spec.drift.check_skew and profile.get("model_inputs"):
        inputs = p.read_batch("features", scored.batch_id)
        drifts += compute_drift(profile["model_inputs"], inputs, p.spec.drift, scope="model_input")
    summary = drift_summary(drifts)
    base = {
        "model_name": p.model,
        "score_date": date.fromisoformat(ctx.ds),
        "run_id": ctx.run_id,
        "model_version": model.version,
        "computed_at": datetime.now(UTC),
    }
    df = p.spark.createDataFrame([{**base, **d.to_record()} for d in drifts], TABLES["drift_metrics"].ddl)
    p.replace("drift_metrics", df, _date_key(p, "score_date", ctx.ds))
    days = p.spec.drift.history_days
    history_cols = ["score_date", "scope", "feature", "metric", "value", "threshold", "drifted"]
    perf_cols = [
        "score_date",
        "labeled_rows",
        "auc",
        "precision",
        "recall",
        "accuracy",
        "macro_f1",
        "rmse",
        "mae",
    ]
    report_uri = p.layout.drift_report(p.model, ctx.ds)
    html = render_drift_report(
        drifts,
        model_name=p.model,
        model_version=model.version,
        ds=ctx.ds,
        summary=summary,
        history=_history(p, "drift_metrics", ctx.ds, days, history_cols),
        performance=_history(p, "performance_metrics", ctx.ds, days, perf_cols),
    )
    files.write_text(report_uri, html)
    p.wrote_file("drift_report", report_uri)
    log.info(
        "drift on %s: %s of %s input features drifted %s; prediction drifted: %s; skew: %s",
        ctx.ds,
        len(summary["features_drifted"]),
        summary["features_checked"],
        summary["features_drifted"],
        summary["prediction_drifted"],
        summary["skewed_features"],
    )
    return DriftResult(
        **summary, report=report_uri, model_version=model.version, predictions=scored.predictions
    )


def _new_labels(p: Platform, ds: str, champion_version: int) -> NewLabels | None:
    """Labelled rows that arrived after the champion's training cut-off, up to ``ds`` (None when the
    rule does not apply: no training window, ``require_new_labels`` off, or an unknown cut-off)."""
    from pyspark.sql import functions as F

    if p.spec.training.window is None or not p.spec.retraining.require_new_labels:
        return None
    entry = next((e for e in p.registry.versions(p.model) if int(e["version"]) == champion_version), None)
    inputs = json.loads((entry or {}).get("training_inputs") or "{}")
    cutoff = (inputs.get("window") or {}).get("as_of") or inputs.get("as_of")
    if cutoff is None:
        log.info("v%s records no training cut-off: the new-labels rule does not apply", champion_version)
        return None
    rows = 0
    if p.version("labels") is not None:
        rows = (
            p.read("labels")
            .where(F.col("label_date").between(F.date_add(F.to_date(F.lit(cutoff)), 1), F.to_date(F.lit(ds))))
            .count()
        )
    log.info("%s labelled rows arrived after v%s's cut-off %s", rows, champion_version, cutoff)
    return NewLabels(champion_version=champion_version, cutoff=str(cutoff), rows=int(rows))


@step(
    "decide_retraining",
    reads=("monitoring_decisions", "labels", "model_registry"),
    writes=("monitoring_decisions",),
)
def decide_retraining(
    p: Platform,
    ctx: RunContext,
    *,
    drift: DriftResult | dict[str, Any],
    performance: PerformanceResult | dict[str, Any],
) -> RetrainingDecision:
    """Judge today's run by the spec's retraining policy and record the decision (append-only)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from mlplatform.monitoring.policy import Signals
    from mlplatform.monitoring.policy import decide_retraining as decide

    drift, performance = DriftResult.of(drift), PerformanceResult.of(performance)
    perf = performance.performance or {}
    signals = Signals(
        share_drifted=drift.share_drifted,
        drifted_features=list(drift.features_drifted),
        prediction_drifted=drift.prediction_drifted,
        auc=perf.get("auc"),
        reference_auc=perf.get("reference_auc"),
        performance_date=perf.get("score_date"),
        rmse=perf.get("rmse"),
        reference_rmse=perf.get("reference_rmse"),
    )
    earlier: list[dict[str, Any]] = []
    if p.version("monitoring_decisions") is not None:
        last = Window.partitionBy("score_date").orderBy(F.desc("decided_at"))
        earlier = [
            r.asDict()
            for r in p.read("monitoring_decisions")
            .where(F.col("score_date") < F.to_date(F.lit(ctx.ds)))
            .withColumn("_rank", F.row_number().over(last))
            .where("_rank = 1")
            .select("score_date", "degraded", "retrain")
            .collect()
        ]
    new_labels = _new_labels(p, ctx.ds, drift.model_version)
    decision = decide(p.spec.retraining, signals, earlier, ctx.ds, new_labels)
    training_dag = f"{p.model}_training"
    p.append(
        "monitoring_decisions",
        [
            {
                "model_name": p.model,
                "score_date": date.fromisoformat(ctx.ds),
                "run_id": ctx.run_id,
                "model_version": drift.model_version,
                "degraded": decision.degraded,
                "signals": json.dumps(
                    {"met": decision.signals, "measured": decision.details}, sort_keys=True
                ),
                "consecutive_degraded": decision.consecutive_degraded,
                "retrain": decision.retrain,
                "reason": decision.reason,
                "triggered_dag_id": training_dag if decision.retrain else None,
                "decided_at": datetime.now(UTC),
            }
        ],
    )
    verdict = "RETRAIN" if decision.retrain else "HELD" if decision.held else "no retraining"
    log.info("retraining policy: %s (%s)", verdict, decision.reason)
    return RetrainingDecision(
        retrain=decision.retrain,
        degraded=decision.degraded,
        reason=decision.reason,
        consecutive_degraded=decision.consecutive_degraded,
        training_dag_id=training_dag,
        model_version=drift.model_version,
        held=decision.held,
    )
