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
    """How a run was started; the DAG params' ``trigger_source`` enums are derived from it."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"
    API = "api"
    ASSET = "asset"
    BACKFILL = "backfill"
    POLICY = "policy"
    CLI = "cli"
    TEST = "test"


#: The sources a person or a caller may name in ``conf.trigger_source``.
REQUESTABLE_TRIGGERS = (TriggerType.MANUAL, TriggerType.API, TriggerType.POLICY)


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


def classify_trigger(run_type: str | None, conf: dict[str, Any] | None) -> str:
    """Map Airflow's run type (and the conf's ``trigger_source``) to a trigger type (a plain string).

    Airflow gives UI and REST API runs the same run type ("manual"); the REST call documented in
    the README sets ``conf.trigger_source = "api"`` so that lineage can tell them apart.
    """
    source = str((conf or {}).get("trigger_source") or "").lower()
    kind = (run_type or "manual").lower()
    if kind == "scheduled":
        return TriggerType.SCHEDULED.value
    if kind == "backfill":
        return TriggerType.BACKFILL.value
    if kind.startswith("asset") or kind == "dataset_triggered":
        return TriggerType.ASSET.value
    if source in {t.value for t in TriggerType}:
        return source
    return TriggerType.MANUAL.value
