"""Benchmark: ingest + GX validation + Spark features on N generated rows (default 1,000,000).

Runs the platform's real training-mode steps (bronze, Great Expectations with row quarantine,
fitted features, Delta writes) on the demo generator's data and writes rows per second for each
step and overall to ``bench/results/validation_features.json``. Not a test: it asserts nothing.

    .venv/bin/python -m bench.bench_validation_features --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "validation_features.json"
MODEL = "churn_demo"


def run(rows: int, workdir: Path) -> dict:
    os.environ["MLP_STORAGE_ROOT"] = str(workdir / "lake")
    from mlplatform.config.settings import get_settings
    from mlplatform.core.context import RunContext
    from mlplatform.demo.data import generate_customers, write_csv
    from mlplatform.io.spark import get_spark
    from mlplatform.lifecycle.runner import run_step

    get_settings.cache_clear()
    settings = get_settings()
    t0 = time.perf_counter()
    frame = generate_customers(rows, seed=5)
    csv_path = workdir / "lake" / "landing" / MODEL / "training.csv"
    write_csv(frame, csv_path)
    generate_s = time.perf_counter() - t0
    spark = get_spark(settings)
    ctx = RunContext("bench__run", f"{MODEL}_training", "bench", datetime(2026, 11, 1, tzinfo=UTC))
    timings: dict[str, float] = {}
    t = time.perf_counter()
    batch = run_step("ingest", MODEL, ctx.for_task("ingest"), mode="training")
    timings["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    validated = run_step("validate", MODEL, ctx.for_task("validate"), batch=batch)
    timings["validate"] = time.perf_counter() - t
    t = time.perf_counter()
    run_step("build_features", MODEL, ctx.for_task("build_features"), batch=validated)
    timings["build_features"] = time.perf_counter() - t
    total = sum(timings.values())
    return {
        "benchmark": "ingest + GX validation + features (training mode)",
        "rows": rows,
        "quarantined_rows": validated["quarantined_rows"],
        "seconds": {k: round(v, 2) for k, v in timings.items()} | {"total": round(total, 2)},
        "rows_per_second": {k: round(rows / v) for k, v in timings.items()} | {"total": round(rows / total)},
        "validation_plus_features_rows_per_second": round(
            rows / (timings["validate"] + timings["build_features"])
        ),
        "data_generation_seconds": round(generate_s, 2),
        "spark_master": settings.spark_master,
        "shuffle_partitions": settings.spark_shuffle_partitions,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "spark_version": spark.version,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlp-bench-") as tmp:
        result = run(args.rows, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
