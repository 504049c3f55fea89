"""Read what the stack's runs left in the bucket, through s3a on the Spark cluster; prints JSON.

Run by the stack test with the cluster's settings (``python tests/stack/read_back.py MODEL DATE``):
the platform's own Spark factory, registry and file store, nothing test-specific.
"""

from __future__ import annotations

import json
import sys

from mlplatform.config.settings import get_settings
from mlplatform.data.validation import DATA_DOCS_INDEX
from mlplatform.io import files
from mlplatform.io.layout import StorageLayout, scoring_batch_id
from mlplatform.io.spark import get_spark
from mlplatform.registry import ModelRegistry


def main(model: str, ds: str) -> dict:
    from pyspark.sql import functions as F

    settings = get_settings()
    layout = StorageLayout(settings.storage_root)
    spark = get_spark(settings)

    def load(uri: str):  # type: ignore[no-untyped-def]
        return spark.read.format("delta").load(uri)

    batch_id = scoring_batch_id(ds)
    tables = {
        name: load(layout.platform_table(name)).count()
        for name in ("model_registry", "lineage", "audit", "predictions", "quarantine", "validation_results")
    }
    for name in ("bronze", "validated", "features"):
        tables[name] = load(layout.model_table(model, name)).count()
    bronze = load(layout.model_table(model, "bronze")).where(F.col("_batch_id") == batch_id).count()
    quarantine = load(layout.platform_table("quarantine"))
    quarantined = quarantine.where((F.col("model_name") == model) & (F.col("batch_id") == batch_id)).count()
    predictions = load(layout.platform_table("predictions")).where(
        (F.col("model_name") == model) & (F.col("score_date") == F.to_date(F.lit(ds)))
    )
    registry = ModelRegistry(spark, layout.platform_table("model_registry"))
    champion = registry.load_champion(model)  # verifies the manifest and every file's sha256
    artifact_files = files.list_files(champion.artifact_uri)
    version = champion.version
    return {
        "storage_root": settings.storage_root,
        "spark_master": spark.sparkContext.master,
        "tables": tables,
        "batch_rows": bronze,
        "quarantined": quarantined,
        "predictions": predictions.count(),
        "distinct_entities": predictions.select("entity_id").distinct().count(),
        "prediction_versions": sorted(
            {r[0] for r in predictions.select("model_version").distinct().collect()}
        ),
        "champion": version,
        "artifact_uri": champion.artifact_uri,
        "artifact_files": artifact_files,
        "booster_trees": champion.booster().num_boosted_rounds(),
        "shap_report": files.exists(layout.shap_report(model, version)),
        "drift_report": files.exists(layout.drift_report(model, ds)),
        "data_docs": files.exists(f"{layout.data_docs_dir()}/{DATA_DOCS_INDEX}"),
        "data_docs_files": len(files.list_files(layout.data_docs_dir())),
        "app_id": spark.sparkContext.applicationId,
    }


if __name__ == "__main__":
    print("READ_BACK " + json.dumps(main(sys.argv[1], sys.argv[2]), default=str))
