"""Run one lifecycle step: open the platform, record its lineage, hand its result on.

A step is a function ``(p, ctx, **inputs) -> Handoff`` registered with ``@step(task_id, reads=…,
writes=…)``. It names the catalog tables it reads and writes; the runner records their Delta
versions (inputs as the step starts, outputs as it ends) in the lineage row, together with the
step's result, so steps do no bookkeeping of their own. Files a step writes outside Delta
(reports, staged artifacts) are noted with ``p.wrote_file``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlplatform.config.settings import Settings, get_settings
from mlplatform.config.spec_sections import SourceSpec
from mlplatform.config.specs import ModelSpec, load_spec, spec_path
from mlplatform.core.context import RunContext
from mlplatform.io.catalog import TABLES, table_spec
from mlplatform.io.layout import StorageLayout, safe_key
from mlplatform.io.spark_logs import SparkProgress
from mlplatform.lifecycle.handoff import Handoff
from mlplatform.lineage.recorder import LineageEntry, record_lineage

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from mlplatform.registry import ModelRegistry

log = logging.getLogger("mlplatform.lifecycle")


@dataclass
class Platform:
    """What a step works with: settings, layout, spec, Spark, the registry, and its lineage entry."""

    settings: Settings
    layout: StorageLayout
    spec: ModelSpec
    spark: SparkSession
    registry: ModelRegistry
    lineage: LineageEntry = field(default_factory=LineageEntry)

    @property
    def model(self) -> str:
        return self.spec.name

    def table(self, name: str) -> str:
        """The path of a catalog table (the model's own copy for model tables)."""
        if table_spec(name).scope == "model":
            return self.layout.model_table(self.spec.name, name)
        return self.layout.platform_table(name)

    def version(self, name: str) -> int | None:
        from mlplatform.io.delta import delta_version

        return delta_version(self.spark, self.table(name))

    def read(self, name: str, *, version: int | None = None) -> DataFrame:
        """A catalog table, as of ``version`` when given; platform tables only this model's rows."""
        from pyspark.sql import functions as F

        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", int(version))
        df = reader.load(self.table(name))
        if table_spec(name).scope == "platform" and "model_name" in df.columns:
            df = df.where(F.col("model_name") == self.spec.name)
        return df

    def read_batch(self, name: str, batch_id: str, *, version: int | None = None) -> DataFrame:
        from pyspark.sql import functions as F

        return self.read(name, version=version).where(F.col("_batch_id") == batch_id)

    def replace(self, name: str, df: DataFrame, predicate: str) -> int:
        """Replace the rows matching ``predicate`` (a date's or batch's partition); returns the version."""
        from mlplatform.io.delta import replace_partition, replace_table_partition

        entry = table_spec(name)
        if entry.scope == "model":
            return replace_partition(self.spark, df, self.table(name), predicate, entry.partition_by)
        return replace_table_partition(self.spark, entry, self.table(name), df, predicate)

    def replace_batch(self, name: str, df: DataFrame, batch_id: str) -> int:
        from pyspark.sql import functions as F

        from mlplatform.io.delta import sql_literal

        tagged = df.withColumn("_batch_id", F.lit(batch_id))
        return self.replace(name, tagged, f"_batch_id = {sql_literal(batch_id)}")

    def withdraw(self, name: str, predicate: str) -> int | None:
        """Delete the rows matching ``predicate`` (outputs a failed rerun makes stale); the new version.

        ``None`` when the table does not exist or holds no such rows (nothing to withdraw).
        """
        from delta.tables import DeltaTable

        path = self.table(name)
        if not DeltaTable.isDeltaTable(self.spark, path):
            return None
        if self.spark.read.format("delta").load(path).where(predicate).isEmpty():
            return None
        DeltaTable.forPath(self.spark, path).delete(predicate)
        return self.version(name)

    def append(self, name: str, rows: list[dict[str, Any]]) -> int:
        from mlplatform.io.delta import append_rows

        return append_rows(self.spark, self.table(name), TABLES[name], rows)

    def model_key(self, **equal: str) -> str:
        """A replaceWhere predicate: this model's rows where each column equals its value."""
        from mlplatform.io.delta import sql_literal

        parts = [f"model_name = {sql_literal(self.spec.name)}"]
        parts += [f"{col} = {sql_literal(val)}" for col, val in equal.items()]
        return " AND ".join(parts)

    def audit(self, rows: list[dict[str, Any]]) -> None:
        """Append audit rows (``mlplatform.governance.audit``): who did what to this model, and why."""
        if rows:
            self.append("audit", rows)
            for row in rows:
                log.info(
                    "audit: %s by %s (%s) v%s", row["action"], row["actor"], row["source"], row["version"]
                )

    def staging(self, ctx: RunContext) -> str:
        """The run's staging folder (artifacts of a training run before it is a version)."""
        return self.layout.staging_dir(self.spec.name, safe_key(ctx.run_id))

    def source_uri(self, source: SourceSpec, ds: str, *, field: str) -> str:
        """The source's path for ``ds``, refused unless it lies below a readable root.

        ``field`` names the spec field the path came from (``source.scoring.path``), for the error.
        """
        from mlplatform.io.roots import check_readable

        uri = source.resolve(
            storage_root=self.settings.storage_root,
            datasets_dir=str(self.settings.datasets_dir),
            model=self.spec.name,
            ds=ds,
        )
        what = f"model spec '{self.spec.name}' field {field} ({source.path!r})"
        return check_readable(uri, self.settings.readable_roots, what=what)

    def read_file(self, name: str, uri: str) -> None:
        """Note a file the step read (lineage), for inputs that are not Delta tables."""
        self.lineage.read(name, uri)

    def wrote_file(self, name: str, uri: str) -> None:
        """Note a file the step wrote (lineage): a report, a staged artifact, Data Docs."""
        self.lineage.wrote(name, uri)
        log.info("wrote %s: %s", name, uri)


def open_platform(model: str, settings: Settings | None = None) -> Platform:
    """The platform for one model: its spec, the storage layout, the process's Spark session."""
    from mlplatform.io.spark import get_spark
    from mlplatform.registry import ModelRegistry

    settings = settings or get_settings()
    spec = load_spec(spec_path(settings.spec_dir, model))
    layout = StorageLayout(settings.storage_root)
    spark = get_spark(settings)
    return Platform(
        settings, layout, spec, spark, ModelRegistry(spark, layout.platform_table("model_registry"))
    )


@dataclass(frozen=True)
class Step:
    """A registered step: its function and the catalog tables it reads and writes."""

    func: Callable[..., Handoff]
    reads: tuple[str, ...]
    writes: tuple[str, ...]


STEPS: dict[str, Step] = {}


def step(task_id: str, *, reads: Sequence[str] = (), writes: Sequence[str] = ()) -> Callable[..., Any]:
    """Register ``func`` as the step run by the task ``task_id``."""

    def register(func: Callable[..., Handoff]) -> Callable[..., Handoff]:
        for name in (*reads, *writes):
            table_spec(name)
        STEPS[task_id] = Step(func, tuple(reads), tuple(writes))
        return func

    return register


def _load_steps() -> None:
    from mlplatform.lifecycle import (  # noqa: F401  (registers)
        evaluation,
        performance,
        promotion,
        retirement,
        scoring,
        shared,
        training,
    )


def run_step(
    task_id: str,
    model: str,
    ctx: RunContext,
    *,
    settings: Settings | None = None,
    audit_trigger: bool = False,
    **inputs: Any,
) -> dict[str, Any]:
    """Run one step for a model inside its lineage record; returns the step's result as JSON-able data.

    ``audit_trigger`` marks the run's first task: its first attempt records who or what started the run.
    """
    from mlplatform.core.logs import quiet_libraries

    quiet_libraries()
    _load_steps()
    registered = STEPS[task_id]
    p = open_platform(model, settings)
    log.info("%s for model %s (run %s, logical date %s)", task_id, model, ctx.run_id, ctx.ds)
    if audit_trigger and ctx.try_number == 1:
        from mlplatform.governance.audit import trigger_row

        p.audit([trigger_row(ctx, model)])
    with record_lineage(
        p.spark,
        p.table("lineage"),
        ctx,
        model_name=model,
        settings=p.settings,
        spec=p.spec,
        inputs=inputs,
        step=task_id,
    ) as entry:
        p.lineage = entry
        entry.model_version = _model_version(inputs)
        for name in registered.reads:
            version = p.version(name)
            entry.read(name, p.table(name), version)
            log.info("input %s: %s (Delta version %s)", name, p.table(name), version)
        before = {name: p.version(name) for name in registered.writes}
        try:
            with SparkProgress(p.spark, task_id):
                result = registered.func(p, ctx, **inputs)
        finally:
            _record_writes(p, entry, registered.writes, before)
        data = result.model_dump(mode="json")
        entry.model_version = _model_version({"result": data}) or entry.model_version
        entry.params.update({"result": data})
    log.info("%s done. Summary (the task's XCom):\n%s", task_id, summary_block(data))
    return data


def _record_writes(
    p: Platform, entry: LineageEntry, names: Sequence[str], before: dict[str, int | None]
) -> None:
    """The step's declared tables it committed to (a new Delta version); the others it left alone."""
    for name in names:
        version = p.version(name)
        if version is not None and version != before[name]:
            entry.wrote(name, p.table(name), version)
            log.info("wrote %s version %s", name, version)


def _model_version(values: dict[str, Any]) -> int | None:
    for value in values.values():
        data = value.model_dump() if isinstance(value, Handoff) else value
        if isinstance(data, dict):
            for key in ("model_version", "version"):
                if isinstance(data.get(key), int):
                    return int(data[key])
    return None


def summary_block(data: dict[str, Any], width: int = 160) -> str:
    """A step's result as the closing block of its task log: one ``key: value`` line per field.

    Scalars as they are, short lists joined, anything larger as compact JSON cut at ``width``.
    """
    import json

    lines = []
    for key, value in data.items():
        if isinstance(value, str | int | float | bool) or value is None:
            shown = str(value)
        elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            shown = ", ".join(map(str, value)) or "(none)"
        else:
            shown = json.dumps(value, default=str, separators=(",", ":"))
        lines.append(f"  {key}: {shown if len(shown) <= width else shown[: width - 3] + '...'}")
    return "\n".join(lines)
