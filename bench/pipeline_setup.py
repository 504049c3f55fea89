"""Shared benchmark set-up: demo rows through the real ingest, validation and feature steps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODEL = "churn_demo"


def build_training_features(
    rows: int, workdir: Path, seed: int
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Generate ``rows`` demo rows under ``workdir`` and run them through ingest, validate and
    build_features in training mode. Returns the platform, the features step's result and the
    fitted feature state; ``MLP_STORAGE_ROOT`` must already point below ``workdir``."""
    from mlplatform.core.context import RunContext
    from mlplatform.demo.data import generate_customers, write_csv
    from mlplatform.lifecycle.runner import open_platform, run_step

    write_csv(generate_customers(rows, seed=seed), workdir / "lake" / "landing" / MODEL / "training.csv")
    ctx = RunContext(f"bench__{rows}", f"{MODEL}_training", "bench", datetime(2026, 11, 1, tzinfo=UTC))
    batch = run_step("ingest", MODEL, ctx.for_task("ingest"), mode="training")
    batch = run_step("validate", MODEL, ctx.for_task("validate"), batch=batch)
    batch = run_step("build_features", MODEL, ctx.for_task("build_features"), batch=batch)
    state = json.loads(Path(batch["feature_state_uri"]).read_text())
    return open_platform(MODEL), batch, state
