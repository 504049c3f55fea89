"""Dry-run a spec on a sample of its training data: what ingest, validation and features would do.

The platform's own code runs (``data.ingest.check_columns`` and ``read_source``, the GX suite of
``data.validation`` on an ephemeral context, ``features.engineering`` fitted on the hash split's
train rows), but nothing is written: no Delta table, no Data Docs, no file. The report says how
many rows would be quarantined and why, the class balance, the features built and the sentinels
counted; ``passed`` says whether the batch would pass validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplatform.config.settings import Settings
from mlplatform.config.specs import ModelSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

EXAMPLES = 5


def check_spec(
    spark: SparkSession, spec: ModelSpec, settings: Settings, *, data: str | None, sample_rows: int
) -> dict[str, Any]:
    """The dry run's report (a dict); raises ``SourceError``/``SourcePathError`` on an unreadable
    or refused source, which the CLI reports as a failing batch."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from mlplatform.data import validation as v
    from mlplatform.data.ingest import check_columns, read_source, source_schema
    from mlplatform.io.roots import check_readable

    source = spec.source.training
    if data:
        uri = data
    else:
        uri = source.resolve(
            storage_root=settings.storage_root,
            datasets_dir=str(settings.datasets_dir),
            model=spec.name,
            ds="sample",
        )
        what = f"model spec '{spec.name}' field source.training.path ({source.path!r})"
        check_readable(uri, settings.readable_roots, what=what)
    observed = source_schema(spark, source, uri)
    check_columns(spec, list(observed), uri, require_target=True)
    raw, extras, *_ = read_source(spark, spec, source, uri, require_target=True)
    order = Window.orderBy(F.monotonically_increasing_id())
    line = "line " if source.format == "csv" else "row "
    offset = 2 if source.format == "csv" else 1  # a CSV's first data row is its line 2
    bronze = (
        raw.limit(sample_rows)
        .withColumn(
            "_row_id", F.concat(F.lit(line), (F.row_number().over(order) + offset - 1).cast("string"))
        )
        .withColumn("_batch_id", F.lit("spec-check"))
        .cache()
    )
    prepared = v.prepare_for_validation(bronze, spec, require_target=True).cache()
    outcome = v.run_gx(
        prepared,
        spec,
        v.build_suite(spec, require_target=True),
        suite_name=f"{spec.name}_spec_check",
        gx_project_dir=None,
        run_name=f"{spec.name}:spec-check",
    )
    failures = v.table_level_failures(outcome, spec)
    too_many = outcome.bad_fraction > spec.validation.max_bad_row_fraction
    report: dict[str, Any] = {
        "model": spec.name,
        "task": spec.task,
        "source": uri,
        "rows": outcome.total_rows,
        "extra_columns": extras,
        "quarantined": outcome.bad_rows,
        "bad_fraction": outcome.bad_fraction,
        "max_bad_row_fraction": spec.validation.max_bad_row_fraction,
        "failed_expectations": _failed(bronze, spec, outcome),
        "table_failures": failures,
        "sentinels": _sentinels(bronze, spec),
        "passed": not failures and not too_many,
    }
    if too_many:
        report["why"] = v.failure_message(spec, "(dry run, no table)", outcome)
    elif failures:
        report["why"] = "table-level expectations failed: " + "; ".join(failures)
    validated = v.validated_frame(spark, prepared, outcome).cache()
    report["target"] = _target_summary(validated, spec)
    report.update(_features(validated, spec))
    for frame in (validated, prepared, bronze):
        frame.unpersist()
    return report


def _failed(bronze: DataFrame, spec: ModelSpec, outcome: Any) -> list[dict[str, Any]]:
    """Per failed expectation: its count and a few example rows (line and id when there is one)."""
    from pyspark.sql import functions as F

    out = []
    id_col = spec.columns.id
    for o in sorted(outcome.outcomes, key=lambda o: -o.unexpected_count):
        if o.success:
            continue
        examples = list(o.row_ids[:EXAMPLES])
        if id_col and examples:
            rows = bronze.where(F.col("_row_id").isin(examples)).select("_row_id", id_col).collect()
            ids = {r["_row_id"]: r[id_col] for r in rows}
            examples = [f"{rid} ({id_col}={ids.get(rid)!s})" for rid in examples]
        out.append(
            {
                "expectation": o.expectation,
                "column": o.column,
                "rows": o.unexpected_count,
                "percent": round(o.unexpected_percent, 2),
                "examples": examples,
            }
        )
    return out


