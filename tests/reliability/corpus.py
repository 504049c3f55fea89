"""Shared pieces of the bad-input corpus: a private platform, batch writers, the steps, and row accounting.

Every case builds a fresh storage root with its own copy of the demo spec (``Env``), writes one
defective batch (``write_csv`` / ``write_bytes``), runs ingest and validate through
``mlplatform.lifecycle.runner.run_step`` and then accounts for every source row with ``account``:
rows in = validated + quarantined (+ held in bronze when the run was refused), no row lost, no row
duplicated, no id both validated and quarantined.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tests.support import PROJECT_ROOT

MODEL = "churn_demo"
DS = "2026-11-10"
PREVIOUS_DS = "2026-11-09"
TRAINING_RUN = "manual__corpus_training"
ID = "customer_id"


@dataclass(frozen=True)
class Env:
    """One private platform: a fresh storage root and spec copy, and the steps' settings."""

    root: Path
    spec_file: Path
    settings: Any

    @property
    def landing(self) -> Path:
        return self.root / "landing" / MODEL

    def batch_file(self, ds: str = DS) -> Path:
        return self.landing / "batches" / f"{ds}.csv"

    @property
    def training_file(self) -> Path:
        return self.landing / "training.csv"

    def labels_file(self, ds: str = DS) -> Path:
        return self.landing / "labels" / f"{ds}.csv"

    def edit_spec(self, section: str, **values: Any) -> None:
        """Change fields of one section of the private spec copy (``validation``, ``training``...)."""
        raw = yaml.safe_load(self.spec_file.read_text())
        raw[section] = {**raw.get(section, {}), **values}
        self.spec_file.write_text(yaml.safe_dump(raw, sort_keys=False))

    def spec(self):  # type: ignore[no-untyped-def]
        from mlplatform.config.specs import load_spec

        return load_spec(self.spec_file)

    def table(self, name: str) -> str:
        from mlplatform.io.catalog import table_spec
        from mlplatform.io.layout import StorageLayout

        layout = StorageLayout(str(self.root))
        if table_spec(name).scope == "model":
            return layout.model_table(MODEL, name)
        return layout.platform_table(name)


def make_env(base: Path, **validation: Any) -> Env:
    """A fresh storage root under ``base`` and a private copy of the demo spec (``validation`` edits applied)."""
    from mlplatform.config.settings import Settings

    spec_dir = base / "specs"
    spec_dir.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())
    if validation:
        raw["validation"] = {**raw["validation"], **validation}
    spec_file = spec_dir / f"{MODEL}.yaml"
    spec_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    root = base / "lake"
    root.mkdir(parents=True, exist_ok=True)
    return Env(root=root, spec_file=spec_file, settings=Settings(storage_root=str(root), spec_dir=spec_dir))


# --- batches -------------------------------------------------------------------------------------


def good_rows(
    n: int = 30, *, seed: int = 3, id_offset: int = 500, include_target: bool = True
) -> list[dict[str, str]]:
    """``n`` defect-free demo customers as CSV strings."""
    from mlplatform.demo.data import generate_customers

    frame = generate_customers(
        n, seed=seed, bad_row_fraction=0.0, id_offset=id_offset, include_target=include_target
    )
    return frame.astype(str).to_dict("records")


