"""Reading and writing artifact files (models, reports) under the storage root.

Local paths use the filesystem; ``s3://`` and ``s3a://`` URIs use boto3, with the endpoint from
``MLP_S3_ENDPOINT_URL`` (an S3-compatible server) when set.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse


def _is_s3(uri: str) -> bool:
    return uri.startswith(("s3://", "s3a://"))


def _s3_client():  # type: ignore[no-untyped-def]
    import boto3

    endpoint = os.environ.get("MLP_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    return boto3.client("s3", endpoint_url=endpoint)


def _bucket_key(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def write_bytes(uri: str, data: bytes) -> str:
    """Write a file and return its sha256."""
    if _is_s3(uri):
        bucket, key = _bucket_key(uri)
        _s3_client().put_object(Bucket=bucket, Key=key, Body=data)
    else:
        path = Path(uri.removeprefix("file://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def read_bytes(uri: str) -> bytes:
    if _is_s3(uri):
        bucket, key = _bucket_key(uri)
        return _s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return Path(uri.removeprefix("file://")).read_bytes()


def exists(uri: str) -> bool:
    if _is_s3(uri):
        bucket, key = _bucket_key(uri)
        resp = _s3_client().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        return resp.get("KeyCount", 0) > 0
    return Path(uri.removeprefix("file://")).exists()


def write_text(uri: str, text: str) -> str:
    return write_bytes(uri, text.encode("utf-8"))


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
