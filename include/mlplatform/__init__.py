"""Domain package of the ML platform: from a model spec to governed, monitored models.

Nothing in this package imports Airflow; the DAGs call it through ``include/airflow_glue``.
"""

from __future__ import annotations

from importlib import metadata

__version__ = metadata.version("mlplatform")
