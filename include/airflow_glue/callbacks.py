"""Task callbacks: what a failed task tells the model's alert channels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_glue.notifiers import send_alert
from mlplatform.core.errors import DataProblem


def failure_callback(model: str) -> Callable[[dict[str, Any]], None]:
    """``on_failure_callback`` for a model's tasks: a data-quality alert when the data was at fault
    (a ``DataProblem``: missing source, schema change, failed expectations, bad labels), a
    task-failure alert otherwise."""

    def on_failure(context: dict[str, Any]) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        exc = context.get("exception")
        # A permanent error reaches Airflow wrapped in AirflowFailException (no retry); judge the cause.
        exc = exc.__cause__ if isinstance(exc, AirflowFailException) and exc.__cause__ else exc
        event = "data_quality" if isinstance(exc, DataProblem) else "task_failure"
        task = getattr(context.get("ti"), "task_id", "?")
        send_alert(model, event, context, f"task {task} failed: {exc}", {"error_type": type(exc).__name__})

    return on_failure
