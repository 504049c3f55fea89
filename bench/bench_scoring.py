"""Benchmark: batch scoring throughput, platform ``score_frame`` on Spark vs raw ``inplace_predict``.

Demo rows go through the real ingest, validation and feature steps; a booster is trained with a
fixed number of rounds. The features batch, read from Delta as ``step_score`` reads it, is then
timed five ways: read only (``noop`` write, the floor); ``score_frame`` with a ``noop`` write;
``score_frame`` written to the predictions Delta table as ``step_score`` writes it; the previous
``mapInPandas`` implementation (``noop``, old vs new); single-process ``Booster.inplace_predict``
on all cores on a float64 matrix already in memory. After one warm-up round, each of ``--repeats``
rounds times every path once (round robin, so load changes hit all alike); the best is kept.
``toPandas`` collection to the driver is timed once; platform and raw scores are matched on
``_row_id``. Results: ``bench/results/scoring.json``. The investigation that led to the current
``score_frame`` is summarised in the git history and its closing note.

    .venv/bin/python -m bench.bench_scoring --rows 1000000 --repeats 3  # or make bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.pipeline_setup import build_training_features

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

RESULTS = Path(__file__).resolve().parent / "results" / "scoring.json"
THRESHOLD = 0.5
ARROW_PYSPARK = "spark.sql.execution.arrow.pyspark.enabled"


def _features(rows: int, workdir: Path) -> tuple[Any, DataFrame, dict[str, Any], str]:
    from mlplatform.data.ingest import read_batch

    p, batch, state = build_training_features(rows, workdir, seed=11)
    # Read exactly as step_score reads its batch: straight from Delta, not cached.
    frame = read_batch(p.spark, p.model_table("features"), batch["batch_id"])
    return p, frame, state, batch["batch_id"]


def _score_frame_map_in_pandas(
    spark: SparkSession, features: DataFrame, booster_raw: bytes, feature_names: list[str], threshold: float
) -> DataFrame:
    """The previous ``score_frame``: ids and features through ``mapInPandas``; for comparison only."""
    schema = "_row_id string, entity_id string, score double, prediction int"

    payload = spark.sparkContext.broadcast(booster_raw)
    names = list(feature_names)

    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import numpy as np
        import pandas as pd
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(payload.value))
        booster.set_param({"nthread": 1})
        for batch in batches:
            if batch.empty:
                continue
            scores = booster.inplace_predict(batch[names].to_numpy(dtype=np.float64), missing=np.nan)
            yield pd.DataFrame(
                {
                    "_row_id": batch["_row_id"].astype(str),
                    "entity_id": batch["entity_id"].astype(str),
                    "score": scores.astype(np.float64),
                    "prediction": (scores >= threshold).astype(np.int32),
                }
            )

    return features.select("_row_id", "entity_id", *names).mapInPandas(predict, schema)


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    result = action()
    return time.perf_counter() - t, result


def _noop(df: DataFrame) -> None:
    df.write.format("noop").mode("overwrite").save()


def run(rows: int, rounds: int, repeats: int, workdir: Path) -> dict[str, Any]:
    os.environ["MLP_STORAGE_ROOT"] = str(workdir / "lake")
    import numpy as np
    import pandas as pd
    from pyspark.sql import functions as F

    from mlplatform.config.settings import get_settings
    from mlplatform.features.engineering import output_feature_names
    from mlplatform.io.catalog import TABLES
    from mlplatform.io.delta import replace_table_partition, sql_literal
    from mlplatform.modeling.booster import load_booster
    from mlplatform.modeling.scoring import score_frame
    from mlplatform.modeling.training import SINGLE_NODE, train_model

    get_settings.cache_clear()
    settings = get_settings()
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    p, frame, state, batch_id = _features(rows, workdir)
    spark, names = p.spark, output_feature_names(state)
    training = p.spec.training.model_copy(
        update={"early_stopping_rounds": None, "params": {**p.spec.training.params, "n_estimators": rounds}}
    )
    spec, train = p.spec.model_copy(update={"training": training}), frame.where("split = 'train'").cache()
    trained = train_model(train, spec, settings, names, path=SINGLE_NODE, nthread=cores)
    train.unpersist()
    n_rows, partitions = frame.count(), frame.rdd.getNumPartitions()
    print(f"features: {n_rows} rows, {partitions} partitions, {len(names)} features", flush=True)

    # Collect the feature matrix to the driver once, with the session's own Arrow setting.
    arrow_enabled = spark.conf.get(ARROW_PYSPARK) or "false"
    collect_s, local = _timed(lambda: frame.select("_row_id", "entity_id", *names).toPandas())
    to_numpy_s, X = _timed(lambda: np.ascontiguousarray(local[names].to_numpy(np.float64, na_value=np.nan)))
    booster = load_booster(trained.booster_raw)
    booster.set_param({"nthread": cores})

    # The Delta write exactly as step_score does it (replaceWhere on the predictions table).
    run_id, ds, uri = "bench__scoring", "2026-11-02", p.table("predictions")
    key = f"model_name = {sql_literal(p.spec.name)} AND score_date = DATE {sql_literal(ds)}"
    args = (spark, frame, trained.booster_raw, names, THRESHOLD)

    def to_delta() -> None:
        predictions = score_frame(*args).select(
            F.lit(p.spec.name).alias("model_name"),
            F.to_date(F.lit(ds)).alias("score_date"),
            F.col("entity_id"),
            "score",
            "prediction",
            F.lit(1).alias("model_version"),
            F.lit(run_id).alias("run_id"),
            F.current_timestamp().alias("scored_at"),
        )
        replace_table_partition(spark, TABLES["predictions"], uri, predictions, key)

    paths: dict[str, Callable[[], None]] = {
        "features_read_only_noop": lambda: _noop(frame.select("_row_id", "entity_id", *names)),
        "platform_score_noop": lambda: _noop(score_frame(*args)),
        "platform_score_delta_write": to_delta,
        "previous_map_in_pandas_noop": lambda: _noop(_score_frame_map_in_pandas(*args)),
        "raw_inplace_predict": lambda: booster.inplace_predict(X, missing=np.nan),
    }
    warmup = {name: round(_timed(action)[0], 2) for name, action in paths.items()}
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeats):
        for name, action in paths.items():
            times[name].append(_timed(action)[0])
        print("  round: " + ", ".join(f"{n} {ts[-1]:.2f}s" for n, ts in times.items()), flush=True)
    best = {name: min(ts) for name, ts in times.items()}
    rps = {name: n_rows / s for name, s in best.items()}
    raw_rps = rps["raw_inplace_predict"]
    delta_rows = spark.read.format("delta").load(uri).where(key).count()

    # Agreement: platform scores vs raw, matched by _row_id.
    raw_scores = booster.inplace_predict(X, missing=np.nan)
    platform_scored = score_frame(*args).select("_row_id", "score", "prediction").toPandas()
    joined = pd.DataFrame({"_row_id": local["_row_id"].astype(str), "raw": raw_scores}).merge(
        platform_scored, on="_row_id", how="outer", validate="one_to_one"
    )
    both = joined.dropna(subset=["raw", "score"])
    agreement = {
        "rows_compared": len(both),
        "rows_unmatched_by_row_id": len(joined) - len(both),
        "max_abs_diff": float(np.abs(both["raw"] - both["score"]).max()) if len(both) else None,
        "prediction_mismatches": int(((both["raw"] >= THRESHOLD).astype(int) != both["prediction"]).sum()),
    }

    return {
        "benchmark": "batch scoring: platform score_frame on Spark vs previous mapInPandas vs raw inplace_predict",
        "rows_generated": rows,
        "rows": n_rows,
        "features": len(names),
        "rounds": rounds,
        "trees": trained.num_trees,
        "cores": cores,
        "spark_partitions": partitions,
        "repeats": repeats,
        "order": "round robin, best of repeats",
        "seconds_best": {name: round(s, 3) for name, s in best.items()},
        "seconds_all": {name: [round(t, 3) for t in ts] for name, ts in times.items()},
        "seconds_warmup": warmup,
        "rows_per_second": {name: round(r) for name, r in rps.items()},
        "ratio_platform_noop_over_raw": round(rps["platform_score_noop"] / raw_rps, 4),
        "ratio_platform_delta_write_over_raw": round(rps["platform_score_delta_write"] / raw_rps, 4),
        "speedup_platform_noop_over_previous": round(
            rps["platform_score_noop"] / rps["previous_map_in_pandas_noop"], 2
        ),
        "collect_to_driver_topandas_seconds": round(collect_s, 2),
        "collect_pandas_to_numpy_seconds": round(to_numpy_s, 3),
        "arrow_pyspark_enabled": arrow_enabled,
        "agreement_platform_vs_raw": agreement,
        "delta_rows_written": delta_rows,
        "raw_nthread": cores,
        "platform_nthread_per_task": 1,
        "spark_master": settings.spark_master,
        "spark_driver_memory": settings.spark_driver_memory,
        "versions": {"spark": spark.version, "python": platform.python_version()}
        | {m: version(m) for m in ("pyspark", "xgboost", "numpy", "pandas", "pyarrow")},
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "batch_id": batch_id,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds of every path (best is kept)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlp-bench-") as tmp:
        result = run(args.rows, args.rounds, args.repeats, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
