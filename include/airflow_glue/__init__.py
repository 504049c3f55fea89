"""The one place that knows both Airflow and the platform.

DAG files import this package and ``mlplatform.config`` only, so parsing stays cheap: context
mapping (``context``), the task factory (``tasks``), the data assets DAGs hand over (``assets``),
alert notifiers (``notifiers``) and failure callbacks (``callbacks``).
"""

from __future__ import annotations

DAG_TAG = "mlplatform"
