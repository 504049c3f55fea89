"""Which files the platform may read: only below the configured roots.

A spec's source path is resolved from a template, so a typo or a hostile spec could point it
anywhere (``{storage_root}/../../etc/passwd``). Every source path is checked here before a byte
is read: after normalising ``..`` and, for local paths, following symlinks, it must lie below the
storage root, ``datasets_dir`` or one of ``MLP_SOURCE_ROOTS``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable

from mlplatform.core.errors import ConfigError


class SourcePathError(ConfigError, PermissionError):
    """A source path resolves outside every configured root; nothing was read."""


def _split(uri: str) -> tuple[str, str]:
    """(scheme and authority, path) with ``..`` folded; local paths also resolve symlinks."""
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    if "://" in uri:
        scheme, rest = uri.split("://", 1)
        authority, _, path = rest.partition("/")
        return f"{scheme.lower()}://{authority}", posixpath.normpath("/" + path)
    return "", os.path.realpath(uri)


def is_under(uri: str, root: str) -> bool:
    """Whether ``uri`` lies at or below ``root`` once both are normalised."""
    base, path = _split(uri)
    root_base, root_path = _split(root)
    if base != root_base:
        return False
    return path == root_path or path.startswith(root_path.rstrip("/") + "/")


def check_readable(uri: str, roots: Iterable[str], *, what: str) -> str:
    """``uri`` if it lies below one of ``roots``; otherwise ``SourcePathError`` naming ``what``."""
    roots = [r for r in roots if r]
    if any(is_under(uri, root) for root in roots):
        return uri
    raise SourcePathError(
        f"{what} resolves to {uri}, outside the readable roots ({', '.join(roots)}); "
        "add its folder to MLP_SOURCE_ROOTS to allow it. Nothing was read."
    )
