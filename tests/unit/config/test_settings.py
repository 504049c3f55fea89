"""Settings from the environment: prefixes, JSON values, the S3 endpoint alias, named errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlplatform.config.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MLP_STORAGE_ROOT",
        "MLP_SPARK_CONF",
        "MLP_S3_ENDPOINT_URL",
        "AWS_ENDPOINT_URL",
        "MLP_XGB_NUM_WORKERS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_every_field_reads_its_mlp_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLP_STORAGE_ROOT", "s3a://bucket/prefix")
    monkeypatch.setenv("MLP_XGB_NUM_WORKERS", "8")
    monkeypatch.setenv("MLP_SPARK_CONF", '{"spark.executor.memory": "4g"}')
    settings = Settings()
    assert settings.storage_root == "s3a://bucket/prefix" and not settings.is_local_storage
    assert settings.xgb_num_workers == 8
    assert settings.spark_conf == {"spark.executor.memory": "4g"}


def test_empty_spark_conf_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLP_SPARK_CONF", "")
    assert Settings().spark_conf == {}


@pytest.mark.parametrize("root", ["/data/lake", "relative/lake", "file:///data/lake"])
def test_local_roots_are_local(root: str) -> None:
    assert Settings(storage_root=root).is_local_storage


def test_s3_endpoint_from_the_platform_or_the_aws_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().s3_endpoint_url is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    assert Settings().s3_endpoint_url == "http://127.0.0.1:9000"
    monkeypatch.setenv("MLP_S3_ENDPOINT_URL", "http://minio:9000")
    assert Settings().s3_endpoint_url == "http://minio:9000", "the platform's own variable wins"
    assert Settings(s3_endpoint_url="http://x:1").s3_endpoint_url == "http://x:1"


def test_an_invalid_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLP_XGB_NUM_WORKERS", "0")
    with pytest.raises(ValidationError, match="xgb_num_workers"):
        Settings()
    with pytest.raises(ValidationError, match="spark_mastr"):
        Settings(spark_mastr="local[2]")  # type: ignore[call-arg]
