"""The bad-input corpus: one defective batch per case, through the real ingest and GX validation steps.

Each case asserts (a) the outcome, with a message (error or quarantine reason) that names the file,
column or spec field, and (b) the row accounting: every source row is validated, quarantined or,
when the run is refused, held in bronze for a rerun; none is lost, none duplicated, and no id is
both validated and quarantined (``tests/reliability/corpus.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.corpus import (
    DS,
    ID,
    PREVIOUS_DS,
    Env,
    account,
    account_batch,
    batch_id,
    bronze,
    csv_lines,
    good_rows,
    ids,
    ingest_and_validate,
    make_env,
    quarantined,
    report,
    row_json,
    validated,
    write_bytes,
    write_csv,
)

pytestmark = pytest.mark.spark


@pytest.fixture()
def env(spark, tmp_path: Path) -> Env:  # type: ignore[no-untyped-def]
    return make_env(tmp_path)


def _refused(spark, env: Env, source: list[str | None], ds: str = DS):  # type: ignore[no-untyped-def]
    """A run refused at validation: bronze holds every source row, none is validated."""
    accounting = account_batch(spark, env, batch_id(ds), source, refused=True)
    assert accounting.balanced, accounting
    return accounting


def _refused_at_ingest(spark, env: Env, source: list[str | None], ds: str = DS):  # type: ignore[no-untyped-def]
    """A file refused at ingest writes nothing: every row stays in the landing file only (held)."""
    batch = batch_id(ds)
    assert bronze(spark, env, batch) == [], "a refused file wrote bronze rows"
    assert validated(spark, env, batch) == [] and quarantined(spark, env, batch) == []
    accounting = account(source, [], [], held_ids=source)
    assert accounting.balanced, accounting
    return accounting


# --- values: one bad row among good ones is quarantined with its reason ----------------------------

ROW_DEFECTS = {
    "wrong_type": ({"monthly_charges": "12,5O"}, "expect_column_values_to_match_regex(monthly_charges)"),
    "text_in_numeric": ({"tenure_months": "twelve"}, "expect_column_values_to_match_regex(tenure_months)"),
    "null_required": ({"tenure_months": ""}, "expect_column_values_to_not_be_null(tenure_months)"),
    "out_of_range": ({"age": "150"}, "expect_column_values_to_be_between(age)"),
    "unseen_category": ({"contract": "Weekly"}, "expect_column_values_to_be_in_set(contract)"),
}


@pytest.mark.parametrize("defect", sorted(ROW_DEFECTS))
def test_row_defect_is_quarantined_with_reason(defect: str, spark, env) -> None:  # type: ignore[no-untyped-def]
    change, reason = ROW_DEFECTS[defect]
    rows = good_rows()
    bad = {**rows[7], **change}
    source = [*rows[:7], bad, *rows[8:]]
    write_csv(env.batch_file(), source)
    out = ingest_and_validate(env)
    good_ids = {r[ID] for i, r in enumerate(rows) if i != 7}
    assert {r[ID] for r in validated(spark, env, batch_id())} == good_ids
    (q,) = quarantined(spark, env, batch_id())
    assert reason in q["reasons"] and q["entity_id"] == bad[ID]
    assert out["validated_rows"] == len(good_ids) and out["quarantined_rows"] == 1
    accounting = account_batch(spark, env, batch_id(), ids(source))
    assert accounting.balanced, accounting
    report(defect, accounting, ", ".join(q["reasons"]))


def test_unseen_category_of_an_open_column_is_validated_untouched(spark, env) -> None:  # type: ignore[no-untyped-def]
    """``region`` has no allowed set: a new value is data, not a defect (the model's unknown bucket scores it)."""
    rows = good_rows()
    rows[4] = {**rows[4], "region": "atlantis"}
    rows[9] = {**rows[9], "payment_method": "Crypto wallet"}
    write_csv(env.batch_file(), rows)
    ingest_and_validate(env)
    out = {r[ID]: r for r in validated(spark, env, batch_id())}
    assert out[rows[4][ID]]["region"] == "atlantis"
    assert out[rows[9][ID]]["payment_method"] == "Crypto wallet"
    assert quarantined(spark, env, batch_id()) == []
    accounting = account_batch(spark, env, batch_id(), ids(rows))
    assert accounting.balanced, accounting
    report("unseen_category_open_column", accounting, "accepted (no allowed set for region/payment_method)")


# --- malformed lines -------------------------------------------------------------------------------


def _malformed(line: str) -> str:
    """A data line broken as the case says; the id stays the first field."""
    fields = line.split(",")
    return {
        "unbalanced_quote": lambda: ",".join([*fields[:6], '"' + fields[6], *fields[7:]]),
        "extra_field": lambda: line + ",surplus",
        "missing_field": lambda: ",".join(fields[:-2] + fields[-1:]),
        "unterminated_quote_and_extra_fields": lambda: (
            f'{fields[0]},12,"unterminated,40.5,,3,33,One year,Mailed check,DSL,north,0,extra,fields'
        ),
    }


MALFORMED = ("unbalanced_quote", "extra_field", "missing_field", "unterminated_quote_and_extra_fields")


@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_csv_line_is_quarantined(kind: str, spark, env) -> None:  # type: ignore[no-untyped-def]
    rows = good_rows()
    lines = csv_lines(rows)
    bad_index = 5  # the 5th data row (line 0 is the header)
    broken = _malformed(lines[bad_index])[kind]()
    assert broken.split(",")[0] == rows[bad_index - 1][ID]
    lines[bad_index] = broken
    write_bytes(env.batch_file(), ("\n".join(lines) + "\n").encode())
    ingest_and_validate(env)
    bad_id = rows[bad_index - 1][ID]
    assert {r[ID] for r in validated(spark, env, batch_id())} == {r[ID] for r in rows} - {bad_id}
    (q,) = quarantined(spark, env, batch_id())
    assert "expect_column_values_to_be_null(_corrupt_record)" in q["reasons"]
    assert row_json(q)["_corrupt_record"] == broken, "the raw line is kept as read"
    assert q["entity_id"] == bad_id
    accounting = account_batch(spark, env, batch_id(), ids(rows))
    assert accounting.balanced, accounting
    report(f"malformed_{kind}", accounting, ", ".join(q["reasons"]))


# --- duplicated ids --------------------------------------------------------------------------------


def test_duplicated_key_fails_the_run_and_quarantines_both(spark, env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.validation import DataQualityError

    rows = good_rows()
    dup = {**rows[3], "age": "44"}
    source = [*rows, dup]
    write_csv(env.batch_file(), source)
    with pytest.raises(DataQualityError, match=r"customer_id") as err:
        ingest_and_validate(env)
    assert "expect_column_values_to_be_unique" in str(err.value)
    assert f"{DS}.csv" in str(err.value)
    qua = quarantined(spark, env, batch_id())
    assert sorted(row_json(q)[ID] for q in qua) == [rows[3][ID]] * 2
    accounting = _refused(spark, env, ids(source))
    assert accounting.quarantined == 2 and accounting.held == len(rows) - 1
    report("duplicate_keys_fail", accounting, str(err.value))


def test_duplicated_key_under_quarantine_policy_quarantines_both_and_passes(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = make_env(tmp_path, duplicate_keys="quarantine")
    rows = good_rows(60)
    dup = {**rows[3], "age": "44"}
    source = [*rows, dup]
    write_csv(env.batch_file(), source)
    out = ingest_and_validate(env)
    qua = quarantined(spark, env, batch_id())
    assert [q["entity_id"] for q in qua] == [rows[3][ID]] * 2
    assert all("expect_column_values_to_be_unique(customer_id)" in q["reasons"] for q in qua)
    assert sorted(row_json(q)["age"] for q in qua) == sorted([rows[3]["age"], "44"]), "both versions kept"
    assert out["validated_rows"] == len(rows) - 1 and out["quarantined_rows"] == 2
    accounting = account_batch(spark, env, batch_id(), ids(source))
    assert accounting.balanced, accounting
    report("duplicate_keys_quarantine", accounting, ", ".join(qua[0]["reasons"]))


# --- schema ----------------------------------------------------------------------------------------


def test_missing_column_fails_naming_file_and_column(spark, env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.ingest import SourceError

    rows = good_rows()
    header = [c for c in rows[0] if c != "contract"]
    write_csv(env.batch_file(), rows, header=header)
    with pytest.raises(SourceError, match=r"contract") as err:
        ingest_and_validate(env)
    assert f"{DS}.csv" in str(err.value)
    report("dropped_column", _refused_at_ingest(spark, env, ids(rows)), str(err.value))


@pytest.mark.parametrize("policy", ["ignore", "fail"])
def test_renamed_column_fails_naming_file_and_column(policy: str, spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``contract`` arrives as ``contract_type`` after a good day: under either ``extra_columns``
    policy the declared column is missing, and the message names the file, it and the new name."""
    from mlplatform.data.ingest import SourceError

    env = make_env(tmp_path, extra_columns=policy)
    rows = good_rows()
    write_csv(env.batch_file(PREVIOUS_DS), rows)
    ingest_and_validate(env, PREVIOUS_DS)
    renamed = [{("contract_type" if k == "contract" else k): v for k, v in r.items()} for r in rows]
    write_csv(env.batch_file(), renamed)
    with pytest.raises(SourceError, match=r"'contract'") as err:
        ingest_and_validate(env)
    assert f"{DS}.csv" in str(err.value) and "contract_type" in str(err.value)
    report(f"renamed_column_{policy}", _refused_at_ingest(spark, env, ids(rows)), str(err.value))


def test_extra_column_is_recorded_and_ignored_by_default(spark, env) -> None:  # type: ignore[no-untyped-def]
    rows = good_rows()
    write_csv(env.batch_file(PREVIOUS_DS), rows)
    ingest_and_validate(env, PREVIOUS_DS)
    extra = [{**r, "loyalty_tier": "gold"} for r in rows]
    write_csv(env.batch_file(), extra)
    out = ingest_and_validate(env)
    assert out["schema_version"] == 2
    assert {r[ID] for r in validated(spark, env, batch_id())} == set(ids(rows))
    assert quarantined(spark, env, batch_id()) == []
    schemas = spark.read.format("delta").load(env.table("source_schemas"))
    latest = schemas.orderBy("schema_version", ascending=False).first()
    assert '"added": ["loyalty_tier"]' in latest["changes"] and f"{DS}.csv" in latest["source_uri"]
    lineage = spark.read.format("delta").load(env.table("lineage"))
    entry = lineage.where(f"task_id = 'ingest' AND run_id = 'scheduled__{DS}'").first()
    assert "loyalty_tier" in entry["params"]
    accounting = account_batch(spark, env, batch_id(), ids(extra))
    assert accounting.balanced, accounting
    report("extra_column_ignore", accounting, latest["changes"])


def test_extra_column_fails_under_fail_policy(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.source_schema import SchemaDriftError

    env = make_env(tmp_path, extra_columns="fail")
    rows = good_rows()
    write_csv(env.batch_file(PREVIOUS_DS), rows)
    ingest_and_validate(env, PREVIOUS_DS)
    write_csv(env.batch_file(), [{**r, "loyalty_tier": "gold"} for r in rows])
    with pytest.raises(SchemaDriftError, match=r"loyalty_tier") as err:
        ingest_and_validate(env)
    assert "validation.extra_columns" in str(err.value) and f"{DS}.csv" in str(err.value)
    report("extra_column_fail_policy", _refused_at_ingest(spark, env, ids(rows)), str(err.value))


# --- empty and missing files -----------------------------------------------------------------------


def test_empty_batch_fails_naming_file_and_expectation(spark, env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.validation import DataQualityError

    header = csv_lines(good_rows(1))[0]
    write_bytes(env.batch_file(), (header + "\n").encode())
    with pytest.raises(DataQualityError, match=r"expect_table_row_count_to_be_between") as err:
        ingest_and_validate(env)
    assert f"{DS}.csv" in str(err.value)
    accounting = _refused(spark, env, [])
    assert accounting.rows_in == 0 and accounting.held == 0
    report("empty_header_only", accounting, str(err.value))


def test_zero_byte_file_fails_naming_file(spark, env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.core.errors import DataProblem

    write_bytes(env.batch_file(), b"")
    with pytest.raises(DataProblem, match=rf"{DS}\.csv") as err:
        ingest_and_validate(env)
    report("empty_zero_bytes", _refused_at_ingest(spark, env, []), f"{type(err.value).__name__}: {err.value}")


def test_unreadable_file_fails_naming_file(spark, env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.ingest import SourceError

    with pytest.raises(SourceError, match=rf"{DS}\.csv") as err:
        ingest_and_validate(env)
    report("missing_file", _refused_at_ingest(spark, env, []), str(err.value))


def test_failed_run_writes_failed_lineage(spark, env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.ingest import SourceError

    with pytest.raises(SourceError):
        ingest_and_validate(env)
    lineage = spark.read.format("delta").load(env.table("lineage"))
    row = lineage.where("task_id = 'ingest'").first()
    assert row["status"] == "failed" and "SourceError" in row["error"]


# --- a 5 MB cell -----------------------------------------------------------------------------------


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


HUGE = 5_000_000


@pytest.mark.parametrize(
    ("column", "outcome"),
    [("contract", "quarantined"), ("payment_method", "validated")],
    ids=["closed_column", "open_column"],
)
def test_a_5mb_cell_touches_only_its_row(column: str, outcome: str, spark, env) -> None:  # type: ignore[no-untyped-def]
    """A 5,000,000-character categorical value: its row is quarantined (a closed set) or accepted
    (an open column), every other row arrives unchanged, and neither process's memory balloons."""
    jvm_pid = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    rows = good_rows()
    huge_row = {**rows[11], column: "x" * HUGE}
    source = [*rows[:11], huge_row, *rows[12:]]
    write_csv(env.batch_file(), source)
    py_before, jvm_before = _rss_bytes(os.getpid()), _rss_bytes(jvm_pid)
    ingest_and_validate(env)
    py_growth = _rss_bytes(os.getpid()) - py_before
    jvm_growth = _rss_bytes(jvm_pid) - jvm_before
    assert py_growth < 256 * 2**20, f"the Python process grew by {py_growth / 2**20:.0f} MiB"
    assert jvm_growth < 1024 * 2**20, f"the JVM grew by {jvm_growth / 2**20:.0f} MiB"
    out = {r[ID]: r for r in validated(spark, env, batch_id())}
    qua = quarantined(spark, env, batch_id())
    by_id = {r[ID]: r for r in rows}
    others = set(by_id) - {huge_row[ID]}
    if outcome == "quarantined":
        (q,) = qua
        assert q["entity_id"] == huge_row[ID]
        assert f"expect_column_values_to_be_in_set({column})" in q["reasons"]
        assert len(row_json(q)[column]) == HUGE, "the raw value is kept whole"
        assert set(out) == others
        message = ", ".join(q["reasons"])
    else:
        assert qua == [] and set(out) == set(by_id)
        assert len(out[huge_row[ID]][column]) == HUGE
        message = "accepted whole"
    for entity in others:
        for name in ("contract", "payment_method", "internet_service", "region"):
            assert out[entity][name] == by_id[entity][name], f"{entity}.{name} changed"
    accounting = account_batch(spark, env, batch_id(), ids(source))
    assert accounting.balanced, accounting
    report(
        f"5mb_cell_{column}",
        accounting,
        f"{message} (RSS growth: python {py_growth / 2**20:.0f} MiB, JVM {jvm_growth / 2**20:.0f} MiB)",
    )


# --- labels outside the target's values --------------------------------------------------------------


def test_training_label_outside_the_target_values_is_quarantined(spark, env) -> None:  # type: ignore[no-untyped-def]
    rows = good_rows(60, id_offset=0)
    rows[8] = {**rows[8], "churned": "maybe"}
    write_csv(env.training_file, rows)
    out = ingest_and_validate(env, mode="training")
    batch = batch_id(mode="training")
    (q,) = quarantined(spark, env, batch)
    assert q["entity_id"] == rows[8][ID] and row_json(q)["churned"] == "maybe"
    assert any("_label" in r or "churned" in r for r in q["reasons"]), q["reasons"]
    assert out["quarantined_rows"] == 1 and out["validated_rows"] == 59
    labels = {r[ID]: r["_label"] for r in validated(spark, env, batch)}
    assert labels == {r[ID]: float(r["churned"]) for r in rows if r["churned"] != "maybe"}
    accounting = account_batch(spark, env, batch, ids(rows))
    assert accounting.balanced, accounting
    report("training_label_unknown", accounting, ", ".join(q["reasons"]))


def test_training_label_outside_the_target_values_names_the_target_column(spark, env) -> None:  # type: ignore[no-untyped-def]
    rows = good_rows(60, id_offset=0)
    rows[8] = {**rows[8], "churned": "maybe"}
    write_csv(env.training_file, rows)
    ingest_and_validate(env, mode="training")
    (q,) = quarantined(spark, env, batch_id(mode="training"))
    assert q["reasons"] == ["expect_column_values_to_be_in_set(churned)"], q["reasons"]


def test_late_label_outside_the_target_values_is_a_bad_row_with_reason(spark, env) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.data.labels import read_labels

    rows = [{ID: r[ID], "churned": r["churned"]} for r in good_rows(40)]
    rows[6] = {**rows[6], "churned": "maybe"}
    path = write_csv(env.labels_file(), rows)
    good, bad = read_labels(spark, env.spec(), str(path), DS)
    good_rows_, bad_rows = good.collect(), bad.collect()
    (b,) = bad_rows
    assert b["entity_id"] == rows[6][ID]
    assert "churned" in b["reason"] and "'maybe'" in b["reason"] and "'1'" in b["reason"], b["reason"]
    assert row_json(b) == rows[6]
    assert {r["entity_id"]: r["label"] for r in good_rows_} == {
        r[ID]: int(r["churned"]) for r in rows if r["churned"] != "maybe"
    }
    accounting = account(ids(rows), [r["entity_id"] for r in good_rows_], [b["entity_id"]])
    assert accounting.balanced, accounting
    report("late_label_unknown", accounting, b["reason"])
