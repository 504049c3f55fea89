"""Provenance: the code version comes from git, or from the image's baked-in commit."""

from __future__ import annotations

import pytest

from mlplatform.core import provenance


@pytest.fixture(autouse=True)
def _fresh_cache():  # type: ignore[no-untyped-def]
    provenance.code_version.cache_clear()
    yield
    provenance.code_version.cache_clear()


def test_without_git_the_baked_commit_is_recorded(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(provenance, "PROJECT_ROOT", tmp_path)  # no .git here: as in the image
    monkeypatch.setenv("MLP_CODE_VERSION", "0123abcd")
    assert provenance.code_version() == "0123abcd"


def test_without_git_or_a_baked_commit_it_says_unknown(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(provenance, "PROJECT_ROOT", tmp_path)
    monkeypatch.delenv("MLP_CODE_VERSION", raising=False)
    assert provenance.code_version() == "unknown"


def test_in_a_checkout_git_wins() -> None:
    version = provenance.code_version()
    assert len(version.removesuffix("-dirty")) == 40


def test_library_versions_are_the_installed_ones() -> None:
    import sys

    import numpy
    import xgboost

    versions = provenance.library_versions()
    assert versions["numpy"] == numpy.__version__ and versions["xgboost"] == xgboost.__version__
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert versions["delta-spark"] and versions["pyspark"], "read from package metadata, not imports"
