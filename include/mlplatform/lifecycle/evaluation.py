"""The evaluate step of a training run: the staged model judged on its holdout, per task type.

Binary models get AUC, PR-AUC, logloss, calibration; multiclass models macro one-vs-rest AUC,
logloss, macro-F1 and a confusion matrix; regression models RMSE, MAE, R² and residual plots; all
with bootstrap intervals and slices. The reference profile for drift is built here too: the raw
columns, the model inputs and the predictions (scores, or the predicted class of a multiclass).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from mlplatform.core.context import RunContext
from mlplatform.io import files
from mlplatform.lifecycle.handoff import EvaluatedModel, TrainedModel
from mlplatform.lifecycle.runner import Platform, step
from mlplatform.lifecycle.training import _staged_feature_names, _verified_staged_booster

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

log = logging.getLogger("mlplatform.lifecycle")

LOGGED_METRICS = {
    "binary": ("auc", "pr_auc", "logloss"),
    "multiclass": ("auc", "macro_f1", "accuracy", "logloss"),
    "regression": ("rmse", "mae", "r2"),
}


def holdout_frame(
    p: Platform,
    batch_id: str,
    names: list[str],
    slices: list[str] | None = None,
    window: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The batch's holdout features (and raw slice columns as ``slice__<col>``), ordered by row key."""
    from pyspark.sql import functions as F

    from mlplatform.lifecycle.shared import training_rows

    holdout = (
        p.read_batch("features", batch_id)
        .where(F.col("split") == "holdout")
        .select("_row_id", "entity_id", "label", *names)
    )
    if slices:
        raw = training_rows(p, batch_id, window).select(
            "_row_id", *[F.col(c).cast("string").alias(f"slice__{c}") for c in slices]
        )
        holdout = holdout.join(raw, "_row_id", "left")
    return holdout.orderBy("_row_id").toPandas()


def check_holdout(p: Platform, batch_id: str, labels: np.ndarray) -> None:
    """A holdout that cannot judge the model is an error naming the table and batch."""
    from mlplatform.modeling.training import TrainingDataError

    where = f"holdout of batch {batch_id} ({p.table('features')})"
    if len(labels) == 0:
        raise TrainingDataError(f"{where} has no rows; cannot evaluate model '{p.model}'")
    if p.spec.task != "regression" and labels.min() == labels.max():
        raise TrainingDataError(f"{where} has a single class; cannot compute AUC for model '{p.model}'")


def prediction_profile(p: Platform, predictions: np.ndarray) -> tuple[dict[str, Any], str]:
    """The reference distribution of the model's output, and the predictions column it describes:
    the score (binary probability, regression value) or the predicted class (multiclass)."""
    from mlplatform.monitoring.drift.profile import build_reference_profile

    bins = p.spec.drift.bins
    if p.spec.task == "multiclass":
        classes = list(p.spec.columns.classes or [])
        chosen = [(classes[int(i)],) for i in predictions.argmax(axis=1)]
        frame = p.spark.createDataFrame(chosen, "predicted_label string")
        profile = build_reference_profile(frame, [], ["predicted_label"], max_categories=len(classes) + 1)
        return profile["features"]["predicted_label"], "predicted_label"
    frame = p.spark.createDataFrame([(float(s),) for s in predictions], "score double")
    return build_reference_profile(frame, ["score"], [], bins=bins)["features"]["score"], "score"


@step("evaluate", reads=("features", "validated", "labels"))
def evaluate(p: Platform, ctx: RunContext, *, trained: TrainedModel | dict[str, Any]) -> EvaluatedModel:
    """Holdout metrics with intervals and plots for the task, and the reference profile."""
    from pyspark.sql import functions as F

    from mlplatform.data.row_keys import holdout_copies
    from mlplatform.data.training_window import holdout_period
    from mlplatform.lifecycle.shared import training_rows
    from mlplatform.modeling.booster import load_booster, predict_scores
    from mlplatform.modeling.task_evaluation import evaluate_task
    from mlplatform.monitoring.drift.profile import build_reference_profile
    from mlplatform.reporting.plots import evaluation_plots

    trained = TrainedModel.of(trained)
    spec, task = p.spec, p.spec.task
    booster = load_booster(_verified_staged_booster(trained))
    names = _staged_feature_names(str(trained.feature_state_uri))
    holdout = holdout_frame(p, trained.batch_id, names, spec.evaluation.slices, trained.window)
    labels = holdout["label"].to_numpy()
    check_holdout(p, trained.batch_id, labels)
    predictions = predict_scores(booster, holdout)
    report = evaluate_task(
        task,
        labels,
        predictions,
        threshold=spec.training.decision_threshold,
        classes=spec.columns.classes,
        n_bootstrap=spec.evaluation.bootstrap_samples,
        seed=spec.training.seed,
        slices={name: holdout[f"slice__{name}"].to_numpy() for name in spec.evaluation.slices},
    )
    metrics = report["metrics"]
    rows = training_rows(p, trained.batch_id, trained.window)
    copies = holdout_copies(rows, spec)
    report["holdout"] = {"rows": len(labels), "with_exact_copy_in_train": copies}
    if copies:
        log.warning(
            "%s of %s holdout rows have an exact copy in the train split: the holdout metrics are optimistic",
            copies,
            len(labels),
        )
    bins, cols = spec.drift.bins, spec.columns
    reference = rows.where(F.col("_split") == "train")
    profile = build_reference_profile(
        reference, cols.numeric, cols.categorical, bins=bins, max_categories=spec.features.max_categories
    )
    profile["prediction"], profile["score_col"] = prediction_profile(p, predictions)
    train_inputs = p.read_batch("features", trained.batch_id).where(F.col("split") == "train")
    profile["model_inputs"] = build_reference_profile(train_inputs, names, [], bins=bins)
    staging = p.staging(ctx)
    files.write_text(f"{staging}/metrics.json", json.dumps(metrics, sort_keys=True))
    files.write_text(f"{staging}/evaluation.json", json.dumps(report, sort_keys=True, allow_nan=False))
    plots = evaluation_plots(task, report, labels, predictions)
    for name, png in plots.items():
        files.write_bytes(f"{staging}/{name}", png)
    files.write_text(
        f"{staging}/reference_profile.json", json.dumps(profile, sort_keys=True, allow_nan=False)
    )
    p.wrote_file("evaluation", f"{staging}/evaluation.json")
    p.lineage.params["confidence_intervals"] = report["confidence_intervals"]
    period = holdout_period(trained.window)
    log.info(
        "%s holdout of %s rows (%s copied in train) (%s): %s; plots %s",
        task,
        len(labels),
        copies,
        f"recent scoring dates {period['dates']}" if period["dates"] else "hash split of the training batch",
        {k: metrics.get(k) for k in LOGGED_METRICS[task]},
        sorted(plots),
    )
    return trained.extend(EvaluatedModel, metrics=metrics, plots=sorted(plots))
