"""Late label files: good rows by entity id, every other row rejected with its reason."""

from __future__ import annotations

import pytest

from mlplatform.data.labels import LabelsError, read_labels


@pytest.mark.spark
def test_labels_file_keeps_bad_rows_and_names_missing_columns(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.config.specs import load_spec
    from tests.support import PROJECT_ROOT

    spec = load_spec(PROJECT_ROOT / "include" / "specs" / "churn_demo.yaml")
    good = tmp_path / "labels.csv"
    good.write_text("customer_id,churned\nC1,1\nC2,0\n,1\nC4,\nC5,yes\n")
    ok, bad = read_labels(spark, spec, str(good), "2026-11-03")
    assert sorted((r["entity_id"], r["label"]) for r in ok.collect()) == [("C1", 1), ("C2", 0)]
    rejected = {r["row_json"]: r for r in bad.collect()}
    reasons = sorted(r["reason"] for r in rejected.values())
    assert reasons[:2] == [
        "churned value 'yes' is neither the positive '1' nor a negative '0'",
        "missing churned",
    ]
    assert reasons[2] == "missing customer_id"
    yes = next(r for r in rejected.values() if "yes" in r["reason"])
    assert yes["entity_id"] == "C5" and yes["row_key"].startswith("labels__2026-11-03:")
    assert ok.count() + bad.count() == 5  # nothing dropped silently, nothing turned into a 0
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,outcome\nC1,1\n")
    with pytest.raises(LabelsError, match=r"lacks column\(s\) \['customer_id', 'churned'\]"):
        read_labels(spark, spec, str(wrong), "2026-11-03")
