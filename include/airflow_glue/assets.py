"""The data a model's DAGs hand to each other, as Airflow Assets (declared once per model).

The training DAG updates ``champion`` when it promotes a version; the scoring DAG updates
``predictions`` and ``drift_metrics``. Other DAGs can be scheduled on them, and the UI shows
the data graph between the DAGs.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.sdk import Asset


@dataclass(frozen=True)
class ModelAssets:
    champion: Asset
    predictions: Asset
    drift_metrics: Asset


def model_assets(model: str) -> ModelAssets:
    def asset(kind: str) -> Asset:
        return Asset(name=f"{model}.{kind}", uri=f"mlplatform://{model}/{kind}", group="mlplatform")

    return ModelAssets(asset("champion"), asset("predictions"), asset("drift_metrics"))
