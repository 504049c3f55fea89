"""The table catalog: tables are created from their entries, and Delta enforces append-only."""

from __future__ import annotations

import pytest

from mlplatform.io.catalog import TABLES, markdown_table
from mlplatform.io.delta import append_rows, ensure_table
from tests.support import PROJECT_ROOT

pytestmark = pytest.mark.spark


def test_append_only_tables_refuse_update_and_delete(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from delta.tables import DeltaTable

    path = str(tmp_path / "monitoring_decisions")
    append_rows(
        spark,
        path,
        TABLES["monitoring_decisions"],
        [{"model_name": "m", "degraded": False, "retrain": False, "reason": "first"}],
    )
    table = DeltaTable.forPath(spark, path)
    assert table.detail().first()["properties"].get("delta.appendOnly") == "true"
    with pytest.raises(Exception, match="(?i)append.?only"):
        table.delete("model_name = 'm'")
    with pytest.raises(Exception, match="(?i)append.?only"):
        table.update("model_name = 'm'", {"reason": "'rewritten'"})
    append_rows(spark, path, TABLES["monitoring_decisions"], [{"model_name": "m", "reason": "second"}])
    assert sorted(r["reason"] for r in spark.read.format("delta").load(path).collect()) == ["first", "second"]


def test_data_tables_are_created_with_their_schema_and_partitioning(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from delta.tables import DeltaTable

    path = str(tmp_path / "predictions")
    ensure_table(spark, path, TABLES["predictions"])
    detail = DeltaTable.forPath(spark, path).detail().first()
    assert list(detail["partitionColumns"]) == ["model_name", "score_date"]
    assert "delta.appendOnly" not in (detail["properties"] or {})
    assert spark.read.format("delta").load(path).columns == TABLES["predictions"].columns
    assert detail["description"] == TABLES["predictions"].doc


def test_readme_table_list_is_the_catalog() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    start, end = "<!-- tables:start -->\n", "\n<!-- tables:end -->"
    assert start in readme and end in readme, "README lacks the generated table list markers"
    listed = readme.split(start, 1)[1].split(end, 1)[0]
    assert listed == markdown_table(), "README table list is stale: run `mlplatform tables --markdown`"
