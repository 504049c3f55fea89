"""After scoring: late labels, performance over time, and the retraining policy's verdict.

Labels arrive days after the predictions they judge. Each arrival file is kept whole in the
``labels`` table (bad rows go to quarantine with their reason), then every labelled prediction of
the lookback window is scored again against the truth, per scoring date, entirely in Spark: the AUC
comes from per-score counts of positives and negatives, so no row list reaches the driver.

``decide_retraining`` is pure: today's signals plus the earlier decisions give the verdict, so the
policy is unit-tested without Spark or Airflow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from mlplatform.config.specs import ModelSpec, RetrainingPolicy
from mlplatform.core.errors import DataProblem

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class LabelsError(DataProblem, ValueError):
    """A labels file lacks a column or cannot be read; the message names the file and column."""


def read_labels(
    spark: SparkSession, spec: ModelSpec, uri: str, label_date: str
) -> tuple[DataFrame, DataFrame]:
    """One arrival file as (``row_id``, ``label``, ``label_date``) rows, and its rejected rows.

    A label equal to ``columns.target_positive`` is 1, any other non-blank value 0 (the mapping
    training uses for the target); a blank id or label is rejected (with ``reason`` and the raw
    row as JSON), never silently dropped.
    """
    from pyspark.sql import functions as F

    labels = spec.labels
    if labels is None:
        raise LabelsError(f"model '{spec.name}' has no 'labels' section in its spec")
    id_col = labels.id_column or spec.columns.id
    label_col = labels.label_column or spec.columns.target
    reader = spark.read.format(labels.source.format).options(**labels.source.options)
    try:
        raw = reader.load(uri)
        present = raw.columns
    except Exception as exc:  # Spark's AnalysisException and friends: the message is what matters
        raise LabelsError(f"cannot read labels file {uri} for model '{spec.name}': {exc}") from exc
    missing = [c for c in (id_col, label_col) if c not in present]
    if missing:
        raise LabelsError(
            f"labels file {uri} for model '{spec.name}' lacks column(s) {missing} "
            f"(spec field 'labels.id_column'/'labels.label_column'); it has {present}"
        )
    row_id = F.trim(F.col(id_col).cast("string"))
    value = F.trim(F.col(label_col).cast("string"))
    reason = F.when(row_id.isNull() | (row_id == ""), F.lit(f"missing {id_col}")).when(
        value.isNull() | (value == ""), F.lit(f"missing {label_col}")
    )
    tagged = raw.withColumn("_reason", reason)
    good = tagged.where(F.col("_reason").isNull()).select(
        row_id.alias("row_id"),
        F.when(value == F.lit(spec.columns.target_positive), 1).otherwise(0).cast("int").alias("label"),
        F.to_date(F.lit(label_date)).alias("label_date"),
    )
    bad = tagged.where(F.col("_reason").isNotNull()).select(
        row_id.alias("row_id"),
        F.col("_reason").alias("reason"),
        F.to_json(F.struct(*[F.col(c) for c in present])).alias("row_json"),
    )
    return good, bad


def performance_by_date(
    predictions: DataFrame, labels: DataFrame, threshold_by_version: dict[int, float]
) -> DataFrame:
    """Per (score_date, model_version): labelled rows, AUC, precision, recall and accuracy.

    ``predictions`` has ``score_date``, ``row_id``, ``score``, ``prediction``, ``model_version``;
    ``labels`` has ``row_id`` and ``label`` (the latest label per row wins upstream). AUC is the
    Mann-Whitney statistic with ties counted half, from per-score counts.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    joined = predictions.join(labels, "row_id", "inner")
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


@dataclass(frozen=True)
class Signals:
    """What one scoring run measured that the policy judges."""

    share_drifted: float
    drifted_features: list[str]
    prediction_drifted: bool
    auc: float | None = None
    reference_auc: float | None = None
    performance_date: str | None = None


@dataclass(frozen=True)
class PolicyDecision:
    degraded: bool
    signals: list[str]
    consecutive_degraded: int
    retrain: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def degradation_signals(policy: RetrainingPolicy, signals: Signals) -> list[str]:
    """The policy's conditions that today's run meets, each as a readable sentence."""
    met = []
    if signals.share_drifted >= policy.max_share_drifted:
        met.append(
            f"{signals.share_drifted:.0%} of input features drifted "
            f"({', '.join(signals.drifted_features)}) >= {policy.max_share_drifted:.0%}"
        )
    if policy.on_prediction_drift and signals.prediction_drifted:
        met.append("the prediction distribution drifted")
    if (
        policy.max_auc_drop is not None
        and signals.auc is not None
        and signals.reference_auc is not None
        and signals.reference_auc - signals.auc >= policy.max_auc_drop
    ):
        met.append(
            f"AUC on labels of {signals.performance_date} is {signals.auc:.3f}, "
            f"{signals.reference_auc - signals.auc:.3f} below the holdout AUC {signals.reference_auc:.3f}"
        )
    return met


def decide_retraining(
    policy: RetrainingPolicy, signals: Signals, earlier: list[dict[str, Any]], score_date: str
) -> PolicyDecision:
    """Today's verdict from today's signals and the decisions of earlier scoring dates.

    ``earlier`` holds one decision per earlier date (``score_date``, ``degraded``, ``retrain``),
    any order. The streak counts today and the degraded dates right before it, and restarts after
    a date that triggered retraining, so one episode of drift asks for one retraining.
    """
    met = degradation_signals(policy, signals)
    degraded = bool(met)
    today = date.fromisoformat(score_date)
    previous = sorted(
        (d for d in earlier if _as_date(d["score_date"]) < today), key=lambda d: _as_date(d["score_date"])
    )
    streak = 0
    if degraded:
        streak = 1
        for d in reversed(previous):
            if not d["degraded"] or d["retrain"]:
                break
            streak += 1
    last_retrain = max((_as_date(d["score_date"]) for d in previous if d["retrain"]), default=None)
    cooling = (
        last_retrain is not None
        and policy.cooldown_days > 0
        and today - last_retrain < timedelta(days=policy.cooldown_days)
    )
    retrain = policy.enabled and degraded and streak >= policy.consecutive_runs and not cooling
    if retrain:
        reason = f"retraining policy on {score_date}: " + "; ".join(met)
        if policy.consecutive_runs > 1:
            reason += f" ({streak} degraded runs in a row)"
    elif not degraded:
        reason = "no degradation"
    elif not policy.enabled:
        reason = "degraded, but the retraining policy is disabled: " + "; ".join(met)
    elif cooling:
        reason = f"degraded, but retraining ran on {last_retrain} (cooldown {policy.cooldown_days} days)"
    else:
        reason = f"degraded {streak} of {policy.consecutive_runs} runs in a row: " + "; ".join(met)
    return PolicyDecision(degraded, met, streak, retrain, reason, asdict(signals))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
