"""Storage layout: every path is built from the root, identically for local folders and s3a."""

from __future__ import annotations

import pytest

from mlplatform.io.catalog import MODEL_TABLES, PLATFORM_TABLES
from mlplatform.io.layout import StorageLayout, safe_key


@pytest.mark.parametrize(
    ("root", "base"),
    [
        ("/data/lake", "/data/lake"),
        ("/data/lake/", "/data/lake"),
        ("s3a://bucket/prefix", "s3a://bucket/prefix"),
        ("s3a://bucket/prefix/", "s3a://bucket/prefix"),
    ],
)
def test_layout_paths(root: str, base: str) -> None:
    """Every path hangs below the root (trailing slash or not, local or s3a) and names what it holds."""
    layout = StorageLayout(root)
    paths = {
        "table": layout.platform_table("predictions"),
        "model_table": layout.model_table("churn_demo", "bronze"),
        "version": layout.model_version_dir("churn_demo", 3),
        "staging": layout.staging_dir("churn_demo", "run_1"),
        "shap": layout.shap_report("churn_demo", 2),
        "drift": layout.drift_report("churn_demo", "2024-05-01"),
        "docs": layout.data_docs_dir(),
        "landing": layout.landing_dir("churn_demo"),
    }
    for kind, path in paths.items():
        assert path.startswith(base + "/"), kind
        assert "//" not in path.split("://", 1)[-1], kind
    assert len(set(paths.values())) == len(paths)
    assert (
        paths["version"].endswith("/v3")
        and paths["shap"].endswith(".html")
        and "2024-05-01" in paths["drift"]
    )


def test_every_known_table_has_a_distinct_path() -> None:
    layout = StorageLayout("/lake")
    paths = [layout.platform_table(t) for t in PLATFORM_TABLES]
    paths += [layout.model_table("m", t) for t in MODEL_TABLES]
    assert len(set(paths)) == len(PLATFORM_TABLES) + len(MODEL_TABLES)
    assert all("//" not in p for p in paths)


def test_unknown_tables_raise_keyerror_naming_the_table() -> None:
    layout = StorageLayout("/lake")
    with pytest.raises(KeyError, match="predictionz"):
        layout.platform_table("predictionz")
    with pytest.raises(KeyError, match="silver"):
        layout.model_table("churn_demo", "silver")
    with pytest.raises(KeyError):
        layout.model_table("churn_demo", "predictions")  # a platform table is not a model table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("manual__2024-05-01T02:00:00+00:00", "manual__2024-05-01T02_00_00_00_00"),
        ("scheduled__2024-05-01", "scheduled__2024-05-01"),
        ("a/b\\c d", "a_b_c_d"),
        ("v1.2_x-y", "v1.2_x-y"),
    ],
)
def test_safe_key(text: str, expected: str) -> None:
    assert safe_key(text) == expected
    assert safe_key(expected) == expected
