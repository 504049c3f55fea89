"""The sections of a model spec that make a model: source, validation, features, training (with
its window over recent labelled batches), evaluation, promotion and schedule.

Each is a frozen pydantic model that refuses unknown fields; ``mlplatform.config.specs`` puts
them together into ``ModelSpec`` and checks what spans sections. Column roles live in
``mlplatform.config.columns``, the sections that watch a model in production in
``mlplatform.config.monitoring_sections``.
"""

from __future__ import annotations

import re
import string
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlplatform.config.base import _Strict

PATH_PLACEHOLDERS = ("storage_root", "model", "ds", "datasets_dir")

# Encodings a source may declare: ASCII-compatible, so a line is a line in raw bytes too.
SOURCE_ENCODINGS = {
    "utf-8": "UTF-8",
    "ascii": "US-ASCII",
    "latin-1": "ISO-8859-1",
    "iso-8859-1": "ISO-8859-1",
    "iso-8859-15": "ISO-8859-15",
    "cp1252": "windows-1252",
    "windows-1252": "windows-1252",
}


class SourceSpec(_Strict):
    """A file source. ``path`` may use ``{storage_root}``, ``{model}``, ``{ds}`` (YYYY-MM-DD) and
    ``{datasets_dir}`` (the shared data sets folder), and nothing else. ``encoding`` is the text
    encoding of CSV and JSON files; rows with bytes invalid in it are quarantined, never rewritten.
    """

    path: str = Field(
        min_length=1, description="File path; may use `{storage_root}`, `{model}`, `{ds}`, `{datasets_dir}`."
    )
    format: Literal["csv", "parquet", "json", "delta"] = Field(
        default="csv", description="Spark read format."
    )
    encoding: Literal[tuple(SOURCE_ENCODINGS)] = Field(  # type: ignore[valid-type]
        default="utf-8", description="Text encoding of CSV and JSON; rows invalid in it are quarantined."
    )
    options: dict[str, str] = Field(default_factory=dict, description="Spark reader options (`header`, ...).")

    @field_validator("path")
    @classmethod
    def _known_placeholders(cls, path: str) -> str:
        try:
            parts = [(n, f, c) for _, n, f, c in string.Formatter().parse(path) if n is not None]
        except ValueError as exc:
            raise ValueError(f"path {path!r} is not a valid template: {exc}") from exc
        for name, fmt, conversion in parts:
            if name not in PATH_PLACEHOLDERS or fmt or conversion:
                shown = (
                    "{" + name + (f"!{conversion}" if conversion else "") + (f":{fmt}" if fmt else "") + "}"
                )
                allowed = ", ".join("{" + p + "}" for p in PATH_PLACEHOLDERS)
                raise ValueError(
                    f"path {path!r} uses placeholder {shown}; only {allowed} are allowed "
                    "(no attributes, indexes, conversions or formats)"
                )
        if ".." in re.split(r"[/\\]", path):
            raise ValueError(f"path {path!r} climbs out of its folder with '..'; name the folder itself")
        return path

    @field_validator("options")
    @classmethod
    def _encoding_is_a_field(cls, options: dict[str, str]) -> dict[str, str]:
        for key in options:
            if key.lower() in ("encoding", "charset"):
                raise ValueError(f"option '{key}': declare the encoding in the source's 'encoding' field")
        return options

    @property
    def java_encoding(self) -> str:
        """The encoding's name as Spark's readers know it."""
        return SOURCE_ENCODINGS[self.encoding]

    def reader_options(self) -> dict[str, str]:
        """The Spark reader options, the declared encoding included for text formats."""
        extra = {"encoding": self.java_encoding} if self.format in ("csv", "json") else {}
        return {**self.options, **extra}

    def resolve(self, *, storage_root: str, datasets_dir: str, model: str, ds: str) -> str:
        """The path with its placeholders filled in (the one place a spec path is templated)."""
        return self.path.format(
            storage_root=storage_root.rstrip("/"),
            model=model,
            ds=ds,
            datasets_dir=datasets_dir.rstrip("/"),
        )


class SourcesSpec(_Strict):
    training: SourceSpec = Field(description="The file the training DAG reads.")
    scoring: SourceSpec = Field(description="The file the scoring DAG reads for each logical date (`{ds}`).")


class RangeSpec(_Strict):
    min: float | None = Field(default=None, description="Lowest allowed value, inclusive (null: none).")
    max: float | None = Field(default=None, description="Highest allowed value, inclusive (null: none).")


