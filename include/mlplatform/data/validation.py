"""Validate a bronze batch with Great Expectations; quarantine failing rows, type the good ones.

The expectation suite is derived from the model spec. GX runs on the Spark DataFrame with the
COMPLETE result format, which lists the ``_row_id`` of every unexpected row; those rows go to the
quarantine table with every expectation they failed, the others are cast to their types and
written to the validated table. Nothing is dropped silently: bronze rows = validated + quarantined.

Values listed in ``columns.missing_values`` are read as null before typing, validation and
imputation, and counted; exact duplicate rows and derived features' out-of-domain values are
checked beside the suite (``data.row_checks``). Without ``columns.id`` each row's content key
(``data.row_keys``) is its key and goes to the validated table as ``_content_key``.
"""

from __future__ import annotations

import logging
import tempfile
from collections import defaultdict
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplatform.config.specs import ModelSpec
from mlplatform.data.ingest import CORRUPT, UNDECODABLE_MARKER
from mlplatform.data.outcomes import (
    FLOAT_MAX,
    INVALID_ENCODING,
    NON_FINITE_REGEX,
    NUMBER_REGEX,
    NUMBER_SUFFIX,
    RAW_SUFFIX,
    SENTINEL_SUFFIX,
    TIMESTAMP_REGEX,
    DataQualityError,
    ExpectationOutcome,
    ValidationOutcome,
    failure_message,
    results_rows,
    summarise,
    table_level_failures,
)
from mlplatform.data.row_keys import CONTENT_KEY, DUPLICATE_KEY, content_key, duplicate_key, is_sentinel
from mlplatform.io import files

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)
# The Data Docs site's index below the GX project dir (GX's file layout: <project>/gx/...).
DATA_DOCS_INDEX = "gx/uncommitted/data_docs/local_site/index.html"

__all__ = [
    "FLOAT_MAX",
    "INVALID_ENCODING",
    "NON_FINITE_REGEX",
    "NUMBER_REGEX",
    "NUMBER_SUFFIX",
    "RAW_SUFFIX",
    "SENTINEL_SUFFIX",
    "TIMESTAMP_REGEX",
    "DataQualityError",
    "ExpectationOutcome",
    "ValidationOutcome",
    "build_suite",
    "failure_message",
    "prepare_for_validation",
    "quarantine_frame",
    "results_rows",
    "run_gx",
    "summarise",
    "table_level_failures",
    "validated_frame",
]


