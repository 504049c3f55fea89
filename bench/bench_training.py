"""Benchmark: training wall time, single-node vs distributed vs plain ``xgboost.train``; SHAP time.

For each size (default 100k and 1M rows) the demo generator's rows go through the real ingest,
validation and feature steps; then the same training split is trained three ways with the same
parameters and a fixed number of rounds (early stopping off, so all do equal work):

- the platform's single-node path (``train_model(path="single_node")``: Spark → driver → xgboost),
- the platform's distributed path (``xgboost.spark`` with ``MLP_XGB_NUM_WORKERS`` workers),
- plain ``xgboost.train`` on the numpy arrays already in memory, with the same cores.

Also times XGBoost TreeSHAP (``pred_contribs``) on 100k rows. Results go to
``bench/results/training.json``. Not a test: it asserts nothing.

    .venv/bin/python -m bench.bench_training --rows 100000 1000000
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

from bench.pipeline_setup import build_training_features

RESULTS = Path(__file__).resolve().parent / "results" / "training.json"


def _features(rows: int, workdir: Path):  # type: ignore[no-untyped-def]
    p, batch, state = build_training_features(rows, workdir, seed=9)
    frame = p.spark.read.format("delta").load(p.model_table("features"))
    return p, frame.where(f"_batch_id = '{batch['batch_id']}' AND split = 'train'").cache(), state


def run(sizes: list[int], rounds: int, workdir: Path) -> dict:
    os.environ["MLP_STORAGE_ROOT"] = str(workdir / "lake")
    import numpy as np
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    from mlplatform.config.settings import get_settings
    from mlplatform.features.engineering import output_feature_names
    from mlplatform.modeling.booster import load_booster
    from mlplatform.modeling.training import DISTRIBUTED, SINGLE_NODE, native_params, train_model

    get_settings.cache_clear()
    settings = get_settings()
    cores = os.cpu_count() or 1
    results = []
    for rows in sizes:
        p, train, state = _features(rows, workdir)
        names = output_feature_names(state)
        spec = p.spec.model_copy(
            update={
                "training": p.spec.training.model_copy(
                    update={
                        "early_stopping_rounds": None,
                        "params": {**p.spec.training.params, "n_estimators": rounds},
                    }
                )
            }
        )
        n_train = train.count()
        entry: dict = {
            "rows_generated": rows,
            "train_rows": n_train,
            "rounds": rounds,
            "features": len(names),
        }
        for path in (SINGLE_NODE, DISTRIBUTED):
            t = time.perf_counter()
            result = train_model(train, spec, settings, names, path=path, nthread=cores)
            entry[f"{path}_seconds"] = round(time.perf_counter() - t, 2)
            entry[f"{path}_trees"] = result.num_trees
        local = train.select("label", *names).toPandas()
        X, y = local[names].to_numpy(dtype=np.float64), local["label"].to_numpy()
        params = native_params(spec, rows=n_train, positives=int(y.sum()))
        params = {k: v for k, v in params.items() if k not in ("num_boost_round", "early_stopping_rounds")}
        params["nthread"] = cores
        t = time.perf_counter()
        plain = xgb.train(params, xgb.DMatrix(X, label=y, missing=np.nan), num_boost_round=rounds)
        entry["plain_xgboost_train_seconds"] = round(time.perf_counter() - t, 2)
        entry["distributed_over_single_node"] = round(
            entry["distributed_seconds"] / entry["single_node_seconds"], 2
        )
        entry["single_node_over_plain"] = round(
            entry["single_node_seconds"] / entry["plain_xgboost_train_seconds"], 2
        )
        entry["train_auc_plain"] = round(float(roc_auc_score(y, plain.inplace_predict(X))), 4)
        single = load_booster(
            train_model(train, spec, settings, names, path=SINGLE_NODE, nthread=cores).booster_raw
        )
        entry["train_auc_single_node"] = round(float(roc_auc_score(y, single.inplace_predict(X))), 4)
        sample = X[: min(100_000, len(X))]
        t = time.perf_counter()
        plain.predict(xgb.DMatrix(sample, missing=np.nan), pred_contribs=True)
        entry["shap_rows"] = len(sample)
        entry["shap_seconds"] = round(time.perf_counter() - t, 2)
        train.unpersist()
        results.append(entry)
        print(json.dumps(entry), flush=True)
    return {
        "benchmark": "training wall time: single-node vs distributed (xgboost.spark) vs plain xgboost.train; TreeSHAP",
        "results": results,
        "num_workers": settings.xgb_num_workers,
        "spark_master": settings.spark_master,
        "cpu_count": cores,
        "machine": platform.platform(),
        "xgboost_version": xgb.__version__,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlp-bench-") as tmp:
        result = run(args.rows, args.rounds, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
