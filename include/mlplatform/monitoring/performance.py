"""Labelled performance over time: past predictions scored again once their late labels arrive.

Every labelled prediction of the lookback window is scored against the truth, per scoring date and
model version, entirely in Spark: the AUC comes from per-score counts of positives and negatives
(per class, one-vs-rest, for multiclass), so no row list reaches the driver. Regression gets RMSE,
MAE and R²; multiclass macro AUC, accuracy, macro-F1 and logloss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


KEYS = ["score_date", "model_version"]
LOGLOSS_EPS = 1e-7
TASK_COLUMNS = ("macro_f1", "logloss", "rmse", "mae", "r2")


def performance_for_task(
    task: str,
    predictions: DataFrame,
    labels: DataFrame,
    threshold_by_version: dict[int, float],
    classes: list[str] | None = None,
) -> DataFrame:
    """Per (score_date, model_version) metrics of the task, every column of the performance table
    (those of other tasks null)."""
    from pyspark.sql import functions as F

    if task == "regression":
        out = regression_by_date(predictions, labels)
    elif task == "multiclass":
        out = multiclass_by_date(predictions, labels, list(classes or []))
    else:
        out = performance_by_date(predictions, labels, threshold_by_version)
    missing = {
        "positives": "bigint",
        "auc": "double",
        "precision": "double",
        "recall": "double",
        "accuracy": "double",
        "threshold": "double",
        **dict.fromkeys(TASK_COLUMNS, "double"),
    }
    return out.withColumns({c: F.lit(None).cast(t) for c, t in missing.items() if c not in out.columns})


def _rank_auc(scored: DataFrame, keys: list[str]) -> DataFrame:
    """Mann-Whitney AUC per group of ``keys`` from ``score`` and a 0/1 ``is_pos`` (ties half)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    per_score = scored.groupBy(*keys, "score").agg(
        F.sum("is_pos").alias("pos"), F.sum(1 - F.col("is_pos")).alias("neg")
    )
    below = Window.partitionBy(*keys).orderBy("score").rowsBetween(Window.unboundedPreceding, -1)
    terms = (
        per_score.withColumn("neg_below", F.coalesce(F.sum("neg").over(below), F.lit(0)))
        .groupBy(*keys)
        .agg(
            F.sum(F.col("pos") * F.col("neg_below") + 0.5 * F.col("pos") * F.col("neg")).alias("num"),
            F.sum("pos").alias("positives"),
            F.sum("neg").alias("negatives"),
        )
    )
    both = (F.col("positives") > 0) & (F.col("negatives") > 0)
    return terms.select(
        *keys,
        "positives",
        F.when(both, F.col("num") / (F.col("positives") * F.col("negatives"))).alias("auc"),
    )


