"""The maintenance DAG's tasks: OPTIMIZE and VACUUM of every Delta table, with a lineage row each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from airflow_glue.context import model_specs, run_conf, run_context
from airflow_glue.notifiers import send_alert

log = logging.getLogger(__name__)


def run_maintenance(step: str, context: dict[str, Any]) -> dict[str, Any]:
    """Run ``optimize`` or ``vacuum`` over the storage root; lineage lists every table touched."""
    from mlplatform.config.settings import get_settings
    from mlplatform.io.layout import StorageLayout
    from mlplatform.io.spark import get_spark
    from mlplatform.lifecycle.maintenance import optimize_tables, vacuum_tables
    from mlplatform.lineage.recorder import record_lineage

    settings = get_settings()
    spark = get_spark(settings)
    dry_run = bool(run_conf(context).get("dry_run"))
    work = optimize_tables if step == "optimize" else vacuum_tables
    lineage_uri = StorageLayout(settings.storage_root).platform_table("lineage")
    with record_lineage(spark, lineage_uri, run_context(context), settings=settings) as entry:
        tables = work(spark, settings, dry_run=dry_run)
        for t in tables:
            entry.wrote(t["table"], t["path"], t.get("delta_version"))
        entry.params.update(step=step, dry_run=dry_run, tables=len(tables))
    return {"step": step, "dry_run": dry_run, "tables": tables}


def maintenance_failure_callback() -> Callable[[dict[str, Any]], None]:
    """A failed maintenance task alerts every model whose spec subscribes to ``task_failure``."""

    def on_failure(context: dict[str, Any]) -> None:
        exc = context.get("exception")
        task = getattr(context.get("ti"), "task_id", "?")
        for spec in model_specs():
            try:
                send_alert(spec.name, "task_failure", context, f"maintenance task {task} failed: {exc}")
            except Exception as alert_exc:  # one model's broken channel must not hide the others
                log.warning("maintenance alert for %s failed: %s", spec.name, type(alert_exc).__name__)

    return on_failure
