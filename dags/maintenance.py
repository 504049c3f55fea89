"""
### Table maintenance (one DAG for the platform, weekly)

**optimize** compacts every Delta table under the storage root (the platform tables and each
model's tables) with `OPTIMIZE` → **vacuum** removes the files no current version needs with
`VACUUM`, never one that a registered model version needs to be reproduced.

Retention rule, per table: every registered version of a model that is not retired (archived
versions included) pins the Delta version of each input table it trained on (`training_inputs` in
the registry); VACUUM keeps removed files for max(`MLP_VACUUM_RETENTION_HOURS`, default 168 h,
hours since the commit of the table's oldest pinned version + `MLP_VACUUM_MARGIN_HOURS`, 24 h).
For a pinned table, `delta.logRetentionDuration` and `delta.deletedFileRetentionDuration` are
raised (never lowered) to cover that retention plus `MLP_VACUUM_LOOKAHEAD_HOURS` (720 h), so the
version's log entries and file tombstones survive until the next run. A retired model's versions
are no longer protected. Trigger with `{"dry_run": true}` to only list what VACUUM would delete.
Each task writes one lineage row listing every table it touched; the task's result is the
per-table summary (files compacted, retention used, pinned version, files deleted).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_parsing_context, task

from airflow_glue import DAG_TAG
from airflow_glue.maintenance import maintenance_failure_callback, run_maintenance

DAG_ID = "platform_maintenance"
DEFAULT_ARGS = {
    "owner": "ml-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=5),
    "on_failure_callback": maintenance_failure_callback(),
}


@dag(
    dag_id=DAG_ID,
    description="OPTIMIZE and VACUUM every Delta table, keeping what registered versions need",
    schedule="0 4 * * 0",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=[DAG_TAG, "maintenance"],
    default_args=DEFAULT_ARGS,
    params={"dry_run": Param(False, type="boolean", description="List what VACUUM would delete only.")},
)
def platform_maintenance():
    @task(multiple_outputs=False)
    def optimize(**context) -> dict:
        """OPTIMIZE (compact) every Delta table under the storage root."""
        return run_maintenance("optimize", context)

    @task(multiple_outputs=False)
    def vacuum(optimized: dict, **context) -> dict:
        """VACUUM every table, keeping the files of every Delta version a live registered model version read."""
        return run_maintenance("vacuum", context)

    vacuum(optimize())


if get_parsing_context().dag_id in (None, DAG_ID):
    platform_maintenance()
