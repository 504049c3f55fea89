"""Who and what is running a step: the run context every lineage row records.

It is built by the Airflow glue from the task context, by the CLI for commands a person runs,
and by tests; nothing here knows about Airflow.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class TriggerType(StrEnum):
    """How a run was started (lineage's ``trigger_type``), as Airflow recorded it."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"
    API = "api"
    ASSET = "asset"
    BACKFILL = "backfill"
    POLICY = "policy"
    CLI = "cli"
    TEST = "test"


@dataclass(frozen=True)
class RunContext:
    """The facts lineage records about a task attempt."""

    run_id: str
    dag_id: str
    task_id: str
    logical_date: datetime
    trigger_type: str = TriggerType.MANUAL.value
    triggered_by: str | None = None
    try_number: int = 1
    conf: dict[str, Any] = field(default_factory=dict)

    @property
    def ds(self) -> str:
        return self.logical_date.strftime("%Y-%m-%d")

    @property
    def reason(self) -> str:
        return str(self.conf.get("reason") or "")

    @property
    def actor(self) -> str:
        """Who is acting: the triggering user, else how the run was triggered."""
        return self.triggered_by or str(self.trigger_type)

    def for_task(self, task_id: str) -> RunContext:
        """The same run, another task (a command that runs several steps in one process)."""
        return replace(self, task_id=task_id)

    @classmethod
    def for_cli(
        cls, command: str, model: str, logical_date: datetime | None = None, **conf: Any
    ) -> RunContext:
        """The context of a command a person runs from the shell."""
        now = datetime.now(UTC)
        return cls(
            run_id=f"cli__{command}__{now.strftime('%Y%m%dT%H%M%S')}",
            dag_id=f"{model}_{command}",
            task_id=command,
            logical_date=logical_date or now,
            trigger_type=TriggerType.CLI.value,
            triggered_by=getpass.getuser(),
            conf=conf,
        )


#: Airflow's ``triggered_by`` of a manual run → the trigger type lineage records.
_TRIGGERED_BY = {
    "ui": TriggerType.MANUAL,
    "rest_api": TriggerType.API,
    "cli": TriggerType.CLI,
    "test": TriggerType.CLI,
    "operator": TriggerType.POLICY,
    "timetable": TriggerType.SCHEDULED,
    "backfill": TriggerType.BACKFILL,
    "asset": TriggerType.ASSET,
}


def classify_trigger(
    run_type: str | None, triggered_by: str | None = None, conf: dict[str, Any] | None = None
) -> str:
    """The trigger type of a run, from Airflow's own ``run_type`` and ``triggered_by`` only.

    A conf's ``trigger_source`` is ignored: a person filling in the trigger form could type
    ``policy``. Operator-triggered runs are the retraining policy's (``TriggerDagRunOperator``);
    so is a ``dag.test()`` replay of a run the policy queued, which carries the policy's
    ``requested_by`` in its conf (only a person at the shell replays runs: ``make demo``).
    """
    kind = (run_type or "manual").lower()
    if kind == "scheduled":
        return TriggerType.SCHEDULED.value
    if kind == "backfill":
        return TriggerType.BACKFILL.value
    if kind.startswith("asset") or kind == "dataset_triggered":
        return TriggerType.ASSET.value
    if kind == "operator_triggered":
        return TriggerType.POLICY.value
    source = (triggered_by or "").lower()
    if source == "test" and (conf or {}).get("requested_by"):
        return TriggerType.POLICY.value
    return _TRIGGERED_BY.get(source, TriggerType.MANUAL).value
