"""Validate a bronze batch with Great Expectations; quarantine failing rows, type the good ones.

The expectation suite is derived from the model spec. GX runs on the Spark DataFrame with the
COMPLETE result format, which lists the ``_row_id`` of every unexpected row; those rows go to the
quarantine table with every expectation they failed, the others are cast to their types and
written to the validated table. Nothing is dropped silently: bronze rows = validated + quarantined.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplatform.config.specs import ModelSpec
from mlplatform.core.errors import DataProblem
from mlplatform.data.ingest import CORRUPT, UNDECODABLE_MARKER

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

NUMBER_REGEX = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
TIMESTAMP_REGEX = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
NON_FINITE_REGEX = r"^[+-]?(inf|infinity|nan)$"
RAW_SUFFIX = "__raw"
NUMBER_SUFFIX = "__number"  # a regression target as a double, for its finite check
INVALID_ENCODING = "_invalid_encoding"
FLOAT_MAX = 1.7976931348623157e308


class DataQualityError(DataProblem, RuntimeError):
    """The batch failed validation as a whole; the message names the expectations and columns."""


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    unexpected_percent: float
    element_count: int
    row_ids: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass
class ValidationOutcome:
    total_rows: int
    outcomes: list[ExpectationOutcome]
    reasons_by_row: dict[str, list[str]] = field(default_factory=dict)
    data_docs_uri: str | None = None

    @property
    def bad_rows(self) -> int:
        return len(self.reasons_by_row)

    @property
    def bad_fraction(self) -> float:
        return self.bad_rows / self.total_rows if self.total_rows else 0.0

    def worst(self, n: int = 3) -> list[ExpectationOutcome]:
        failed = [o for o in self.outcomes if not o.success]
        return sorted(failed, key=lambda o: o.unexpected_count, reverse=True)[:n]


def prepare_for_validation(df: DataFrame, spec: ModelSpec, *, require_target: bool) -> DataFrame:
    """Trim strings, treat blanks as null, and add typed numeric columns beside the raw ones.

    ``<col>__raw`` keeps the trimmed string so that a value that is not a number is reported as
    such, while ``<col>`` holds the number (null when it does not parse).
    """
    from pyspark.sql import functions as F

    cols = spec.columns
    timestamps = time_columns(spec)
    undecodable = F.col(CORRUPT).startswith(UNDECODABLE_MARKER)
    out = [
        F.col("_row_id"),
        F.when(~undecodable, F.col(CORRUPT)).alias(CORRUPT),
        F.when(undecodable, F.lit(spec_encoding(spec, require_target))).alias(INVALID_ENCODING),
    ]
    for name in cols.raw_columns:
        trimmed = F.trim(F.col(name))
        value = F.when(trimmed == "", F.lit(None)).otherwise(trimmed)
        if name in cols.numeric:
            number = F.expr(f"try_cast(nullif(trim(`{name}`), '') as double)")
            if name in spec.validation.allow_non_finite:
                # Declared as allowed: inf/NaN spellings and overflows are missing values, not errors.
                value = F.when(~value.rlike("(?i)" + NON_FINITE_REGEX), value)
                number = F.when(~F.isnan(number) & (F.abs(number) <= FLOAT_MAX), number)
            out.append(value.alias(name + RAW_SUFFIX))
            out.append(number.alias(name))
        elif name in timestamps:
            out.append(value.alias(name + RAW_SUFFIX))
            out.append(F.expr(f"try_to_timestamp(nullif(trim(`{name}`), ''))").alias(name))
        else:
            out.append(value.alias(name))
    prepared = df.select(*out)
    if require_target:
        from mlplatform.data.labels import label_value

        # The same values are labels here as in late label files: anything else leaves _label
        # null, and the target's expectation quarantines the row.
        prepared = prepared.withColumn("_label", label_value(spec, F.col(cols.target)))
        if spec.task == "regression":
            number = F.col(cols.target).try_cast("double")
            prepared = prepared.withColumn(cols.target + NUMBER_SUFFIX, number)
    return prepared


def spec_encoding(spec: ModelSpec, training: bool) -> str:
    """The declared encoding of the batch's source (training or scoring)."""
    return (spec.source.training if training else spec.source.scoring).encoding


def time_columns(spec: ModelSpec) -> list[str]:
    """Raw columns typed as timestamps: the event time and the declared ``timestamps``."""
    cols = spec.columns
    return list(dict.fromkeys([*([cols.event_time] if cols.event_time else []), *cols.timestamps]))


