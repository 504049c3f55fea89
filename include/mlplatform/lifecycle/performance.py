"""The check_performance step of a scoring run: late labels loaded, past predictions judged.

The labels that arrived on the logical date replace that date's ``labels`` partition (bad rows go to
quarantine); every labelled scoring date of the lookback window is judged again with the task's
metrics, each version at its own decision threshold and against its own holdout reference.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mlplatform.core.context import RunContext
from mlplatform.io import files
from mlplatform.io.layout import labels_batch_id
from mlplatform.lifecycle.handoff import PerformanceResult, ScoredBatch
from mlplatform.lifecycle.runner import Platform, step

log = logging.getLogger("mlplatform.lifecycle")


def _date_key(p: Platform, column: str, ds: str) -> str:
    from mlplatform.io.delta import sql_literal

    return f"{p.model_key()} AND {column} = DATE {sql_literal(ds)}"


def _load_arrived_labels(p: Platform, ctx: RunContext, uri: str) -> tuple[int, int]:
    """Replace the labels partition of the arrival date with the file; bad rows go to quarantine."""
    from pyspark.sql import functions as F

    from mlplatform.data.labels import read_labels

    good, bad = read_labels(p.spark, p.spec, uri, ctx.ds)
    now = F.current_timestamp()
    rows = good.select(
        F.lit(p.model).alias("model_name"),
        "entity_id",
        "label",
        "label_date",
        F.lit(uri).alias("source_uri"),
        F.lit(ctx.run_id).alias("run_id"),
        now.alias("loaded_at"),
    )
    p.replace("labels", rows, _date_key(p, "label_date", ctx.ds))
    batch_id = labels_batch_id(ctx.ds)
    rejected = bad.select(
        F.lit(p.model).alias("model_name"),
        F.lit(batch_id).alias("batch_id"),
        F.lit(ctx.run_id).alias("run_id"),
        "row_key",
        "entity_id",
        F.array(F.col("reason")).alias("reasons"),
        "row_json",
        now.alias("quarantined_at"),
    )
    p.replace("quarantine", rejected, p.model_key(batch_id=batch_id))
    return good.count(), bad.count()


def _version_references(
    p: Platform, versions: set[int]
) -> tuple[dict[int, float], dict[int, dict[str, float | None]]]:
    """Each version's own decision threshold (binary, from its signature) and its holdout AUC and RMSE."""
    thresholds, references = {}, {}
    for version in sorted(versions):
        model = p.registry.load_version(p.model, version)
        if model.signature.get("decision_threshold") is not None:
            thresholds[version] = float(model.signature["decision_threshold"])
        references[version] = {
            k: (float(model.metrics[k]) if model.metrics.get(k) is not None else None)
            for k in ("auc", "rmse")
        }
    return thresholds, references


@step(
    "check_performance",
    reads=("predictions", "model_registry"),
    writes=("labels", "quarantine", "performance_metrics"),
)
def check_performance(
    p: Platform, ctx: RunContext, *, scored: ScoredBatch | dict[str, Any]
) -> PerformanceResult:
    """Load the labels that arrived on the logical date; score past predictions against all labels.

    The arrival file replaces the date's ``labels`` partition (reruns are idempotent); performance
    is recomputed for every scoring date in the lookback window that has labels, each version at
    its own decision threshold.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from mlplatform.config.tasks import task_named
    from mlplatform.io.catalog import TABLES
    from mlplatform.io.delta import sql_literal
    from mlplatform.monitoring.performance import performance_for_task

    spec = p.spec.labels
    if spec is None:
        log.info("no labels section in the spec: performance is not monitored")
        return PerformanceResult(labels_configured=False)
    uri = p.source_uri(spec.source, ctx.ds, field="labels.source.path")
    arrived = files.exists(uri)
    new_labels, rejected = 0, 0
    if arrived:
        p.read_file("labels_source", uri)
        new_labels, rejected = _load_arrived_labels(p, ctx, uri)
        log.info("labels from %s: %s loaded, %s rejected to quarantine", uri, new_labels, rejected)
    else:
        log.info("no label file at %s for %s", uri, ctx.ds)
    if p.version("labels") is None:
        return PerformanceResult(labels_configured=True, labels_arrived=arrived)
    today = date.fromisoformat(ctx.ds)
    start = (today - timedelta(days=spec.lookback_days)).isoformat()
    latest = Window.partitionBy("entity_id").orderBy(F.desc("label_date"))
    labels = (
        p.read("labels")
        .where(F.col("label_date") <= F.to_date(F.lit(ctx.ds)))
        .withColumn("_rank", F.row_number().over(latest))
        .where("_rank = 1")
        .select("entity_id", "label")
    )
    window = F.col("score_date").between(F.to_date(F.lit(start)), F.to_date(F.lit(ctx.ds)))
    predictions = (
        p.read("predictions")
        .where(window)
        .select("score_date", "entity_id", "score", "prediction", "class_probabilities", "model_version")
    )
    scored_versions = {
        int(r["model_version"]) for r in predictions.select("model_version").distinct().collect()
    }
    thresholds, references = _version_references(p, scored_versions)
    task = task_named(p.spec.task)
    measured = performance_for_task(task.name, predictions, labels, thresholds, p.spec.columns.classes)
    now = datetime.now(UTC)
    rows = [
        {
            **r.asDict(),
            "model_name": p.model,
            "reference_auc": references.get(int(r["model_version"]), {}).get("auc"),
            "reference_rmse": references.get(int(r["model_version"]), {}).get("rmse"),
            "labels_through": today,
            "run_id": ctx.run_id,
            "computed_at": now,
        }
        for r in measured.collect()
    ]
    key = f"{p.model_key()} AND score_date >= DATE {sql_literal(start)} AND score_date <= DATE {sql_literal(ctx.ds)}"
    p.replace("performance_metrics", p.spark.createDataFrame(rows, TABLES["performance_metrics"].ddl), key)
    primary = task.primary_metric
    usable = [r for r in rows if r["labeled_rows"] >= spec.min_labeled_rows and r[primary] is not None]
    best = max(usable, key=lambda r: r["score_date"], default=None)
    performance = None
    if best is not None:
        shown = ("auc", "precision", "recall", "accuracy", "macro_f1", "logloss", "rmse", "mae", "r2")
        performance = {
            "score_date": best["score_date"].isoformat(),
            **{k: best[k] for k in shown if best[k] is not None},
            "labeled_rows": int(best["labeled_rows"]),
            "reference_auc": best["reference_auc"],
            "reference_rmse": best["reference_rmse"],
            "model_version": int(best["model_version"]),
        }
        log.info(
            "labelled performance of %s: %s %.4f on %s rows (holdout %s)",
            performance["score_date"],
            primary.upper(),
            best[primary],
            best["labeled_rows"],
            best[f"reference_{primary}"],
        )
    return PerformanceResult(
        labels_configured=True,
        labels_arrived=arrived,
        new_labels=new_labels,
        rejected_labels=rejected,
        performance=performance,
    )