class ExtraExpectation(_Strict):
    """Any Great Expectations expectation, by its snake_case type and keyword arguments."""

    type: str = Field(pattern=r"^expect_[a-z0-9_]+$", description="The Great Expectations expectation type.")
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Its keyword arguments; a `column` must be declared."
    )


class ValidationSpec(_Strict):
    """Expectations the raw data must meet, and what to do when it does not.

    Failing rows are quarantined with the reason; the run fails when more than
    ``max_bad_row_fraction`` of the batch fails, or on a table-level problem (empty batch, row
    count outside the bounds, duplicated keys under ``duplicate_keys: fail``, schema drift under
    a ``fail`` policy). Duplicated keys (``unique`` columns, or whole rows when the spec has no
    ``id``) are counted always; ``quarantine`` keeps the first row of each key and ``keep`` keeps
    them all. A numeric value that parses to ±Infinity or NaN (``inf``, ``NaN``,
    ``1e309``) fails, except in the ``allow_non_finite`` columns, where it is a missing value.
    """

    required: list[str] = Field(
        default_factory=list, description="Non-null columns (the id, and the target in training, always are)."
    )
    ranges: dict[str, RangeSpec] = Field(
        default_factory=dict, description="Per numeric column (or regression target): inclusive value bounds."
    )
    allowed_values: dict[str, list[str]] = Field(
        default_factory=dict, description="Per column, the only values allowed."
    )
    unique: list[str] = Field(default_factory=list, description="Columns whose values must be unique.")
    min_rows: int = Field(default=1, ge=1, description="Fewest rows a batch may have; fewer fails the run.")
    max_rows: int | None = Field(default=None, ge=1, description="Most rows a batch may have (null: any).")
    max_bad_row_fraction: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Share of rows that may fail before the run fails."
    )
    duplicate_keys: Literal["fail", "quarantine", "keep"] = Field(
        default="fail", description="On duplicate keys: `fail` the run, `quarantine` repeats, or `keep` them."
    )
    extra_columns: Literal["ignore", "fail"] = Field(
        default="ignore", description="New source columns not in the recorded schema: `ignore` or `fail`."
    )
    type_changes: Literal["fail", "ignore"] = Field(
        default="fail", description="A declared column whose source type changed: `fail` the run or `ignore`."
    )
    allow_non_finite: list[str] = Field(
        default_factory=list, description="Numeric columns where ±Infinity or NaN is read as missing."
    )
    expectations: list[ExtraExpectation] = Field(
        default_factory=list, description="Extra Great Expectations expectations, checked on every batch."
    )

    @model_validator(mode="after")
    def _row_bounds(self) -> ValidationSpec:
        if self.max_rows is not None and self.max_rows < self.min_rows:
            raise ValueError(f"max_rows ({self.max_rows}) is below min_rows ({self.min_rows})")
        return self


