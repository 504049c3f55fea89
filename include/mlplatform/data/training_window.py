"""The training set of a run: the base training rows plus, with ``training.window``, the recently
scored rows whose late labels have arrived.

``plan_window`` decides which scoring dates of the window have labels, and which of them are the
recent holdout, and records the Delta versions of ``validated`` and ``labels`` it read. The
decision is pure (``decide_window``). ``assemble`` turns a plan into rows, marked ``_split``
train or holdout. It reads only through the recorded versions, so ``reproduce`` rebuilds the same
set with time travel after later batches have arrived.

A scored row gets the latest label of its entity that arrived by the run's logical date, not before
the row was scored. An entity scored on several dates trains once, on the row its label answers
(the latest scored before the label). Labels never come from the scoring file's own target column.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from mlplatform.config.spec_sections import TrainingWindow
from mlplatform.config.specs import ModelSpec
from mlplatform.core.errors import DataProblem
from mlplatform.io.layout import SCORING_BATCH_PATTERN

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class TrainingWindowError(DataProblem, ValueError):
    """The window has too few labelled rows and the spec trains without the base source."""


class WindowPlan(BaseModel):
    """Which rows a windowed training run uses, as of which Delta versions (JSON-able for XCom,
    the registry record and lineage)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    used: bool
    reason: str
    as_of: str
    start: str
    base_batch_id: str
    include_base: bool
    validated_version: int | None
    labels_version: int | None
    labelled_rows: dict[str, int]
    train_dates: list[str]
    holdout_dates: list[str]


def holdout_period(window: dict[str, Any] | None) -> dict[str, Any]:
    """What a training run's holdout is, for logs and decision records: the recent scoring dates
    of a used window, or the hash split of the training batch."""
    if window and window.get("used"):
        return {"kind": "recent", "dates": window["holdout_dates"], "as_of": window["as_of"]}
    return {"kind": "hash_split", "dates": []}


def window_start(as_of: str, days: int) -> str:
    """The first scoring date of a window of ``days`` days ending on ``as_of`` (inclusive)."""
    return (date.fromisoformat(as_of) - timedelta(days=days - 1)).isoformat()


def choose_holdout_dates(labelled_rows: dict[str, int], window: TrainingWindow) -> list[str]:
    """The most recent labelled dates: ``holdout_days`` of them, or as many as hold ``holdout_share``
    of the window's labelled rows (at least one date)."""
    dates = sorted(d for d, n in labelled_rows.items() if n > 0)
    if not dates:
        return []
    if window.holdout_share is None:
        return dates[-int(window.holdout_days or 1) :]
    total, taken, chosen = sum(labelled_rows[d] for d in dates), 0, []
    for d in reversed(dates):
        chosen.insert(0, d)
        taken += labelled_rows[d]
        if taken >= window.holdout_share * total:
            break
    return chosen


def decide_window(
    labelled_rows: dict[str, int], window: TrainingWindow
) -> tuple[bool, str, list[str], list[str]]:
    """(used, reason, train dates, holdout dates) for the labelled rows per scoring date."""
    total = sum(labelled_rows.values())
    if total < window.min_labeled_rows:
        reason = (
            f"{total} labelled scored rows in the window, fewer than training.window.min_labeled_rows "
            f"({window.min_labeled_rows})"
        )
        return False, reason, [], []
    holdout = choose_holdout_dates(labelled_rows, window)
    train = sorted(d for d, n in labelled_rows.items() if n > 0 and d not in holdout)
    if not window.include_base and not train:
        return False, "every labelled date is holdout and training.window.include_base is off", [], []
    used_rows = sum(labelled_rows[d] for d in train)
    reason = (
        f"window of {len(train)} labelled scoring date(s) for training ({used_rows} rows) and "
        f"{len(holdout)} recent date(s) as holdout ({sum(labelled_rows[d] for d in holdout)} rows)"
    )
    return True, reason, train, holdout


