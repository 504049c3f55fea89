"""The steps training and scoring share: ingest → validate → build_features.

Each reads the batch the step before it wrote, decides what to keep, and replaces the batch's
partition, so a rerun for the same batch replaces rather than duplicates.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from mlplatform.core.context import RunContext
from mlplatform.io import files
from mlplatform.io.layout import scoring_batch_id, training_batch_id
from mlplatform.lifecycle.handoff import Batch, FeaturedBatch, Mode, ValidatedBatch
from mlplatform.lifecycle.runner import Platform, step

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger("mlplatform.lifecycle")

# What a batch's earlier run may have left downstream of validation, withdrawn when a rerun fails.
DATE_OUTPUTS = ("features", "predictions", "drift_metrics")


@step("ingest", reads=("source_schemas",), writes=("bronze",))
def ingest(p: Platform, ctx: RunContext, *, mode: Mode) -> Batch:
    """Source file → the batch's bronze partition (all strings, nothing dropped).

    The file is checked before anything is written: it lies below a readable root, has every
    declared column, and its schema passes the spec's drift policy.
    """
    from mlplatform.data.ingest import check_columns, ingest_to_bronze, source_schema
    from mlplatform.data.source_schema import plan_schema

    p.registry.ensure_not_retired(p.model)
    batch_id = training_batch_id(ctx.run_id) if mode == "training" else scoring_batch_id(ctx.ds)
    source = p.spec.source.training if mode == "training" else p.spec.source.scoring
    uri = p.source_uri(source, ctx.ds, field=f"source.{mode}.path")
    p.read_file("source", uri)
    observed = source_schema(p.spark, source, uri)
    check_columns(p.spec, list(observed), uri, require_target=mode == "training")
    schema = plan_schema(p.spark, p.table("source_schemas"), p.spec, mode, observed, uri, ctx.run_id)
    out = ingest_to_bronze(
        p.spark, p.spec, source, uri, p.table("bronze"), batch_id, require_target=mode == "training"
    )
    p.lineage.params.update(
        {
            "schema_version": schema["schema_version"],
            "schema_changes": schema["schema_changes"],
            "extra_columns": out["extra_columns"],
            "renamed": out["renamed"],
        }
    )
    log.info("read %s rows from %s into bronze batch %s", out["rows"], uri, batch_id)
    return Batch(
        batch_id=batch_id,
        mode=mode,
        rows=int(out["rows"]),
        bronze_version=int(out["bronze_version"]),
        source_uri=uri,
        schema_version=int(schema["schema_version"]),
        schema_record=schema["record"],
    )


@step(
    "validate",
    reads=("bronze",),
    writes=("validation_results", "quarantine", "validated", "source_schemas", *DATE_OUTPUTS),
)
def validate(p: Platform, ctx: RunContext, *, batch: Batch | dict[str, Any]) -> ValidatedBatch:
    """GX validation of the bronze batch: quarantine bad rows, write typed good rows."""
    from mlplatform.data import validation as v
    from mlplatform.data.source_schema import record_schema
    from mlplatform.io.catalog import TABLES

    batch = Batch.of(batch)
    require_target = batch.mode == "training"
    bronze = p.read_batch("bronze", batch.batch_id).cache()
    prepared = v.prepare_for_validation(bronze, p.spec, require_target=require_target).cache()
    outcome = v.run_gx(
        prepared,
        p.spec,
        v.build_suite(p.spec, require_target=require_target),
        suite_name=f"{p.model}_{batch.mode}",
        gx_project_dir=p.layout.data_docs_dir(),
        run_name=f"{p.model}:{batch.batch_id}",
    )
    key = p.model_key(batch_id=batch.batch_id)
    results = v.results_rows(outcome, model=p.model, batch_id=batch.batch_id, run_id=ctx.run_id)
    p.replace("validation_results", p.spark.createDataFrame(results, TABLES["validation_results"].ddl), key)
    quarantined = v.quarantine_frame(
        p.spark,
        bronze,
        outcome,
        model=p.model,
        batch_id=batch.batch_id,
        run_id=ctx.run_id,
        id_column=p.spec.columns.id,
    )
    p.replace("quarantine", quarantined, key)
    p.lineage.params.update(v.summarise(outcome))
    if outcome.data_docs_uri:
        p.wrote_file("data_docs", outcome.data_docs_uri)
    log.info(
        "validated batch %s: %s rows, %s passed, %s quarantined (%.2f%%, limit %.2f%%); top reasons: %s",
        batch.batch_id,
        outcome.total_rows,
        outcome.total_rows - outcome.bad_rows,
        outcome.bad_rows,
        100 * outcome.bad_fraction,
        100 * p.spec.validation.max_bad_row_fraction,
        "; ".join(f"{o.label} ({o.unexpected_count} rows)" for o in outcome.worst(3)) or "none",
    )
    failures = v.table_level_failures(outcome, p.spec)
    if failures or outcome.bad_fraction > p.spec.validation.max_bad_row_fraction:
        withdrawn = _withdraw_outputs(p, ctx, batch)
        if failures:
            message = (
                f"source file {batch.source_uri} (table {p.table('bronze')}, batch {batch.batch_id}) for "
                f"model '{p.model}' failed table-level expectations: {'; '.join(failures)}"
            )
        else:
            message = v.failure_message(p.spec, p.table("bronze"), outcome)
        if withdrawn:
            message += f" The batch's earlier outputs were withdrawn from {', '.join(withdrawn)}."
        raise v.DataQualityError(message)
    version = p.replace_batch("validated", v.validated_frame(p.spark, prepared, outcome), batch.batch_id)
    record_schema(p.spark, p.table("source_schemas"), batch.schema_record)
    bronze.unpersist()
    prepared.unpersist()
    return batch.extend(
        ValidatedBatch,
        validated_rows=outcome.total_rows - outcome.bad_rows,
        quarantined_rows=outcome.bad_rows,
        validated_version=version,
        data_docs_uri=outcome.data_docs_uri,
    )


def _withdraw_outputs(p: Platform, ctx: RunContext, batch: Batch) -> list[str]:
    """Withdraw what an earlier run made from this batch, so no table serves stale rows for it.

    A rerun that fails validation has replaced the batch's quarantine and validation results;
    its validated rows, features and, for a scoring date, predictions and drift metrics are
    deleted, and the lineage row of the failed run lists them under ``withdrawn``.
    """
    from mlplatform.io.delta import sql_literal

    by_batch = f"_batch_id = {sql_literal(batch.batch_id)}"
    targets = [("validated", by_batch), ("features", by_batch)]
    if batch.mode == "scoring":
        by_date = f"{p.model_key()} AND score_date = DATE {sql_literal(ctx.ds)}"
        targets += [("predictions", by_date), ("drift_metrics", by_date)]
    withdrawn = {}
    for name, predicate in targets:
        version = p.withdraw(name, predicate)
        if version is not None:
            withdrawn[name] = version
    if withdrawn:
        p.lineage.params["withdrawn"] = {"batch_id": batch.batch_id, "tables": withdrawn}
        log.warning(
            "batch %s failed validation: withdrew its earlier rows from %s", batch.batch_id, withdrawn
        )
    return list(withdrawn)


def _aggregate_history(p: Platform, current: DataFrame, batch_id: str) -> DataFrame | None:
    """Validated rows of the model's other batches for the windowed aggregates (None without any).

    Only the columns the aggregates read, plus the id; rows repeated across batches (a source
    ingested twice) or equal to a current row count once.
    """
    from pyspark.sql import functions as F

    from mlplatform.data.row_keys import key_column

    aggs, cols = p.spec.features.aggregates, p.spec.columns
    if not aggs:
        return None
    needed = list(dict.fromkeys([key_column(p.spec), str(cols.entity), str(cols.event_time)]))
    needed += list(dict.fromkeys(a.column for a in aggs if a.column not in ("*", *needed)))
    others = p.read("validated").where(F.col("_batch_id") != batch_id)
    return others.select(*needed).subtract(current.select(*needed))


def training_rows(p: Platform, batch_id: str, window: dict[str, Any] | None) -> DataFrame:
    """A training run's rows with ``_split``: its batch by the hash split, or its window's plan
    (base and labelled scored rows, read as of the plan's Delta versions)."""
    from mlplatform.data.training_window import WindowPlan, rows_as_of
    from mlplatform.features.engineering import split_column

    if window is None:
        return p.read_batch("validated", batch_id).withColumn("_split", split_column(p.spec))
    plan = WindowPlan.model_validate(window)
    return rows_as_of(p.spark, p.spec, plan, validated_uri=p.table("validated"), labels_uri=p.table("labels"))


def _plan_training_window(p: Platform, ctx: RunContext, batch_id: str) -> dict[str, Any] | None:
    """The window's plan as of the tables' current versions (None without ``training.window``)."""
    from mlplatform.data.training_window import plan_window

    if p.spec.training.window is None:
        return None
    validated_version, labels_version = p.version("validated"), p.version("labels")
    plan = plan_window(
        p.read("validated", version=validated_version) if validated_version is not None else None,
        p.read("labels", version=labels_version) if labels_version is not None else None,
        p.spec,
        as_of=ctx.ds,
        base_batch_id=batch_id,
        validated_version=validated_version,
        labels_version=labels_version,
    )
    p.lineage.params["training_window"] = plan.model_dump()
    log.info(
        "training window %s..%s: %s; labelled rows by scoring date %s, holdout %s",
        plan.start,
        plan.as_of,
        plan.reason,
        plan.labelled_rows,
        plan.holdout_dates or "the hash split of the base rows",
    )
    return plan.model_dump()


@step("build_features", reads=("validated", "labels", "model_registry"), writes=("features",))
def build_features(p: Platform, ctx: RunContext, *, batch: ValidatedBatch | dict[str, Any]) -> FeaturedBatch:
    """Validated rows → features. Training fits the state on its train split (the base batch, plus
    the labelled recent batches of ``training.window``); scoring uses the champion's state."""
    from pyspark.sql import functions as F

    from mlplatform.features import engineering as fe

    batch = ValidatedBatch.of(batch)
    state_uri, model_version, window = None, None, None
    if batch.mode == "training":
        window = _plan_training_window(p, ctx, batch.batch_id)
        rows = training_rows(p, batch.batch_id, window)
        history = _aggregate_history(p, rows, batch.batch_id)
        sample = int(ctx.conf.get("sample_size") or 0)
        if 0 < sample < max(batch.validated_rows, 1):
            rows = rows.sample(fraction=sample / batch.validated_rows, seed=p.spec.training.seed)
            log.info("sampled about %s of %s validated rows (conf sample_size)", sample, batch.validated_rows)
        state = fe.fit_feature_state(rows.where(F.col("_split") == "train"), p.spec)
        state_uri = f"{p.staging(ctx)}/feature_state.json"
        files.write_text(state_uri, json.dumps(state, sort_keys=True, allow_nan=False))
        p.wrote_file("feature_state", state_uri)
        features = fe.apply_features(rows, p.spec, state, with_split=True, history=history)
    else:
        validated = p.read_batch("validated", batch.batch_id)
        history = _aggregate_history(p, validated, batch.batch_id)
        champion = p.registry.load_champion(p.model)
        model_version = champion.version
        log.info("scoring with champion v%s's feature state", model_version)
        features = fe.apply_features(
            validated, p.spec, champion.feature_state, with_split=False, history=history
        )
    version = p.replace_batch("features", features, batch.batch_id)
    return batch.extend(
        FeaturedBatch,
        features_version=version,
        feature_state_uri=state_uri,
        model_version=model_version,
        window=window,
    )
