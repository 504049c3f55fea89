"""Domain package of the ML platform: specs, storage, Spark, validation, features,
training, explanation, registry, scoring, drift and lineage.

Nothing in this package imports Airflow; the DAGs call it through ``include/airflow_glue.py``.
"""

from __future__ import annotations

__version__ = "0.1.0"