def build_suite(spec: ModelSpec, *, require_target: bool) -> list[Any]:
    """The GX expectations for a model's batches, derived from the spec."""
    import great_expectations.expectations as gxe

    cols, rules = spec.columns, spec.validation
    suite: list[Any] = [
        gxe.ExpectTableRowCountToBeBetween(min_value=rules.min_rows, max_value=rules.max_rows),
        gxe.ExpectColumnValuesToBeNull(column=CORRUPT),
        gxe.ExpectColumnValuesToBeNull(column=INVALID_ENCODING),
    ]
    timestamps = time_columns(spec)
    needs_time = [cols.event_time] if cols.event_time and spec.features.aggregates else []
    required = [cols.id, *rules.required, *needs_time] + ([cols.target] if require_target else [])
    for name in dict.fromkeys(required):
        column = name + RAW_SUFFIX if name in cols.numeric or name in timestamps else name
        suite.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    finite = finite_expectation()
    for name in cols.numeric:
        suite.append(gxe.ExpectColumnValuesToMatchRegex(column=name + RAW_SUFFIX, regex=NUMBER_REGEX))
        if name not in rules.allow_non_finite:
            suite.append(finite(column=name))
    for name in timestamps:
        suite.append(gxe.ExpectColumnValuesToMatchRegex(column=name + RAW_SUFFIX, regex=TIMESTAMP_REGEX))
    for name, bounds in rules.ranges.items():
        suite.append(
            gxe.ExpectColumnValuesToBeBetween(column=name, min_value=bounds.min, max_value=bounds.max)
        )
    for name, allowed in rules.allowed_values.items():
        suite.append(gxe.ExpectColumnValuesToBeInSet(column=name, value_set=list(allowed)))
    if require_target:
        suite += target_expectations(spec)
    for name in rules.unique:
        suite.append(gxe.ExpectColumnValuesToBeUnique(column=name))
    for i, extra in enumerate(rules.expectations):
        suite.append(extra_expectation(spec, i, extra.type, extra.kwargs))
    return suite


def target_expectations(spec: ModelSpec) -> list[Any]:
    """The target column's values must be labels: a class, a positive or negative, or a number.

    On the target column itself, so the reason names it; a binary target with no conventional
    negative takes every non-null value, and the target's not-null expectation suffices.
    """
    import great_expectations.expectations as gxe

    target = spec.columns.target
    if spec.task == "regression":
        return [
            gxe.ExpectColumnValuesToMatchRegex(column=target, regex=NUMBER_REGEX),
            finite_expectation()(column=target + NUMBER_SUFFIX),
        ]
    if spec.task == "multiclass":
        return [gxe.ExpectColumnValuesToBeInSet(column=target, value_set=list(spec.columns.classes or []))]
    from mlplatform.data.labels import target_values

    positive, negatives = target_values(spec)
    if negatives is None:
        return []
    return [gxe.ExpectColumnValuesToBeInSet(column=target, value_set=[positive, *negatives])]


@cache
def finite_expectation() -> type:
    """``expect_column_values_to_be_finite``: a number that parses to ±inf or NaN (``1e309``) fails.

    A GX expectation of its own (a between check over the whole float range) so the quarantine
    reason says what is wrong, rather than naming a range the spec never declared.
    """
    import great_expectations.expectations as gxe

    class ExpectColumnValuesToBeFinite(gxe.ExpectColumnValuesToBeBetween):
        min_value: float = -FLOAT_MAX
        max_value: float = FLOAT_MAX
        description: str = "Values are finite numbers: not ±Infinity (an overflow such as 1e309) nor NaN."

    return ExpectColumnValuesToBeFinite


def extra_expectation(spec: ModelSpec, index: int, type_name: str, kwargs: dict[str, Any]) -> Any:
    """A GX expectation named in the spec (``expect_column_value_lengths_to_be_between`` → class)."""
    import great_expectations.expectations as gxe

    class_name = "".join(part.capitalize() for part in type_name.split("_"))
    cls = getattr(gxe, class_name, None)
    where = f"model spec '{spec.name}', field validation.expectations[{index}]"
    if cls is None:
        raise ValueError(f"{where}: Great Expectations has no expectation '{type_name}'")
    try:
        return cls(**kwargs)
    except Exception as exc:  # pydantic errors from GX name the bad argument
        raise ValueError(f"{where} ({type_name}): invalid arguments {kwargs}: {exc}") from exc


def _display_column(column: str | None) -> str | None:
    if column and column.endswith(RAW_SUFFIX):
        return column[: -len(RAW_SUFFIX)]
    return column