def _sentinels(bronze: DataFrame, spec: ModelSpec) -> dict[str, int]:
    """Rows per column whose raw value is one of its declared ``missing_values``."""
    from pyspark.sql import functions as F

    declared = spec.columns.missing_values
    if not declared:
        return {}
    exprs = [
        F.count(F.when(F.trim(F.col(name)).isin(values), 1)).alias(name) for name, values in declared.items()
    ]
    row = bronze.agg(*exprs).first()
    return {name: int(row[name]) for name in declared}


def _target_summary(validated: DataFrame, spec: ModelSpec) -> dict[str, Any]:
    """Class counts of a classifier's validated rows, or the regression target's spread."""
    from pyspark.sql import functions as F

    target = spec.columns.target
    if spec.task == "regression":
        row = validated.agg(
            F.count(F.col("_label")).alias("n"),
            F.min("_label").alias("min"),
            F.avg("_label").alias("mean"),
            F.max("_label").alias("max"),
            F.stddev("_label").alias("stddev"),
        ).first()
        return {k: (round(float(row[k]), 4) if row[k] is not None else None) for k in row.asDict()}
    rows = validated.groupBy(F.col(target).cast("string").alias("value")).count().collect()
    return {"classes": {str(r["value"]): int(r["count"]) for r in sorted(rows, key=lambda r: -r["count"])}}


def _features(validated: DataFrame, spec: ModelSpec) -> dict[str, Any]:
    """Fit the feature state on the hash split's train rows and build the features of all rows."""
    from pyspark.sql import functions as F

    from mlplatform.features.engineering import (
        apply_features,
        fit_feature_state,
        output_feature_names,
        split_column,
    )

    rows = validated.withColumn("_split", split_column(spec))
    train = rows.where(F.col("_split") == "train")
    state = fit_feature_state(train, spec)
    features = apply_features(rows, spec, state, with_split=True)
    names = output_feature_names(state)
    splits = {r["split"]: int(r["count"]) for r in features.groupBy("split").count().collect()}
    return {
        "features": names,
        "split_rows": splits,
        "impute": state.get("impute", {}),
        "vocabulary_sizes": {k: len(v) for k, v in state.get("vocabulary", {}).items()},
    }


def format_report(report: dict[str, Any]) -> str:
    """The dry run as text for the terminal."""
    lines = [
        f"spec check: model '{report['model']}' ({report['task']}) on {report['source']}",
        f"  rows read (sample): {report['rows']}",
    ]
    if report["extra_columns"]:
        lines.append(f"  columns in the file the spec does not use: {', '.join(report['extra_columns'])}")
    lines.append(
        f"  would be quarantined: {report['quarantined']} rows ({report['bad_fraction']:.2%}; "
        f"limit {report['max_bad_row_fraction']:.0%})"
    )
    for item in report["failed_expectations"]:
        where = f"({item['column']})" if item["column"] else ""
        lines.append(f"    {item['expectation']}{where}: {item['rows']} rows ({item['percent']}%)")
        if item["examples"]:
            lines.append(f"      e.g. {'; '.join(item['examples'])}")
    if report["sentinels"]:
        counted = ", ".join(f"{k} {n}" for k, n in report["sentinels"].items())
        lines.append(f"  missing codes read as null (rows): {counted}")
    target = report["target"]
    if "classes" in target:
        total = sum(target["classes"].values()) or 1
        shares = ", ".join(f"{k!r} {n} ({n / total:.1%})" for k, n in target["classes"].items())
        lines.append(f"  class balance of the validated rows: {shares}")
    else:
        lines.append(
            "  target of the validated rows: "
            + ", ".join(f"{k} {target[k]}" for k in ("n", "min", "mean", "max", "stddev"))
        )
    split = report.get("split_rows", {})
    lines.append(
        f"  features ({len(report['features'])}, fitted on {split.get('train', 0)} train rows; "
        f"{split.get('holdout', 0)} holdout): {', '.join(report['features'])}"
    )
    if report["passed"]:
        lines.append("  PASS: this batch would pass validation. Nothing was written.")
    else:
        lines.append(f"  FAIL: {report.get('why', 'validation would fail')}. Nothing was written.")
    return "\n".join(lines)