def prepare_for_validation(df: DataFrame, spec: ModelSpec, *, require_target: bool) -> DataFrame:
    """Trim strings, treat blanks and missing-value sentinels as null, and add typed numeric
    columns beside the raw ones.

    ``<col>__raw`` keeps the trimmed string so that a value that is not a number is reported as
    such, while ``<col>`` holds the number (null when it does not parse). A column with
    ``columns.missing_values`` gets ``<col>__sentinel`` (was the value a sentinel?) for the count.
    The row's content key (``_content_key``, without an id) and duplicate key are added too.
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
    out.append((content_key(spec) if cols.id is None else duplicate_key(spec)).alias(DUPLICATE_KEY))
    for name in cols.raw_columns:
        trimmed = F.trim(F.col(name))
        sentinel = is_sentinel(spec, name, trimmed)
        value = F.when((trimmed != "") & ~sentinel, trimmed)
        if cols.missing_values.get(name):
            out.append(sentinel.alias(name + SENTINEL_SUFFIX))
        if name in cols.numeric:
            number = F.when(~sentinel, F.expr(f"try_cast(nullif(trim(`{name}`), '') as double)"))
            if name in spec.validation.allow_non_finite:
                # Declared as allowed: inf/NaN spellings and overflows are missing values, not errors.
                value = F.when(~value.rlike("(?i)" + NON_FINITE_REGEX), value)
                number = F.when(~F.isnan(number) & (F.abs(number) <= FLOAT_MAX), number)
            out.append(value.alias(name + RAW_SUFFIX))
            out.append(number.alias(name))
        elif name in timestamps:
            out.append(value.alias(name + RAW_SUFFIX))
            out.append(F.when(~sentinel, F.expr(f"try_to_timestamp(nullif(trim(`{name}`), ''))")).alias(name))
        else:
            out.append(value.alias(name))
    prepared = df.select(*out)
    if cols.id is None:  # without an id, what copies share is the row's key
        prepared = prepared.withColumn(CONTENT_KEY, F.col(DUPLICATE_KEY))
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
    ids = [cols.id] if cols.id else []
    required = [*ids, *rules.required, *needs_time] + ([cols.target] if require_target else [])
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
    """Run the suite with GX on the Spark DataFrame; build Data Docs when a project dir is given.

    The project dir is a folder or an ``s3a://`` prefix. GX 1.x keeps its stores on a filesystem
    only, so an object-store project is mirrored into a temporary folder, run there, and what
    changed (validation results, Data Docs pages, the index) is written back.
    """
    if gx_project_dir and "://" in gx_project_dir and not gx_project_dir.startswith("file://"):
        with tempfile.TemporaryDirectory(prefix="mlp-gx-") as tmp:
            local = Path(tmp)
            fetched = files.download_tree(gx_project_dir, local)
            before = files.tree_digests(local)
            outcome = run_gx(
                prepared, spec, suite_items, suite_name=suite_name, gx_project_dir=tmp, run_name=run_name
            )
            written = files.upload_tree(local, gx_project_dir, unchanged=before)
            log.info("Data Docs: GX project %s (%d files read, %d written)", gx_project_dir, fetched, written)
            docs = f"{gx_project_dir.rstrip('/')}/{DATA_DOCS_INDEX}" if outcome.data_docs_uri else None
            return replace(outcome, data_docs_uri=docs)
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
    from mlplatform.data.row_checks import row_checks

    outcomes += row_checks(prepared, spec, total)
    for outcome in outcomes:
        for row_id in outcome.row_ids:
            reasons[row_id].append(outcome.label)
    keys = _bad_row_keys(prepared, spec, list(reasons))
    docs_uri = None
    if gx_project_dir:
        context.build_data_docs()
        index = Path(gx_project_dir) / DATA_DOCS_INDEX
        docs_uri = str(index) if index.exists() else None
    return ValidationOutcome(total, outcomes, dict(reasons), docs_uri, keys)


def _bad_row_keys(prepared: DataFrame, spec: ModelSpec, row_ids: list[str]) -> dict[str, str]:
    """The content keys of the bad rows of a spec without ids (their quarantine ``entity_id``)."""
    from pyspark.sql import functions as F

    if spec.columns.id is not None or not row_ids:
        return {}
    bad = prepared.sparkSession.createDataFrame([(r,) for r in row_ids], "_row_id string")
    rows = prepared.join(F.broadcast(bad), "_row_id", "inner").select("_row_id", CONTENT_KEY).collect()
    return {str(r["_row_id"]): str(r[CONTENT_KEY]) for r in rows}


def quarantine_frame(
    spark: SparkSession,
    bronze: DataFrame,
    outcome: ValidationOutcome,
    *,
    model: str,
    batch_id: str,
    run_id: str,
    id_column: str | None,
) -> DataFrame:
    """Quarantine rows: the raw bronze row as JSON with every reason it failed, keyed by its row key.

    ``entity_id`` is the id column's value, or without one (``id_column`` None) the row's content key.
    """
    from pyspark.sql import functions as F

    reasons = spark.createDataFrame(
        [(rid, rs, outcome.keys_by_row.get(rid)) for rid, rs in outcome.reasons_by_row.items()],
        "_row_id string, reasons array<string>, _key string",
    )
    entity = F.col(id_column).cast("string") if id_column else F.col("_key")
    payload = [c for c in bronze.columns if not c.startswith("_") or c == CORRUPT]
    return bronze.join(F.broadcast(reasons), "_row_id", "inner").select(
        F.lit(model).alias("model_name"),
        F.lit(batch_id).alias("batch_id"),
        F.lit(run_id).alias("run_id"),
        F.col("_row_id").alias("row_key"),
        entity.alias("entity_id"),
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
        if not c.endswith((RAW_SUFFIX, NUMBER_SUFFIX, SENTINEL_SUFFIX))
        and c not in (CORRUPT, INVALID_ENCODING, DUPLICATE_KEY)
    ]
    return prepared.join(F.broadcast(bad), "_row_id", "left_anti").select(*keep)
