"""Runtime settings from environment variables (prefix ``MLP_``).

Moving from a laptop to a cluster changes only these values: the Spark master URL,
the storage root (a local folder or ``s3a://bucket/prefix``) and the XGBoost worker count.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[3]


class Settings(BaseSettings):
    """Platform settings; every field can be set as ``MLP_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="MLP_", extra="forbid", populate_by_name=True, env_ignore_empty=True
    )

    storage_root: str = Field(default=str(PROJECT_ROOT / "lakehouse"))
    spec_dir: Path = Field(default=PROJECT_ROOT / "include" / "specs")
    datasets_dir: Path = Field(default=PROJECT_ROOT.parent / "shared" / "datasets")
    # Folders or URI prefixes, besides the storage root and datasets_dir, that source, label and
    # scoring files may be read from (MLP_SOURCE_ROOTS: comma-separated). Nothing else is read.
    source_roots: Annotated[list[str], NoDecode] = Field(default_factory=list)
    spark_master: str = "local[*]"
    spark_app_name: str = "mlplatform"
    spark_driver_memory: str = "2g"
    spark_shuffle_partitions: int = Field(default=4, ge=1)
    spark_ui_enabled: bool = False
    spark_conf: dict[str, str] = Field(default_factory=dict)
    spark_extra_packages: list[str] = Field(default_factory=list)
    jars_dir: Path = Field(default=PROJECT_ROOT / ".cache" / "spark-jars")
    # True when every Spark node has jars_dir at the same path (the project image; one machine): the
    # jars go on the class paths instead of being shipped to each application (~560 MB with S3).
    spark_jars_on_nodes: bool = False
    xgb_num_workers: int = Field(default=2, ge=1)
    # Train splits up to this many rows train with plain ``xgboost.train`` on the driver; larger
    # ones with ``xgboost.spark`` on ``xgb_num_workers`` workers. Same booster format either way.
    single_node_max_rows: int = Field(default=200_000, ge=0)
    # Threads for single-node training; 0 = every core available to the driver process.
    single_node_nthread: int = Field(default=0, ge=0)
    demo_rows: int = Field(default=20000, ge=500)
    # An S3-compatible server (MinIO, moto) for s3a:// storage; AWS's own variable is honoured too.
    s3_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MLP_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
    )
    # An Airflow connection (type aws: login, password, extra endpoint_url) whose S3 credentials the
    # Airflow tasks and the catalog export before they touch storage; unset: the environment's.
    s3_connection_id: str | None = None
    # Table maintenance (mlplatform.lifecycle.maintenance): VACUUM keeps removed files at least
    # vacuum_retention_hours, and longer back to the oldest Delta version a live registered version
    # read (+ vacuum_margin_hours); pinned tables keep log and tombstones vacuum_lookahead_hours more.
    vacuum_retention_hours: int = Field(default=168, ge=0)
    vacuum_margin_hours: int = Field(default=24, ge=0)
    vacuum_lookahead_hours: int = Field(default=720, ge=0)
    # OpenLineage events of every task attempt (mlplatform.lineage.openlineage): ``file`` appends
    # one JSON event per line to openlineage_file (default <storage_root>/openlineage/events.jsonl
    # on local storage), ``http`` posts to openlineage_url (Marquez: http://localhost:5000).
    openlineage_transport: Literal["file", "http", "console", "none"] = "file"
    openlineage_namespace: str = "mlplatform"
    openlineage_file: str | None = None
    openlineage_url: str | None = None
    openlineage_endpoint: str = "api/v1/lineage"
    openlineage_api_key: SecretStr | None = None
    openlineage_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("source_roots", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("openlineage_transport", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def readable_roots(self) -> list[str]:
        """Where source files may be read from: the storage root, datasets_dir and source_roots."""
        return [self.storage_root, str(self.datasets_dir), *self.source_roots]

    @property
    def is_local_storage(self) -> bool:
        return "://" not in self.storage_root or self.storage_root.startswith("file://")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process (call ``get_settings.cache_clear()`` in tests)."""
    return Settings()
