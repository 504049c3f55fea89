"""Reading and writing artifact files (models, reports, Data Docs) under the storage root.

Local paths use the filesystem; ``s3://`` and ``s3a://`` URIs use one cached boto3 client per
endpoint (``Settings.s3_endpoint_url``, an S3-compatible server, when set). Credentials come from
boto3's own chain (environment, shared config, instance role), never from a spec.
A local write goes to a temporary file that replaces the target; an S3 PUT is atomic per object.
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


def list_files(prefix: str) -> list[str]:
    """URIs of every file below ``prefix`` (a folder), sorted; [] when there is none."""
    root = prefix.rstrip("/")
    if _is_s3(root):
        bucket, key = _bucket_key(root)
        scheme = root.split("://", 1)[0]
        paginator = _s3_client().get_paginator("list_objects_v2")
        found = [
            f"{scheme}://{bucket}/{item['Key']}"
            for page in paginator.paginate(Bucket=bucket, Prefix=f"{key}/")
            for item in page.get("Contents", [])
            if not item["Key"].endswith("/")
        ]
        return sorted(found)
    base = Path(root.removeprefix("file://"))
    return sorted(str(p) for p in base.rglob("*") if p.is_file()) if base.is_dir() else []


def download_tree(prefix: str, local_dir: Path) -> int:
    """Copy every file below ``prefix`` into ``local_dir`` (same relative paths); returns the count."""
    root = prefix.rstrip("/")
    count = 0
    for uri in list_files(root):
        target = local_dir / uri[len(root) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read_bytes(uri))
        count += 1
    return count


def upload_tree(local_dir: Path, prefix: str, *, unchanged: dict[str, str] | None = None) -> int:
    """Write every file of ``local_dir`` below ``prefix``; files whose sha256 is in ``unchanged``
    (relative path → sha256, as :func:`tree_digests` gives) are skipped. Returns the count written."""
    root = prefix.rstrip("/")
    count = 0
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(local_dir).as_posix()
        data = path.read_bytes()
        if unchanged is not None and unchanged.get(relative) == sha256_hex(data):
            continue
        write_bytes(f"{root}/{relative}", data)
        count += 1
    return count


def tree_digests(local_dir: Path) -> dict[str, str]:
    """sha256 of every file below ``local_dir`` by relative path."""
    return {
        p.relative_to(local_dir).as_posix(): sha256_hex(p.read_bytes())
        for p in local_dir.rglob("*")
        if p.is_file()
    }


def write_text(uri: str, text: str) -> str:
    return write_bytes(uri, text.encode("utf-8"))


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
