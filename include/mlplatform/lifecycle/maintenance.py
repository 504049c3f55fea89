"""Table maintenance: OPTIMIZE (compaction) and VACUUM of every platform Delta table, never removing
a file that a registered, non-retired model version needs to be reproduced.

Tables: the platform tables of the catalog and each model's tables under ``<root>/delta/models/``
(paths that are not Delta tables are skipped). VACUUM's retention per table comes from
``mlplatform.lineage.retention``: max(``vacuum_retention_hours``, hours since the commit of the
oldest Delta version a live registered version read + ``vacuum_margin_hours``). Archived versions
stay protected; a retired model's versions do not.

Time travel also needs the version's ``_delta_log`` entries (removed at checkpoints once older than
``delta.logRetentionDuration``, 30 days by default) and the tombstones of its files in the table's
state (dropped after ``delta.deletedFileRetentionDuration``, 7 days; a file whose tombstone is gone
looks untracked to VACUUM and is deleted by age). For a pinned table both properties are raised
(never lowered) to cover the retention plus ``vacuum_lookahead_hours``, the time until the next run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlplatform.config.settings import Settings
from mlplatform.io.catalog import MODEL_TABLES, PLATFORM_TABLES
from mlplatform.io.layout import StorageLayout
from mlplatform.lineage.retention import (
    Pin,
    interval_hours,
    norm_uri,
    properties_to_raise,
    registry_pins,
    retention_hours,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("mlplatform.lifecycle.maintenance")

CHECK_KEY = "spark.databricks.delta.retentionDurationCheck.enabled"
#: Delta's defaults, in hours, of the properties that keep old versions reachable.
RETENTION_PROPERTIES = {"delta.logRetentionDuration": 720.0, "delta.deletedFileRetentionDuration": 168.0}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _children(spark: SparkSession, uri: str) -> list[str]:
    """Names of the folders directly under ``uri`` (local or s3a, through Hadoop's FileSystem)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return []
    return sorted(s.getPath().getName() for s in fs.listStatus(path) if s.isDirectory())


def delta_tables(spark: SparkSession, layout: StorageLayout) -> list[tuple[str, str]]:
    """(label, path) of every Delta table under the root: platform tables, then each model's."""
    from delta.tables import DeltaTable

    found = [(f"platform/{n}", layout.platform_table(n)) for n in PLATFORM_TABLES]
    models_dir = layout.model_table("_", MODEL_TABLES[0]).rsplit("/", 2)[0]
    for model in _children(spark, models_dir):
        found += [(f"models/{model}/{n}", layout.model_table(model, n)) for n in MODEL_TABLES]
    tables = [(label, path) for label, path in found if DeltaTable.isDeltaTable(spark, path)]
    log.info("maintenance: %d Delta tables under %s", len(tables), layout.root)
    return tables


def collect_pins(spark: SparkSession, layout: StorageLayout) -> dict[str, Pin]:
    """The registry's pins (normalised uri → oldest needed version), read from ``model_registry``."""
    from delta.tables import DeltaTable

    uri = layout.platform_table("model_registry")
    if not DeltaTable.isDeltaTable(spark, uri):
        log.info("maintenance: no registry at %s, so no version is pinned", uri)
        return {}
    rows = spark.read.format("delta").load(uri).select("model_name", "version", "event", "training_inputs")
    by_model: dict[str, list[dict[str, Any]]] = {}
    for row in rows.collect():
        by_model.setdefault(row["model_name"], []).append(row.asDict())
    pins = registry_pins(by_model)
    for pin in pins.values():
        log.info("maintenance: %s pinned at Delta v%d by %s", pin.uri, pin.version, ", ".join(pin.needed_by))
    return pins


def _commit_times(spark: SparkSession, path: str) -> dict[int, datetime]:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    rows = DeltaTable.forPath(spark, path).history().select("version", F.unix_micros("timestamp").alias("us"))
    return {int(r["version"]): _EPOCH + timedelta(microseconds=int(r["us"])) for r in rows.collect()}


def _vacuum_deleted(spark: SparkSession, path: str, after: int) -> int | None:
    """Files VACUUM deleted, from its ``VACUUM END`` commit (None when Delta logged none)."""
    from delta.tables import DeltaTable

    for row in DeltaTable.forPath(spark, path).history(5).collect():
        if int(row["version"]) > after and row["operation"] == "VACUUM END":
            value = (row["operationMetrics"] or {}).get("numDeletedFiles")
            return int(value) if value is not None else None
    return None


def optimize_tables(
    spark: SparkSession, settings: Settings, *, dry_run: bool = False
) -> list[dict[str, Any]]:
    """OPTIMIZE (bin-packing compaction) every table; one summary per table."""
    from delta.tables import DeltaTable

    from mlplatform.io.delta import delta_version

    summaries = []
    for label, path in delta_tables(spark, StorageLayout(settings.storage_root)):
        summary: dict[str, Any] = {"table": label, "path": path, "files_added": 0, "files_removed": 0}
        if not dry_run:
            metrics = DeltaTable.forPath(spark, path).optimize().executeCompaction().first()["metrics"]
            summary.update(
                files_added=int(metrics["numFilesAdded"]), files_removed=int(metrics["numFilesRemoved"])
            )
        summary["delta_version"] = delta_version(spark, path)
        log.info(
            "maintenance: OPTIMIZE %s%s: compacted %d files into %d",
            label,
            " (dry run, skipped)" if dry_run else "",
            summary["files_removed"],
            summary["files_added"],
        )
        summaries.append(summary)
    return summaries


def _raise_retention_properties(
    spark: SparkSession, path: str, hours: int, *, dry_run: bool
) -> dict[str, str]:
    from delta.tables import DeltaTable

    current = DeltaTable.forPath(spark, path).detail().first()["properties"] or {}
    unreadable = [k for k in RETENTION_PROPERTIES if current.get(k) and interval_hours(current[k]) is None]
    for key in unreadable:
        log.warning("maintenance: %s has %s=%r, which cannot be read; left as is", path, key, current[key])
    wanted = properties_to_raise(current, hours, RETENTION_PROPERTIES)
    if wanted and not dry_run:
        assignments = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(wanted.items()))
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({assignments})")
    if wanted:
        log.info("maintenance: %s: set %s%s", path, wanted, " (dry run, not set)" if dry_run else "")
    return wanted


