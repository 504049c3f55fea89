"""Benchmark: the platform's drift check against Evidently's DataDriftPreset, same data, same verdicts.

Generates a reference and a current frame of ``--rows`` rows (default 1,000,000) × 30 columns
(20 numeric of several shapes, 10 categorical with 5-18 categories, a few nulls); six columns are
shifted clearly, two slightly (below the default thresholds). Then:

- **platform**: the reference profile is built once (a training-time cost, timed separately), and
  the per-run check ``compute_drift`` reads the current batch from Parquet with Spark;
- **Evidently 0.7** ``DataDriftPreset`` (explicit column types, per-column verdicts from its tests)
  on the same pandas frames, which it keeps in memory.

Both use Evidently's default tests for > 1000 rows: Wasserstein distance normed by the reference
std (numeric) and Jensen-Shannon distance (categorical), drift at >= 0.1. Writes per-column scores
and verdicts of both, the timings and the speed-up to ``bench/results/drift.json``. Asserts nothing.

    .venv/bin/python -m bench.bench_drift --rows 1000000   (needs requirements-bench.txt: make bench)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "drift.json"
NUMERIC = [f"n{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(10)]
SHIFTED = {"n0": 0.3, "n1": 0.25, "n2": 0.2, "n3": 0.15, "c0": 1.0, "c1": 0.7}
SLIGHT = {"n4": 0.03, "c2": 0.1}


def _numeric(rng: np.random.Generator, i: int, rows: int, shift: float) -> np.ndarray:
    shape = i % 4
    if shape == 0:
        x = rng.normal(10.0, 2.0, rows) + 2.0 * shift
    elif shape == 1:
        x = rng.lognormal(1.0, 0.5, rows) * (1.0 + shift)
    elif shape == 2:
        x = rng.exponential(3.0, rows) + 3.0 * shift
    else:
        x = rng.integers(0, 40, rows).astype(np.float64) + 12.0 * shift
    if i % 5 == 0:
        x[rng.random(rows) < 0.01] = np.nan
    return x


def _categorical(rng: np.random.Generator, i: int, rows: int, shift: float) -> np.ndarray:
    k = 5 + (i * 3) % 14
    cats = np.array([f"{chr(97 + i)}{j}" for j in range(k)], dtype=object)
    base = np.linspace(2.0, 1.0, k)
    tilted = base * np.exp(shift * np.linspace(-1.0, 1.0, k))
    values = rng.choice(cats, rows, p=tilted / tilted.sum())
    if i % 4 == 0:
        values[rng.random(rows) < 0.01] = None
    return values


def make_frames(rows: int, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames; the current one shifts SHIFTED clearly and SLIGHT a little."""
    rng = np.random.default_rng(seed)

    def frame(current: bool) -> pd.DataFrame:
        shift = {**SHIFTED, **SLIGHT} if current else {}
        data: dict[str, np.ndarray] = {}
        for i, name in enumerate(NUMERIC):
            data[name] = _numeric(rng, i, rows, shift.get(name, 0.0))
        for i, name in enumerate(CATEGORICAL):
            data[name] = _categorical(rng, i, rows, shift.get(name, 0.0))
        return pd.DataFrame(data)

    return frame(False), frame(True)


def run_platform(reference_path: Path, current_path: Path) -> dict:
    from mlplatform.config.settings import get_settings
    from mlplatform.config.specs import DriftSpec
    from mlplatform.io.spark import get_spark
    from mlplatform.monitoring.drift.profile import build_reference_profile
    from mlplatform.monitoring.drift.verdict import compute_drift

    spark = get_spark(get_settings())
    reference = spark.read.parquet(str(reference_path))
    current = spark.read.parquet(str(current_path))
    t = time.perf_counter()
    profile = build_reference_profile(reference, NUMERIC, CATEGORICAL)
    profile_s = time.perf_counter() - t
    spec = DriftSpec()
    compute_drift(profile, current.limit(10_000), spec)  # warm-up: JIT, codegen
    t = time.perf_counter()
    drifts = compute_drift(profile, current, spec)
    check_s = time.perf_counter() - t
    return {
        "profile_seconds": round(profile_s, 2),
        "check_seconds": round(check_s, 2),
        "columns": {d.feature: {"test": d.metric, "score": d.value, "drifted": d.drifted} for d in drifts},
        "spark_master": get_settings().spark_master,
        "spark_version": spark.version,
    }


def run_evidently(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    t = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    seconds = time.perf_counter() - t
    verdict = {
        t["metric_config"]["metric_id"]: t["status"] == "FAIL" for t in result["tests"] if t["id"] == "drift"
    }
    columns = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"] == "evidently:metric_v2:ValueDrift":
            columns[config["column"]] = {
                "test": config["method"],
                "score": float(metric["value"]),
                "drifted": verdict[metric["id"]],
            }
    return {"seconds": round(seconds, 2), "columns": columns, "version": evidently.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlp-bench-drift-") as tmp:
        reference, current = make_frames(args.rows)
        ref_path, cur_path = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
        reference.to_parquet(ref_path, index=False)
        current.to_parquet(cur_path, index=False)
        ours = run_platform(ref_path, cur_path)
        theirs = run_evidently(reference, current)
    agree = [c for c in ours["columns"] if ours["columns"][c]["drifted"] == theirs["columns"][c]["drifted"]]
    score_gap = max(abs(ours["columns"][c]["score"] - theirs["columns"][c]["score"]) for c in ours["columns"])
    result = {
        "benchmark": "drift check: platform (Spark) vs Evidently DataDriftPreset",
        "rows": args.rows,
        "columns": len(NUMERIC) + len(CATEGORICAL),
        "shifted_columns": sorted(SHIFTED),
        "slightly_shifted_columns": sorted(SLIGHT),
        "platform_check_seconds": ours["check_seconds"],
        "platform_profile_seconds_once_per_version": ours["profile_seconds"],
        "evidently_seconds": theirs["seconds"],
        "speedup_check_vs_evidently": round(theirs["seconds"] / ours["check_seconds"], 1),
        "speedup_profile_plus_check_vs_evidently": round(
            theirs["seconds"] / (ours["check_seconds"] + ours["profile_seconds"]), 1
        ),
        "verdicts_agree": len(agree),
        "verdicts_disagree": sorted(set(ours["columns"]) - set(agree)),
        "platform_drifted": sorted(c for c, v in ours["columns"].items() if v["drifted"]),
        "evidently_drifted": sorted(c for c, v in theirs["columns"].items() if v["drifted"]),
        "max_abs_score_difference": round(score_gap, 5),
        "per_column": {
            c: {
                "platform": {
                    k: round(v, 5) if isinstance(v, float) else v for k, v in ours["columns"][c].items()
                },
                "evidently": {
                    k: round(v, 5) if isinstance(v, float) else v for k, v in theirs["columns"][c].items()
                },
            }
            for c in ours["columns"]
        },
        "evidently_version": theirs["version"],
        "spark_master": ours["spark_master"],
        "spark_version": ours["spark_version"],
        "cpu_count": os.cpu_count(),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": platform.platform(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_column"}, indent=2))


if __name__ == "__main__":
    main()
