"""The table catalog: tables are created from their entries, and Delta enforces append-only."""

from __future__ import annotations

import pytest

from mlplatform.io.catalog import TABLES, markdown_table
from mlplatform.io.delta import append_rows, ensure_table
from tests.support import PROJECT_ROOT

pytestmark = pytest.mark.spark

RACE_ROUNDS = 12


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


def test_racing_creators_all_get_the_table(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Three writers create one table at once, many times over: none fails, one table results.

    A losing creator sees the winner's half-made location before its first commit; Delta then
    says "not empty and also not a Delta table", which ``ensure_table`` must wait out.
    """
    import threading

    from delta.tables import DeltaTable

    errors: list[BaseException] = []
    for round_no in range(RACE_ROUNDS):
        path = str(tmp_path / f"registry_{round_no}")
        barrier = threading.Barrier(3)

        def create(path: str = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                ensure_table(spark, path, TABLES["model_registry"])
                spark.read.format("delta").load(path).count()
            except Exception as exc:  # collected and asserted on below
                errors.append(exc)

        threads = [threading.Thread(target=create) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert DeltaTable.forPath(spark, path).history().count() == 1, f"round {round_no}: one create commit"
    assert errors == [], [str(e)[:300] for e in errors]


def test_a_non_delta_location_is_refused_by_name(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "registry"
    path.mkdir()
    (path / "notes.txt").write_text("not a table")
    from mlplatform.io.delta import TableWriteError

    with pytest.raises(TableWriteError, match=rf"cannot create Delta table {path}: .*not a Delta table"):
        ensure_table(spark, str(path), TABLES["model_registry"])
    assert sorted(p.name for p in path.iterdir()) == ["notes.txt"], "the location's files are left alone"


def test_a_table_of_an_earlier_release_gains_the_declared_columns_and_keeps_its_rows(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The predictions table before the task types had no predicted_label or class_probabilities."""
    from datetime import date

    from mlplatform.io.catalog import TableSpec
    from mlplatform.io.delta import append_rows

    path = str(tmp_path / "predictions")
    current = TABLES["predictions"]
    old_ddl = ", ".join(
        part
        for part in current.ddl.split(", ")
        if not part.startswith(("predicted_label", "class_probabilities"))
    )
    assert old_ddl != current.ddl
    old = TableSpec(old_ddl, current.partition_by, doc=current.doc)
    append_rows(
        spark,
        path,
        old,
        [{"model_name": "m", "score_date": date(2026, 11, 1), "entity_id": "a", "score": 0.5}],
    )
    append_rows(
        spark,
        path,
        current,
        [
            {
                "model_name": "m",
                "score_date": date(2026, 11, 2),
                "entity_id": "b",
                "predicted_label": "x",
                "class_probabilities": {"x": 0.9, "y": 0.1},
            }
        ],
    )
    rows = {r["entity_id"]: r for r in spark.read.format("delta").load(path).collect()}
    assert rows["a"]["score"] == 0.5 and rows["a"]["predicted_label"] is None
    assert rows["b"]["class_probabilities"] == {"x": 0.9, "y": 0.1}
    assert set(spark.read.format("delta").load(path).columns) == set(current.columns)


def test_a_column_whose_type_changed_is_refused_by_name_before_any_write(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.io.catalog import TableSpec
    from mlplatform.io.delta import TableWriteError, append_rows

    path = str(tmp_path / "labels")
    current = TABLES["labels"]
    old = TableSpec(current.ddl.replace("label double", "label int"), current.partition_by, doc=current.doc)
    ensure_table(spark, path, old)
    with pytest.raises(TableWriteError, match=r"'label' is int, declared double.*migrate it") as info:
        append_rows(spark, path, current, [{"model_name": "m", "entity_id": "a", "label": 1.0}])
    assert path in str(info.value)
    assert spark.read.format("delta").load(path).count() == 0
