"""Reading and writing artifact files (models, reports) under the storage root.

Local paths use the filesystem; ``s3://`` and ``s3a://`` URIs use one cached boto3 client per
endpoint (``Settings.s3_endpoint_url``, an S3-compatible server, when set).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlplatform.config.settings import get_settings


def _is_s3(uri: str) -> bool:
    return uri.startswith(("s3://", "s3a://"))


@lru_cache(maxsize=4)
def _client_for(endpoint: str | None) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint)


def _s3_client() -> Any:
    return _client_for(get_settings().s3_endpoint_url)


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
    """Whether the file itself exists (on S3 the exact key, not a prefix of other keys)."""
    if _is_s3(uri):
        bucket, key = _bucket_key(uri)
        from botocore.exceptions import ClientError

        try:
            _s3_client().head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True
    return Path(uri.removeprefix("file://")).exists()


def write_text(uri: str, text: str) -> str:
    return write_bytes(uri, text.encode("utf-8"))


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
