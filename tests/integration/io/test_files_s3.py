"""The artifact file store against a real S3 server (moto's) on 127.0.0.1."""

from __future__ import annotations

import json
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


def test_list_files_is_the_folder_not_a_name_prefix(s3_endpoint: str) -> None:
    files.write_bytes("s3a://lake/list/v1/a.json", b"1")
    files.write_bytes("s3a://lake/list/v1/sub/b.json", b"2")
    files.write_bytes("s3a://lake/list/v10/c.json", b"3")
    assert files.list_files("s3a://lake/list/v1") == [
        "s3a://lake/list/v1/a.json",
        "s3a://lake/list/v1/sub/b.json",
    ]
    assert files.list_files("s3a://lake/list/v1/") == files.list_files("s3a://lake/list/v1")
    assert files.list_files("s3a://lake/list/none") == []


def test_a_tree_goes_down_and_only_what_changed_comes_back(s3_endpoint: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    files.write_text("s3a://lake/gx/gx/great_expectations.yml", "config_version: 4.0\n")
    files.write_text("s3a://lake/gx/gx/uncommitted/validations/run1.json", "{}")
    assert files.download_tree("s3a://lake/gx", tmp_path) == 2
    before = files.tree_digests(tmp_path)
    (tmp_path / "gx" / "uncommitted" / "validations" / "run2.json").write_text('{"run": 2}')
    (tmp_path / "gx" / "great_expectations.yml").write_text("config_version: 4.0\n")  # unchanged content
    assert files.upload_tree(tmp_path, "s3a://lake/gx", unchanged=before) == 1
    assert files.read_text("s3a://lake/gx/gx/uncommitted/validations/run2.json") == '{"run": 2}'
    assert len(files.list_files("s3a://lake/gx")) == 3


def test_a_version_folder_is_complete_only_once_its_manifest_is_written(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlplatform.registry import artifacts

    content = {"model.ubj": b"booster", "metrics.json": b'{"auc": 0.8}'}
    manifest = {"files": {n: files.sha256_hex(d) for n, d in content.items()}}
    bundle = {**content, "manifest.json": json.dumps(manifest).encode()}
    expected = artifacts.manifest_sha256(bundle, "manifest.json")
    folder = "s3a://lake/models/atomic/v1"
    real_write = files.write_bytes

    def crash_on_manifest(uri: str, data: bytes) -> str:
        if uri.endswith("manifest.json"):
            raise ConnectionError("storage went away")
        return real_write(uri, data)

    monkeypatch.setattr(files, "write_bytes", crash_on_manifest)
    with pytest.raises(ConnectionError):
        artifacts.write_files(folder, bundle, "manifest.json")
    assert not artifacts.intact(folder, "manifest.json", expected), "no manifest: the folder is incomplete"
    monkeypatch.setattr(files, "write_bytes", real_write)
    artifacts.write_files(folder, bundle, "manifest.json")
    assert artifacts.intact(folder, "manifest.json", expected)
    files.write_bytes(f"{folder}/model.ubj", b"tampered")
    assert not artifacts.intact(folder, "manifest.json", expected)


def test_demo_data_lands_in_the_bucket_when_the_root_is_s3(s3_endpoint: str) -> None:
    from mlplatform.demo.data import write_demo_landing

    written = write_demo_landing("s3a://lake/mlp/landing/churn_demo", 60, 20, {"2026-11-03": False})
    assert written["training"] == "s3a://lake/mlp/landing/churn_demo/training.csv"
    assert files.list_files("s3a://lake/mlp/landing/churn_demo") == sorted(written.values())
    assert files.read_text(written["2026-11-03"]).splitlines()[0].startswith("customer_id,")