def run_gx(
    prepared: DataFrame,
    spec: ModelSpec,
    suite_items: list[Any],
    *,
    suite_name: str,
    gx_project_dir: str | None,
    run_name: str,
) -> ValidationOutcome:
    """Run the suite with GX on the Spark DataFrame; build Data Docs when a project dir is given."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    if gx_project_dir:
        Path(gx_project_dir).mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=gx_project_dir)
    else:
        context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_or_update_spark(name="spark")
    asset_name = f"{spec.name}_batch"
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(name=asset_name)
    try:
        batch_def = asset.get_batch_definition("whole")
    except KeyError:
        batch_def = asset.add_batch_definition_whole_dataframe("whole")
    suite = gx.ExpectationSuite(name=suite_name)
    for item in suite_items:
        suite.add_expectation(item)
    suite = context.suites.add_or_update(suite)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite_name, data=batch_def, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": prepared},
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": ["_row_id"],
            "return_unexpected_index_query": False,
        },
        run_id=gx.RunIdentifier(run_name=run_name),
    )
    total = prepared.count()
    outcomes: list[ExpectationOutcome] = []
    reasons: dict[str, list[str]] = defaultdict(list)
    for res in result.results:
        cfg = res.expectation_config
        column = _display_column(cfg.kwargs.get("column"))
        info = res.result or {}
        ids = tuple(
            str(item["_row_id"]) for item in info.get("unexpected_index_list") or [] if isinstance(item, dict)
        )
        outcome = ExpectationOutcome(
            expectation=cfg.type,
            column=column,
            success=bool(res.success),
            unexpected_count=int(info.get("unexpected_count") or 0),
            unexpected_percent=float(info.get("unexpected_percent") or 0.0),
            element_count=int(info.get("element_count") or total),
            row_ids=ids,
        )
        outcomes.append(outcome)
        for row_id in ids:
            reasons[row_id].append(outcome.label)
    docs_uri = None
    if gx_project_dir:
        context.build_data_docs()
        index = Path(gx_project_dir) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
        docs_uri = str(index) if index.exists() else None
    return ValidationOutcome(total, outcomes, dict(reasons), docs_uri)


def table_level_failures(outcome: ValidationOutcome, spec: ModelSpec | None = None) -> list[str]:
    """Failures that concern the batch as a whole and fail the run whatever the bad-row share.

    Table expectations (row count bounds) always; duplicated keys when the spec's
    ``validation.duplicate_keys`` is ``fail`` (the duplicated rows are still quarantined).
    """
    failures = [
        f"{o.label} failed (observed {o.element_count} rows)"
        for o in outcome.outcomes
        if not o.success and not o.row_ids and o.expectation.startswith("expect_table")
    ]
    if spec is not None and spec.validation.duplicate_keys == "fail":
        failures += [
            f"{o.label} failed: {o.unexpected_count} rows share a key in column '{o.column}'"
            for o in outcome.outcomes
            if not o.success and o.expectation == "expect_column_values_to_be_unique"
        ]
    return failures


def quarantine_frame(
    spark: SparkSession,
    bronze: DataFrame,
    outcome: ValidationOutcome,
    *,
    model: str,
    batch_id: str,
    run_id: str,
    id_column: str,
) -> DataFrame:
    """Quarantine rows: the raw bronze row as JSON with every reason it failed, keyed by its row key."""
    from pyspark.sql import functions as F

    reasons = spark.createDataFrame(
        [(rid, rs) for rid, rs in outcome.reasons_by_row.items()], "_row_id string, reasons array<string>"
    )
    payload = [c for c in bronze.columns if not c.startswith("_") or c == CORRUPT]
    return bronze.join(F.broadcast(reasons), "_row_id", "inner").select(
        F.lit(model).alias("model_name"),
        F.lit(batch_id).alias("batch_id"),
        F.lit(run_id).alias("run_id"),
        F.col("_row_id").alias("row_key"),
        F.col(id_column).cast("string").alias("entity_id"),
        F.col("reasons"),
        F.to_json(F.struct(*[F.col(c) for c in payload])).alias("row_json"),
        F.current_timestamp().alias("quarantined_at"),
    )


def validated_frame(spark: SparkSession, prepared: DataFrame, outcome: ValidationOutcome) -> DataFrame:
    """The typed good rows (bad row ids removed, helper columns dropped)."""
    from pyspark.sql import functions as F

    bad = spark.createDataFrame([(rid,) for rid in outcome.reasons_by_row], "_row_id string")
    keep = [
        c
        for c in prepared.columns
        if not c.endswith((RAW_SUFFIX, NUMBER_SUFFIX)) and c not in (CORRUPT, INVALID_ENCODING)
    ]
    return prepared.join(F.broadcast(bad), "_row_id", "left_anti").select(*keep)


def results_rows(
    outcome: ValidationOutcome, *, model: str, batch_id: str, run_id: str
) -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return [
        {
            "model_name": model,
            "batch_id": batch_id,
            "run_id": run_id,
            "expectation": o.expectation,
            "column": o.column,
            "success": o.success,
            "unexpected_count": o.unexpected_count,
            "unexpected_percent": o.unexpected_percent,
            "element_count": o.element_count,
            "data_docs_uri": outcome.data_docs_uri,
            "validated_at": now,
        }
        for o in outcome.outcomes
    ]


def failure_message(spec: ModelSpec, table: str, outcome: ValidationOutcome) -> str:
    worst = "; ".join(
        f"{o.label}: {o.unexpected_count} rows ({o.unexpected_percent:.1f}%)" for o in outcome.worst()
    )
    return (
        f"table {table}: {outcome.bad_rows} of {outcome.total_rows} rows ({outcome.bad_fraction:.1%}) failed "
        f"validation for model '{spec.name}', above validation.max_bad_row_fraction="
        f"{spec.validation.max_bad_row_fraction}; worst: {worst}. Failing rows are in the quarantine table."
    )


def summarise(outcome: ValidationOutcome) -> dict[str, Any]:
    return {
        "rows": outcome.total_rows,
        "bad_rows": outcome.bad_rows,
        "bad_fraction": round(outcome.bad_fraction, 6),
        "failed_expectations": [o.label for o in outcome.outcomes if not o.success],
        "data_docs_uri": outcome.data_docs_uri,
    }
