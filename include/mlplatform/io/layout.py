"""Where everything lives under the storage root: the one place that builds storage paths.

The root is a local folder on a laptop and ``s3a://bucket/prefix`` on a cluster; paths are
plain strings joined with ``/`` so that both work unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlplatform.io.catalog import MODEL_TABLES, PLATFORM_TABLES


@dataclass(frozen=True)
class StorageLayout:
    """Paths of tables, model artifacts and reports below one storage root."""

    root: str

    def _join(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def platform_table(self, name: str) -> str:
        if name not in PLATFORM_TABLES:
            raise KeyError(f"unknown platform table '{name}'; known: {', '.join(PLATFORM_TABLES)}")
        return self._join("delta", "platform", name)

    def model_table(self, model: str, name: str) -> str:
        if name not in MODEL_TABLES:
            raise KeyError(f"unknown model table '{name}'; known: {', '.join(MODEL_TABLES)}")
        return self._join("delta", "models", model, name)

    def model_version_dir(self, model: str, version: int) -> str:
        return self._join("models", model, f"v{version}")

    def staging_dir(self, model: str, run_key: str) -> str:
        """Artifacts of a training run before it is registered as a version."""
        return self._join("staging", model, run_key)

    def shap_report(self, model: str, version: int) -> str:
        return self._join("reports", model, f"v{version}", f"{model}_v{version}_shap_report.html")

    def retirement_manifest(self, model: str) -> str:
        return self._join("archive", model, "retirement.json")

    def drift_report(self, model: str, ds: str) -> str:
        return self._join("reports", model, "drift", ds, f"{model}_{ds}_drift_report.html")

    def data_docs_dir(self) -> str:
        return self._join("gx")

    def landing_dir(self, model: str) -> str:
        return self._join("landing", model)


def safe_key(text: str) -> str:
    """A run id made safe for a path segment (Airflow run ids contain ':' and '+')."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def training_batch_id(run_id: str) -> str:
    """The bronze/validated/features partition of a training run (one per run)."""
    return f"train__{safe_key(run_id)}"


def scoring_batch_id(ds: str) -> str:
    """The partition of a scoring date (one per logical date, so reruns replace it)."""
    return f"score__{ds}"


SCORING_BATCH_PATTERN = r"^score__(\d{4}-\d{2}-\d{2})$"


def labels_batch_id(ds: str) -> str:
    """The quarantine partition of the label file that arrived on ``ds``."""
    return f"labels__{ds}"
