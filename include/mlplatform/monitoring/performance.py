"""Labelled performance over time: past predictions scored again once their late labels arrive.

Every labelled prediction of the lookback window is scored against the truth, per scoring date and
model version, entirely in Spark: the AUC comes from per-score counts of positives and negatives,
so no row list reaches the driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def performance_by_date(
    predictions: DataFrame, labels: DataFrame, threshold_by_version: dict[int, float]
) -> DataFrame:
    """Per (score_date, model_version): labelled rows, AUC, precision, recall and accuracy.

    ``predictions`` has ``score_date``, ``entity_id``, ``score``, ``prediction``, ``model_version``;
    ``labels`` has ``entity_id`` and ``label`` (the latest label per entity wins upstream); each
    version is judged at its own decision threshold (``threshold_by_version``). AUC is the
    Mann-Whitney statistic with ties counted half, from per-score counts.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    joined = predictions.join(labels, "entity_id", "inner")
    keys = ["score_date", "model_version"]
    per_score = joined.groupBy(*keys, "score").agg(
        F.sum("label").alias("pos"), F.sum(1 - F.col("label")).alias("neg")
    )
    below = Window.partitionBy(*keys).orderBy("score").rowsBetween(Window.unboundedPreceding, -1)
    auc_terms = (
        per_score.withColumn("neg_below", F.coalesce(F.sum("neg").over(below), F.lit(0)))
        .groupBy(*keys)
        .agg(
            F.sum(F.col("pos") * F.col("neg_below") + 0.5 * F.col("pos") * F.col("neg")).alias("auc_num"),
            F.sum("pos").alias("positives"),
            F.sum("neg").alias("negatives"),
        )
    )
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
    both = (F.col("positives") > 0) & (F.col("negatives") > 0)
    return out.select(
        *keys,
        "labeled_rows",
        "predicted_rows",
        F.col("positives").cast("bigint").alias("positives"),
        F.when(both, F.col("auc_num") / (F.col("positives") * F.col("negatives"))).alias("auc"),
        F.when(F.col("tp") + F.col("fp") > 0, F.col("tp") / (F.col("tp") + F.col("fp"))).alias("precision"),
        F.when(F.col("tp") + F.col("fn") > 0, F.col("tp") / (F.col("tp") + F.col("fn"))).alias("recall"),
        (F.col("correct") / F.col("labeled_rows")).alias("accuracy"),
        (thresholds[F.col("model_version")] if threshold_by_version else F.lit(None))
        .cast("double")
        .alias("threshold"),
    )