def write_csv(path: Path, rows: Sequence[dict[str, str]], header: Sequence[str] | None = None) -> Path:
    """Rows as a CSV file with a header (``header`` picks and orders the columns; others are left out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(header or rows[0])
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def csv_lines(rows: Sequence[dict[str, str]]) -> list[str]:
    """Header and data lines of ``rows`` as ``write_csv`` writes them (no line ends)."""
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().splitlines()


# --- the steps -----------------------------------------------------------------------------------


def ctx(task: str, ds: str = DS, *, mode: str = "scoring", run_id: str | None = None):  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext

    run_id = run_id or (TRAINING_RUN if mode == "training" else f"scheduled__{ds}")
    return RunContext(run_id, f"{MODEL}_{mode}", task, datetime.fromisoformat(ds).replace(tzinfo=UTC), "test")


def ingest(env: Env, ds: str = DS, *, mode: str = "scoring", run_id: str | None = None) -> dict[str, Any]:
    from mlplatform.lifecycle.runner import run_step

    return run_step(
        "ingest", MODEL, ctx("ingest", ds, mode=mode, run_id=run_id), settings=env.settings, mode=mode
    )


def ingest_and_validate(
    env: Env, ds: str = DS, *, mode: str = "scoring", run_id: str | None = None
) -> dict[str, Any]:
    from mlplatform.lifecycle.runner import run_step

    batch = ingest(env, ds, mode=mode, run_id=run_id)
    return run_step(
        "validate", MODEL, ctx("validate", ds, mode=mode, run_id=run_id), settings=env.settings, batch=batch
    )


def batch_id(ds: str = DS, *, mode: str = "scoring", run_id: str | None = None) -> str:
    from mlplatform.io.layout import scoring_batch_id, training_batch_id

    if mode == "training":
        return training_batch_id(run_id or TRAINING_RUN)
    return scoring_batch_id(ds)


# --- reading a batch back ------------------------------------------------------------------------


def _table_rows(spark, uri: str, column: str, value: str) -> list[Any]:  # type: ignore[no-untyped-def]
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if not DeltaTable.isDeltaTable(spark, uri):
        return []
    return spark.read.format("delta").load(uri).where(F.col(column) == value).collect()


def bronze(spark, env: Env, batch: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return _table_rows(spark, env.table("bronze"), "_batch_id", batch)


def validated(spark, env: Env, batch: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return _table_rows(spark, env.table("validated"), "_batch_id", batch)


def quarantined(spark, env: Env, batch: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return _table_rows(spark, env.table("quarantine"), "batch_id", batch)


# --- row accounting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accounting:
    """Where the source rows of one batch went, by entity id (a multiset: a repeated id counts twice).

    ``held`` are rows a refused run kept in bronze only (neither validated nor quarantined), for a rerun.
    ``duplicated`` counts every row beyond the source (an id more often out than in), every repeat of
    a validated id, and every id both validated and quarantined.
    """

    rows_in: int
    validated: int
    quarantined: int
    held: int
    lost: int
    duplicated: int
    lost_ids: tuple[str | None, ...] = ()
    extra_ids: tuple[str | None, ...] = ()

    @property
    def balanced(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.rows_in == self.validated + self.quarantined + self.held
        )

    def row(self) -> dict[str, int]:
        return {
            "in": self.rows_in,
            "validated": self.validated,
            "quarantined": self.quarantined,
            "held": self.held,
            "lost": self.lost,
            "duplicated": self.duplicated,
        }


def account(
    source_ids: Iterable[str | None],
    validated_ids: Iterable[str | None],
    quarantined_ids: Iterable[str | None],
    held_ids: Iterable[str | None] = (),
) -> Accounting:
    src, val, qua, held = (Counter(ids) for ids in (source_ids, validated_ids, quarantined_ids, held_ids))
    out = val + qua + held
    lost, extra = src - out, out - src
    repeats = sum(n - 1 for n in val.values() if n > 1)
    both = set(val) & set(qua)
    return Accounting(
        rows_in=sum(src.values()),
        validated=sum(val.values()),
        quarantined=sum(qua.values()),
        held=sum(held.values()),
        lost=sum(lost.values()),
        duplicated=sum(extra.values()) + repeats + len(both),
        lost_ids=tuple(sorted(lost.elements(), key=str)),
        extra_ids=tuple(sorted([*extra.elements(), *both], key=str)),
    )


def account_batch(
    spark,  # type: ignore[no-untyped-def]
    env: Env,
    batch: str,
    source_ids: Iterable[str | None],
    *,
    refused: bool = False,
) -> Accounting:
    """Account for a batch from its tables. A refused run writes no validated rows: what bronze holds
    beyond the quarantined rows is ``held`` (and bronze itself must hold every source row)."""
    val = [r[ID] for r in validated(spark, env, batch)]
    qua = [r["entity_id"] for r in quarantined(spark, env, batch)]
    held: list[str | None] = []
    if refused:
        assert val == [], "a refused run wrote validated rows"
        held = list((Counter(r[ID] for r in bronze(spark, env, batch)) - Counter(qua)).elements())
    return account(source_ids, val, qua, held)


def ids(rows: Iterable[dict[str, str]]) -> list[str]:
    return [r[ID] for r in rows]


def row_json(row: Any) -> dict[str, Any]:
    return json.loads(row["row_json"])


def report(case: str, accounting: Accounting | None, message: str) -> None:
    """Print one line per case (``pytest -s`` shows them): the corpus table is built from what ran."""
    counts = accounting.row() if accounting else {}
    print(f"\nCORPUS | {case} | {counts} | {message[:160]}")
