"""Airflow loads plugins from this folder; the catalog plugin itself lives in ``airflow_glue``."""

from __future__ import annotations

from airflow_glue.catalog_plugin import ModelCatalogPlugin

__all__ = ["ModelCatalogPlugin"]
