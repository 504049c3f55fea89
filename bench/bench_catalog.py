"""Benchmark: the model catalog's model list with hundreds of registered models.

Generates a lake of ``--models`` models (default 300) with delta-rs: a registry of 1-6 versions
each with promotions, 30 days of labelled performance, input drift (12 features a day) and
monitoring decisions per model, and one spec file per model. Then renders the Models page
(first page, 50 rows, sorted by name; and a search and a sort on the last scoring date) through
the catalog's FastAPI app in process, cold (the first request) and warm (median of ``--repeat``).
Writes the timings to ``bench/results/catalog.json``. Asserts nothing.

    .venv/bin/python -m bench.bench_catalog --models 300
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa

RESULTS = Path(__file__).resolve().parent / "results" / "catalog.json"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAYS, FEATURES = 30, 12
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _write(path: str, rows: list[dict[str, Any]]) -> None:
    from deltalake import write_deltalake

    Path(path).mkdir(parents=True, exist_ok=True)
    write_deltalake(path, pa.Table.from_pylist(rows), mode="append")


def generate_lake(root: str, spec_dir: Path, models: int, seed: int = 7) -> dict[str, int]:
    """A registry, monitoring tables and specs for ``models`` models; returns the row counts."""
    from mlplatform.io.layout import StorageLayout

    rng = np.random.default_rng(seed)
    layout = StorageLayout(root)
    spec = (PROJECT_ROOT / "include" / "specs" / "churn_demo.yaml").read_text()
    registry, perf, drift, decisions = [], [], [], []
    for m in range(models):
        name = f"model_{m:04d}"
        (spec_dir / f"{name}.yaml").write_text(spec.replace("name: churn_demo", f"name: {name}", 1))
        for v in range(1, int(rng.integers(1, 7)) + 1):
            when = T0 + timedelta(days=3 * v, minutes=m)
            base = {"model_name": name, "version": v, "run_id": f"manual__{name}_{v}", "actor": "bench"}
            registry.append(
                {
                    **base,
                    "event": "registered",
                    "reason": "bench",
                    "metrics": json.dumps({"auc": 0.7 + rng.random() / 5}),
                    "event_time": when,
                }
            )
            if rng.random() < 0.7:
                registry.append(
                    {
                        **base,
                        "event": "promoted",
                        "alias": "champion",
                        "event_time": when + timedelta(hours=1),
                    }
                )
        for d in range(DAYS):
            day = date(2026, 7, 1) + timedelta(days=d)
            run = f"scheduled__{name}_{day}"
            perf.append(
                {"model_name": name, "score_date": day, "auc": 0.6 + rng.random() / 4, "reference_auc": 0.8}
            )
            drift.extend(
                {
                    "model_name": name,
                    "score_date": day,
                    "run_id": run,
                    "scope": "input",
                    "feature": f"f{f}",
                    "drifted": bool(rng.random() < 0.1),
                }
                for f in range(FEATURES)
            )
            decisions.append(
                {
                    "model_name": name,
                    "score_date": day,
                    "run_id": run,
                    "degraded": bool(rng.random() < 0.2),
                    "retrain": False,
                    "consecutive_degraded": 0,
                    "decided_at": T0 + timedelta(days=30 + d, minutes=m),
                }
            )
    for table, rows in (
        ("model_registry", registry),
        ("performance_metrics", perf),
        ("drift_metrics", drift),
        ("monitoring_decisions", decisions),
    ):
        _write(layout.platform_table(table), rows)
    return {
        "registry": len(registry),
        "performance": len(perf),
        "drift": len(drift),
        "decisions": len(decisions),
    }


def _timed(client: Any, path: str, params: dict[str, Any]) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{path} {params}: {response.status_code} {response.text[:300]}")
    return elapsed, response.text.count("<tr data-model=")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from mlplatform.config.settings import Settings
    from mlplatform.webui.app import create_app

    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        root, spec_dir = f"{tmp}/lake", Path(tmp) / "specs"
        spec_dir.mkdir()
        started = time.perf_counter()
        rows = generate_lake(root, spec_dir, args.models)
        generate_s = time.perf_counter() - started
        app = create_app(
            Settings(storage_root=root, spec_dir=spec_dir),
            user_dependency=lambda: SimpleNamespace(get_name=lambda: "bench"),
        )
        client = TestClient(app)
        cases = {
            "first_page_by_name": {},
            "search_model_01": {"q": "model_01"},
            "sorted_by_last_scored_desc": {"sort": "-last_scored"},
        }
        timings: dict[str, Any] = {}
        for case, params in cases.items():
            cold, shown = _timed(client, "/models", params)
            warm = [_timed(client, "/models", params)[0] for _ in range(args.repeat)]
            timings[case] = {
                "rows_shown": shown,
                "cold_s": round(cold, 3),
                "warm_median_s": round(statistics.median(warm), 3),
                "warm_max_s": round(max(warm), 3),
            }
    result = {
        "benchmark": "catalog model list",
        "models": args.models,
        "generated_rows": rows,
        "generate_s": round(generate_s, 1),
        "page": timings,
        "target": "first page under 2 s",
        "how": "the catalog's FastAPI app in process (TestClient), delta-rs reads of the lake on local disk",
        "cpu_count": os.cpu_count(),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": platform.platform(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
