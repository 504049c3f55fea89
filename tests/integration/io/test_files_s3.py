"""The artifact file store against a real S3 server (moto's) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlplatform.io import files
from tests.support import platform_env


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with platform_env(MLP_S3_ENDPOINT_URL=endpoint, **credentials):
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="lake")
        try:
            yield endpoint
        finally:
            files._client_for.cache_clear()
    server.stop()


def test_write_read_and_checksum_on_s3(s3_endpoint: str) -> None:
    sha = files.write_bytes("s3a://lake/models/m/v1/model.ubj", b"booster bytes")
    assert sha == files.sha256_hex(b"booster bytes")
    assert files.read_bytes("s3a://lake/models/m/v1/model.ubj") == b"booster bytes"
    files.write_text("s3://lake/models/m/v1/metrics.json", '{"auc": 0.8}')
    assert files.read_text("s3a://lake/models/m/v1/metrics.json") == '{"auc": 0.8}'


def test_exists_is_the_exact_key_not_a_prefix(s3_endpoint: str) -> None:
    files.write_bytes("s3a://lake/models/p/v10/model.ubj", b"x")
    assert files.exists("s3a://lake/models/p/v10/model.ubj")
    assert not files.exists("s3a://lake/models/p/v1"), "v1 must not exist because v10/ does"
    assert not files.exists("s3a://lake/models/p/v10/model.ub")
    assert not files.exists("s3a://lake/models/p/v2/model.ubj")


def test_one_client_per_endpoint(s3_endpoint: str) -> None:
    assert files._s3_client() is files._s3_client()