def regression_by_date(predictions: DataFrame, labels: DataFrame) -> DataFrame:
    """Per (score_date, model_version): labelled rows, RMSE, MAE and R² of the predicted values."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    joined = predictions.join(labels, "entity_id", "inner")
    mean = F.avg("label").over(Window.partitionBy(*KEYS))
    err = joined.withColumn("_err", F.col("score") - F.col("label")).withColumn("_dev", F.col("label") - mean)
    counts = err.groupBy(*KEYS).agg(
        F.count(F.lit(1)).alias("labeled_rows"),
        F.sqrt(F.avg(F.col("_err") ** 2)).alias("rmse"),
        F.avg(F.abs("_err")).alias("mae"),
        F.sum(F.col("_err") ** 2).alias("_sse"),
        F.sum(F.col("_dev") ** 2).alias("_sst"),
    )
    predicted = predictions.groupBy(*KEYS).agg(F.count(F.lit(1)).alias("predicted_rows"))
    return counts.join(predicted, KEYS).select(
        *KEYS,
        "labeled_rows",
        "predicted_rows",
        "rmse",
        "mae",
        F.when(F.col("_sst") > 0, 1 - F.col("_sse") / F.col("_sst")).alias("r2"),
    )


def multiclass_by_date(predictions: DataFrame, labels: DataFrame, classes: list[str]) -> DataFrame:
    """Per (score_date, model_version): labelled rows, macro one-vs-rest AUC (over the classes
    present with both outcomes), accuracy, macro-F1 (over the classes labelled or predicted, as
    scikit-learn averages) and logloss.

    ``predictions`` carries ``prediction`` (class index) and ``class_probabilities`` (class → p);
    labels are class indices.
    """
    from pyspark.sql import functions as F

    names = F.array(*[F.lit(c) for c in classes])
    joined = predictions.join(labels, "entity_id", "inner").withColumn(
        "_true", F.element_at(names, F.col("label").cast("int") + 1)
    )
    p_true = F.element_at(F.col("class_probabilities"), F.col("_true"))
    clipped = F.least(F.greatest(p_true, F.lit(LOGLOSS_EPS)), F.lit(1 - LOGLOSS_EPS))
    counts = joined.groupBy(*KEYS).agg(
        F.count(F.lit(1)).alias("labeled_rows"),
        F.avg((F.col("prediction") == F.col("label").cast("int")).cast("double")).alias("accuracy"),
        F.avg(-F.log(clipped)).alias("logloss"),
    )
    per_class = joined.select(
        *KEYS, "label", "prediction", F.explode("class_probabilities").alias("_c", "score")
    )
    per_class = per_class.withColumn(
        "is_pos", (F.col("_c") == F.element_at(names, F.col("label").cast("int") + 1)).cast("int")
    )
    aucs = _rank_auc(per_class, [*KEYS, "_c"]).groupBy(*KEYS).agg(F.avg("auc").alias("auc"))
    chosen = F.element_at(names, F.col("prediction") + 1)
    f1 = (
        per_class.groupBy(*KEYS, "_c")
        .agg(
            F.sum(((chosen == F.col("_c")) & (F.col("is_pos") == 1)).cast("int")).alias("tp"),
            F.sum(((chosen == F.col("_c")) & (F.col("is_pos") == 0)).cast("int")).alias("fp"),
            F.sum(((chosen != F.col("_c")) & (F.col("is_pos") == 1)).cast("int")).alias("fn"),
        )
        .withColumn(
            "f1",
            F.when(
                2 * F.col("tp") + F.col("fp") + F.col("fn") > 0,
                2 * F.col("tp") / (2 * F.col("tp") + F.col("fp") + F.col("fn")),
            ),
        )
        .groupBy(*KEYS)
        .agg(F.avg("f1").alias("macro_f1"))
    )
    predicted = predictions.groupBy(*KEYS).agg(F.count(F.lit(1)).alias("predicted_rows"))
    return (
        counts.join(aucs, KEYS, "left")
        .join(f1, KEYS, "left")
        .join(predicted, KEYS)
        .select(*KEYS, "labeled_rows", "predicted_rows", "auc", "accuracy", "macro_f1", "logloss")
    )


def performance_by_date(
    predictions: DataFrame, labels: DataFrame, threshold_by_version: dict[int, float]
) -> DataFrame:
    """Per (score_date, model_version): labelled rows, AUC, precision, recall and accuracy.

    ``predictions`` has ``score_date``, ``entity_id``, ``score``, ``prediction``, ``model_version``;
    ``labels`` has ``entity_id`` and ``label`` (the latest label per entity wins upstream); each
    version is judged at its own decision threshold (``threshold_by_version``). AUC is the
    Mann-Whitney statistic with ties counted half, from per-score counts.
    """
    from pyspark.sql import functions as F

    joined = predictions.join(labels, "entity_id", "inner")
    keys = KEYS
    auc_terms = _rank_auc(joined.withColumn("is_pos", F.col("label")), keys)
    counts = joined.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("labeled_rows"),
        F.sum(F.when((F.col("prediction") == 1) & (F.col("label") == 1), 1).otherwise(0)).alias("tp"),
        F.sum(F.when((F.col("prediction") == 1) & (F.col("label") == 0), 1).otherwise(0)).alias("fp"),
        F.sum(F.when((F.col("prediction") == 0) & (F.col("label") == 1), 1).otherwise(0)).alias("fn"),
        F.sum(F.when(F.col("prediction") == F.col("label"), 1).otherwise(0)).alias("correct"),
    )
    predicted = predictions.groupBy(*keys).agg(F.count(F.lit(1)).alias("predicted_rows"))
    thresholds = F.create_map(*[x for v, t in threshold_by_version.items() for x in (F.lit(v), F.lit(t))])
    out = counts.join(auc_terms, keys).join(predicted, keys)
    return out.select(
        *keys,
        "labeled_rows",
        "predicted_rows",
        F.col("positives").cast("bigint").alias("positives"),
        "auc",
        F.when(F.col("tp") + F.col("fp") > 0, F.col("tp") / (F.col("tp") + F.col("fp"))).alias("precision"),
        F.when(F.col("tp") + F.col("fn") > 0, F.col("tp") / (F.col("tp") + F.col("fn"))).alias("recall"),
        (F.col("correct") / F.col("labeled_rows")).alias("accuracy"),
        (thresholds[F.col("model_version")] if threshold_by_version else F.lit(None))
        .cast("double")
        .alias("threshold"),
    )