def vacuum_table(
    spark: SparkSession,
    label: str,
    path: str,
    pin: Pin | None,
    settings: Settings,
    *,
    now: datetime,
    dry_run: bool = False,
) -> dict[str, Any]:
    """VACUUM one table with the retention its pin needs; the summary says what was kept and deleted."""
    from delta.tables import DeltaTable

    from mlplatform.io.delta import delta_version

    summary: dict[str, Any] = {
        "table": label,
        "path": path,
        "pinned_version": pin.version if pin else None,
        "pinned_by": list(pin.needed_by) if pin else [],
        "pinned_commit": None,
        "retention_hours": None,
        "properties_set": {},
        "files_deleted": None,
        "skipped": None,
    }
    commit = None
    if pin is not None:
        commit = _commit_times(spark, path).get(pin.version)
        if commit is None:
            summary["skipped"] = (
                f"pinned Delta version {pin.version} (needed by {', '.join(pin.needed_by)}) is no longer "
                "in the table's log; VACUUM skipped so that no file of it is removed"
            )
            log.warning("maintenance: VACUUM %s skipped: %s", label, summary["skipped"])
            return summary
        summary["pinned_commit"] = commit.isoformat()
    hours = retention_hours(
        commit, now, default_hours=settings.vacuum_retention_hours, margin_hours=settings.vacuum_margin_hours
    )
    summary["retention_hours"] = hours
    if pin is not None:
        summary["properties_set"] = _raise_retention_properties(
            spark, path, hours + settings.vacuum_lookahead_hours, dry_run=dry_run
        )
    if dry_run:
        listed = spark.sql(f"VACUUM delta.`{path}` RETAIN {hours} HOURS DRY RUN")
        summary["files_to_delete"] = listed.count()
        summary["files_deleted"] = 0
    else:
        before = delta_version(spark, path) or 0
        previous = spark.conf.get(CHECK_KEY, None)
        spark.conf.set(CHECK_KEY, "false")  # the retention is computed, possibly below Delta's floor
        try:
            DeltaTable.forPath(spark, path).vacuum(float(hours))
        finally:
            if previous is None:
                spark.conf.unset(CHECK_KEY)
            else:
                spark.conf.set(CHECK_KEY, previous)
        summary["files_deleted"] = _vacuum_deleted(spark, path, before)
    summary["delta_version"] = delta_version(spark, path)
    log.info(
        "maintenance: VACUUM %s%s retaining %d h (pinned v%s, commit %s): %s files deleted",
        label,
        " (dry run)" if dry_run else "",
        hours,
        summary["pinned_version"],
        summary["pinned_commit"],
        summary.get("files_to_delete", summary["files_deleted"]),
    )
    return summary


def vacuum_tables(
    spark: SparkSession, settings: Settings, *, dry_run: bool = False, now: datetime | None = None
) -> list[dict[str, Any]]:
    """VACUUM every table, keeping what every live registered version needs."""
    layout = StorageLayout(settings.storage_root)
    pins = collect_pins(spark, layout)
    tables = delta_tables(spark, layout)
    known = {norm_uri(path) for _, path in tables}
    for uri in sorted(set(pins) - known):
        log.warning("maintenance: pinned table %s is not a Delta table under the root; nothing to keep", uri)
    now = now or datetime.now(UTC)
    return [
        vacuum_table(spark, label, path, pins.get(norm_uri(path)), settings, now=now, dry_run=dry_run)
        for label, path in tables
    ]


def maintain(spark: SparkSession, settings: Settings, *, dry_run: bool = False) -> dict[str, Any]:
    """OPTIMIZE then VACUUM every table; what the CLI prints."""
    return {
        "dry_run": dry_run,
        "optimize": optimize_tables(spark, settings, dry_run=dry_run),
        "vacuum": vacuum_tables(spark, settings, dry_run=dry_run),
    }


def cmd_maintain(args: Any) -> int:
    """``mlplatform maintain [--dry-run]``: print the summary as JSON."""
    import json

    from mlplatform.config.settings import get_settings
    from mlplatform.io.spark import get_spark

    settings = get_settings()
    print(
        json.dumps(maintain(get_spark(settings), settings, dry_run=bool(args.dry_run)), indent=2, default=str)
    )
    return 0


def register(sub: Any) -> None:
    """Add ``maintain`` to the ``mlplatform`` CLI's subcommands."""
    cmd = sub.add_parser("maintain", help="OPTIMIZE and VACUUM every Delta table (keeps registered versions)")
    cmd.add_argument("--dry-run", action="store_true", help="list what VACUUM would delete; change nothing")
    cmd.set_defaults(func=cmd_maintain)