class DerivedFeature(_Strict):
    """A feature computed from other columns: ``log1p(x)``, ``ratio(a, b)``, ``clip(x)``,
    ``bucketize(x)`` (index of the bucket among ``boundaries``) or ``date_part(ts)`` (``part``).

    ``log1p`` takes x >= 0 and ``ratio`` a non-zero denominator. A value outside the op's domain
    gives a missing feature and is counted in the validation results (``out_of_domain: "null"``),
    or quarantines its row (``"quarantine"``); never a silent constant.
    """

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="The feature's name; must be unused.")
    op: Literal["log1p", "ratio", "clip", "bucketize", "date_part"] = Field(
        description="The operation computing the feature from `inputs`."
    )
    inputs: list[str] = Field(
        min_length=1, max_length=2, description="Input columns: one, or `ratio`'s numerator and denominator."
    )
    lower: float | None = Field(default=None, description="`clip`: the lower bound (null: none).")
    upper: float | None = Field(default=None, description="`clip`: the upper bound (null: none).")
    boundaries: list[float] | None = Field(
        default=None, description="`bucketize`: strictly increasing cut points; the value counts those <= x."
    )
    part: Literal["year", "month", "dayofweek", "dayofmonth", "hour"] | None = Field(
        default=None, description="`date_part`: the part of the timestamp taken."
    )
    out_of_domain: Literal["null", "quarantine"] = Field(
        default="null", description="Outside the op's domain: a null feature (counted) or a quarantined row."
    )

    @field_validator("boundaries")
    @classmethod
    def _increasing(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            if not value:
                raise ValueError("boundaries must not be empty")
            if any(b <= a for a, b in zip(value, value[1:], strict=False)):
                raise ValueError(f"boundaries must be strictly increasing, got {value}")
        return value

    @model_validator(mode="after")
    def _arity(self) -> DerivedFeature:
        expected = 2 if self.op == "ratio" else 1
        if len(self.inputs) != expected:
            raise ValueError(f"op '{self.op}' takes {expected} input(s), got {len(self.inputs)}")
        if (self.op == "bucketize") != (self.boundaries is not None):
            raise ValueError(f"field 'boundaries' is required by op 'bucketize' only (op is '{self.op}')")
        if (self.op == "date_part") != (self.part is not None):
            raise ValueError(f"field 'part' is required by op 'date_part' only (op is '{self.op}')")
        return self


WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


class AggregateFeature(_Strict):
    """A point-in-time aggregate of the entity's strictly earlier rows within ``window`` ("7d", "24h")."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="The feature's name; must be unused.")
    column: str = Field(description="The numeric column aggregated, or `*` (with `count`) to count rows.")
    agg: Literal["count", "sum", "mean", "min", "max"] = Field(
        description="The aggregate of the entity's strictly earlier rows in the window."
    )
    window: str = Field(
        pattern=r"^[1-9][0-9]*[smhdw]$", description="Look-back: a count and unit (`s`, `m`, `h`, `d`, `w`)."
    )

    @model_validator(mode="after")
    def _star_is_count(self) -> AggregateFeature:
        if self.column == "*" and self.agg != "count":
            raise ValueError(f"column '*' is only valid with agg 'count', not '{self.agg}'")
        return self

    @property
    def window_seconds(self) -> int:
        return int(self.window[:-1]) * WINDOW_UNITS[self.window[-1]]


class FeaturesSpec(_Strict):
    """How raw columns become features. ``categorical_encoding``: ``index`` (one code per category),
    ``one_hot`` (a column per category plus ``<col>__OTHER__``) or ``target`` (smoothed label mean).
    """

    numeric_impute: Literal["median", "mean", "zero", "none"] = Field(
        default="median", description="Fills a missing number: training's `median`/`mean`, `zero`, or `none`."
    )
    max_categories: int = Field(
        default=50, ge=2, description="Most frequent training categories kept per column; the rest are other."
    )
    categorical_encoding: Literal["index", "one_hot", "target"] = Field(
        default="index", description="Categoricals as codes, one-hot columns or smoothed label means."
    )
    target_smoothing: float = Field(
        default=10.0, ge=0.0, description="`target` encoding: m in (sum + m * prior) / (n + m)."
    )
    derived: list[DerivedFeature] = Field(default_factory=list, description="Features computed from columns.")
    aggregates: list[AggregateFeature] = Field(
        default_factory=list, description="Point-in-time aggregates (need `columns.entity`, `event_time`)."
    )


class TrainingWindow(_Strict):
    """Train on recent labelled data: the base training source plus the scored batches of the last
    ``days`` days whose late labels have arrived (by the run's logical date).

    The most recent labelled scoring dates are the holdout (``holdout_days`` of them, or as many
    as hold ``holdout_share`` of the window's labelled rows), kept out of training: the gate judges
    challenger and champion on exactly those rows. With fewer than ``min_labeled_rows`` labelled
    rows the run trains on the base source alone (hash holdout), or fails if ``include_base`` is off.
    """

    days: int = Field(ge=1, le=3660, description="Days back whose labelled scored batches are trained on.")
    include_base: bool = Field(default=True, description="Train on the base training source too.")
    min_labeled_rows: int = Field(default=500, ge=1, description="Fewest labelled rows to use the window.")
    holdout_days: int | None = Field(default=None, ge=1, description="Latest labelled dates held out.")
    holdout_share: float | None = Field(
        default=None, gt=0.0, lt=1.0, description="Hold out the latest dates holding this share of rows."
    )

    @model_validator(mode="after")
    def _one_holdout_rule(self) -> TrainingWindow:
        if self.holdout_days is not None and self.holdout_share is not None:
            raise ValueError("give 'holdout_days' or 'holdout_share', not both")
        if self.holdout_days is None and self.holdout_share is None:
            object.__setattr__(self, "holdout_days", 1)
        return self


class TrainingSpec(_Strict):
    """How to train. ``params`` are XGBoost parameters, sklearn-style (``n_estimators``,
    ``learning_rate``) or native (``eta``); see ``training.native_params`` for the mapping.

    Early stopping watches logloss on ``validation_fraction`` of the train split (carved from it
    by a hash of the id and the seed); ``early_stopping_rounds: null`` trains all rounds.
    ``auto_scale_pos_weight`` sets ``scale_pos_weight`` to negatives/positives of the train split
    when ``params`` does not give one; off by default, so probabilities stay calibrated to the
    observed positive rate and the decision threshold keeps its meaning.
    """

    holdout_fraction: float = Field(
        default=0.2, gt=0.0, lt=0.9, description="Share of rows in the hash holdout (by row key, `seed`)."
    )
    seed: int = Field(default=42, description="Seed of the hash splits, XGBoost and the bootstraps.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="XGBoost params, sklearn-style (`n_estimators`) or native (`eta`)."
    )
    decision_threshold: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="Binary only: a score at or above it is a positive."
    )
    shap_sample_rows: int = Field(default=1000, ge=50, description="Most holdout rows SHAP is computed on.")
    early_stopping_rounds: int | None = Field(
        default=20, ge=1, description="Rounds without logloss gain before stopping (null: all rounds)."
    )
    validation_fraction: float = Field(
        default=0.1, gt=0.0, lt=0.5, description="Share of the train split for early stopping."
    )
    auto_scale_pos_weight: bool = Field(
        default=False, description="Binary only: `scale_pos_weight` = negatives / positives."
    )
    window: TrainingWindow | None = Field(
        default=None, description="Also train on recent labelled batches (needs `labels`)."
    )


class EvaluationSpec(_Strict):
    """Holdout evaluation: bootstrap resamples for confidence intervals and slice columns."""

    bootstrap_samples: int = Field(
        default=200, ge=0, le=5000, description="Resamples for the metrics' confidence intervals (0: none)."
    )
    slices: list[str] = Field(default_factory=list, description="Columns to break the metrics down by.")


class PromotionSpec(_Strict):
    """Gates a challenger must pass; the first model is judged on thresholds alone.

    Classifiers are judged on AUC (macro one-vs-rest for multiclass), logloss, and PR-AUC (binary)
    or macro-F1 (multiclass); regression on RMSE, MAE and R². Against a champion, both are scored
    on the same holdout rows: the challenger must beat the champion's primary metric (AUC, or RMSE
    for regression) by ``min_auc_improvement`` (``min_rmse_improvement``) and, with
    ``require_significant_improvement``, the paired bootstrap interval of the difference must lie
    above it. A field of another task type is refused. ``require_approval`` adds a
    human decision in the Airflow UI (human-in-the-loop) after the automatic checks pass.
    """

    min_auc: float = Field(default=0.6, ge=0.0, le=1.0, description="Classifiers: lowest holdout AUC.")
    min_pr_auc: float = Field(default=0.0, ge=0.0, le=1.0, description="Binary: lowest holdout PR-AUC.")
    max_logloss: float = Field(default=10.0, gt=0.0, description="Classifiers: highest holdout logloss.")
    min_auc_improvement: float = Field(
        default=0.0, ge=-1.0, le=1.0, description="Classifiers: AUC margin over the champion."
    )
    min_macro_f1: float = Field(default=0.0, ge=0.0, le=1.0, description="Multiclass: lowest macro-F1.")
    max_rmse: float | None = Field(default=None, gt=0.0, description="Regression: highest RMSE (null: off).")
    max_mae: float | None = Field(default=None, gt=0.0, description="Regression: highest MAE (null: off).")
    min_r2: float | None = Field(default=None, le=1.0, description="Regression: lowest holdout R² (null: 0).")
    min_rmse_improvement: float = Field(
        default=0.0, description="Regression: how far below the champion's the RMSE must be."
    )
    require_significant_improvement: bool = Field(
        default=False, description="The paired bootstrap interval's low end must beat the margin."
    )
    bootstrap_samples: int = Field(default=300, ge=50, le=5000, description="Paired bootstrap resamples.")
    require_approval: bool = Field(
        default=False, description="Wait for a human approval in the Airflow UI after the checks pass."
    )
    approvers: list[str] = Field(
        default_factory=list, description="Airflow users assigned the approval (empty: anyone)."
    )
    approval_timeout_hours: float | None = Field(
        default=None, gt=0, description="Hours the approval waits before timing out (null: no timeout)."
    )


class ScheduleSpec(_Strict):
    """Crons of the training and scoring DAGs; ``catchup`` replays missed scoring dates since
    ``start_date`` (backfills work either way: ``airflow backfill create``)."""

    training: str | None = Field(
        default=None, description="Training cron (null: only triggered, by hand or by retraining)."
    )
    scoring: str | None = Field(default="0 2 * * *", description="Scoring cron (null: triggered only).")
    start_date: date = Field(default=date(2026, 1, 1), description="The scoring DAG's first logical date.")
    catchup: bool = Field(default=False, description="Replay scoring dates missed since `start_date`.")
