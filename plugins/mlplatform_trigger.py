"""The listener that records how each manual platform run was triggered (``airflow_glue.trigger``)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_glue import trigger


class TriggerListenerPlugin(AirflowPlugin):
    """Copies Airflow's ``triggered_by`` of a manual run where the run's tasks can read it."""

    name = "mlplatform_trigger"
    listeners = [trigger]