def labelled_scored_rows(
    validated: DataFrame, labels: DataFrame, spec: ModelSpec, *, start: str, as_of: str
) -> DataFrame:
    """Validated rows of the scoring batches dated ``start``..``as_of`` with their late label as
    ``_label`` and their scoring date as ``_score_date``; one row per entity. Rows and labels meet
    on the row key (``data.row_keys``): the id, or the content key of a spec without ids."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from mlplatform.data.row_keys import entity_key

    score_date = F.to_date(F.regexp_extract(F.col("_batch_id"), SCORING_BATCH_PATTERN, 1))
    day = F.to_date(F.lit(as_of))
    scored = (
        validated.where(F.col("_batch_id").rlike(SCORING_BATCH_PATTERN))
        .withColumn("_score_date", score_date)
        .where(F.col("_score_date").between(F.to_date(F.lit(start)), day))
        .drop("_label")
    )
    newest = Window.partitionBy("entity_id").orderBy(F.desc("label_date"))
    latest = (
        labels.where(F.col("label_date") <= day)
        .withColumn("_rank", F.row_number().over(newest))
        .where("_rank = 1")
        .select(
            F.col("entity_id").alias("_label_entity"),
            F.col("label").cast("double").alias("_label"),
            F.col("label_date").alias("_label_date"),
        )
    )
    joined = scored.join(
        latest,
        (entity_key(spec) == F.col("_label_entity")) & (F.col("_label_date") >= F.col("_score_date")),
        "inner",
    )
    answered = Window.partitionBy("_label_entity").orderBy(F.desc("_score_date"), F.desc("_row_id"))
    return (
        joined.withColumn("_rank", F.row_number().over(answered))
        .where("_rank = 1")
        .drop("_rank", "_label_entity", "_label_date")
    )


def count_by_date(rows: DataFrame) -> dict[str, int]:
    return {
        r["_score_date"].isoformat(): int(r["count"]) for r in rows.groupBy("_score_date").count().collect()
    }


def plan_window(
    validated: DataFrame | None,
    labels: DataFrame | None,
    spec: ModelSpec,
    *,
    as_of: str,
    base_batch_id: str,
    validated_version: int | None,
    labels_version: int | None,
) -> WindowPlan:
    """Which scored batches of the window train and which are the holdout; refuses (naming the
    spec field) a window without enough labels when the base source is off."""
    window = spec.training.window
    if window is None:
        raise ValueError(f"model '{spec.name}' has no training.window")
    start = window_start(as_of, window.days)
    counts: dict[str, int] = {}
    if validated is not None and labels is not None:
        counts = count_by_date(labelled_scored_rows(validated, labels, spec, start=start, as_of=as_of))
    used, reason, train, holdout = decide_window(counts, window)
    if labels is None:
        reason = "no late labels loaded yet; " + reason
    if not used and not window.include_base:
        raise TrainingWindowError(
            f"model '{spec.name}': cannot train on the window {start}..{as_of}: {reason} "
            "(set training.window.include_base to train on the base source as well)"
        )
    return WindowPlan(
        used=used,
        reason=reason if used else f"{reason}: trained on the base source with the hash holdout",
        as_of=as_of,
        start=start,
        base_batch_id=base_batch_id,
        include_base=window.include_base,
        validated_version=validated_version,
        labels_version=labels_version,
        labelled_rows=dict(sorted(counts.items())),
        train_dates=train,
        holdout_dates=holdout,
    )


def assemble(validated: DataFrame, labels: DataFrame | None, spec: ModelSpec, plan: WindowPlan) -> DataFrame:
    """The plan's rows with ``_split``: base rows train (all of them when the window is used, by
    the hash split otherwise), window rows train or holdout by their scoring date."""
    from pyspark.sql import functions as F

    from mlplatform.features.engineering import split_column

    base = validated.where(F.col("_batch_id") == plan.base_batch_id)
    if not plan.used or labels is None:
        return base.withColumn("_split", split_column(spec))
    recent = labelled_scored_rows(validated, labels, spec, start=plan.start, as_of=plan.as_of)
    chosen = recent.where(
        F.col("_score_date").isin([date.fromisoformat(d) for d in plan.train_dates + plan.holdout_dates])
    )
    holdout = F.col("_score_date").isin([date.fromisoformat(d) for d in plan.holdout_dates])
    window_rows = chosen.withColumn("_split", F.when(holdout, "holdout").otherwise("train")).drop(
        "_score_date"
    )
    if not plan.include_base:
        return window_rows
    return base.withColumn("_split", F.lit("train")).unionByName(window_rows)


def rows_as_of(
    spark: SparkSession, spec: ModelSpec, plan: WindowPlan, *, validated_uri: str, labels_uri: str
) -> DataFrame:
    """``assemble`` over ``validated`` and this model's ``labels`` read as of the plan's Delta
    versions: what the run trained on, also after later batches and labels have arrived."""
    from pyspark.sql import functions as F

    def as_of(uri: str, version: int | None) -> DataFrame:
        reader = spark.read.format("delta")
        return (reader.option("versionAsOf", int(version)) if version is not None else reader).load(uri)

    validated = as_of(validated_uri, plan.validated_version)
    labels = None
    if plan.labels_version is not None:
        labels = as_of(labels_uri, plan.labels_version).where(F.col("model_name") == spec.name)
    return assemble(validated, labels, spec, plan)
