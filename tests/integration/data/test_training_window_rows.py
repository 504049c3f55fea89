"""The training window's rows on real Delta tables: base rows plus labelled scored rows, one row
per entity, labels from the labels table only, and the same set rebuilt as of recorded versions
after more batches and labels arrived."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.spark

VALIDATED = "_batch_id string, _row_id string, customer_id string, tenure_months double, churned string, _label double"
LABELS = "model_name string, entity_id string, label double, label_date date"


def test_rows_as_of_the_plan_survive_later_batches_and_labels(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from mlplatform.config.specs import load_spec
    from mlplatform.data.training_window import plan_window, rows_as_of
    from tests.support import PROJECT_ROOT

    spec = load_spec(PROJECT_ROOT / "include" / "specs" / "churn_demo.yaml")
    spec = spec.model_copy(
        update={
            "training": spec.training.model_copy(
                update={"window": spec.training.window.model_copy(update={"min_labeled_rows": 1})}
            )
        }
    )
    validated_uri, labels_uri = str(tmp_path / "validated"), str(tmp_path / "labels")
    rows = [
        ("train__r1", "train__r1:0", "C1", 3.0, "1", 1.0),
        ("train__r1", "train__r1:1", "C2", 4.0, "0", 0.0),
        ("score__2026-11-02", "score__2026-11-02:0", "C10", 5.0, "1", None),  # file target ignored
        ("score__2026-11-02", "score__2026-11-02:1", "C11", 6.0, None, None),  # never labelled
        ("score__2026-11-02", "score__2026-11-02:2", "C12", 7.0, None, None),  # scored again on 11-03
        ("score__2026-11-03", "score__2026-11-03:0", "C12", 8.0, None, None),
        ("score__2026-11-03", "score__2026-11-03:1", "C13", 9.0, None, None),
    ]
    spark.createDataFrame(rows, VALIDATED).write.format("delta").save(validated_uri)
    labels = [
        ("churn_demo", "C10", 0.0, date(2026, 11, 3)),
        ("churn_demo", "C12", 1.0, date(2026, 11, 4)),
        ("churn_demo", "C13", 0.0, date(2026, 11, 4)),
        ("other_model", "C13", 1.0, date(2026, 11, 4)),
    ]
    spark.createDataFrame(labels, LABELS).write.format("delta").save(labels_uri)
    read = spark.read.format("delta")
    plan = plan_window(
        read.load(validated_uri),
        read.load(labels_uri).where("model_name = 'churn_demo'"),
        spec,
        as_of="2026-11-04",
        base_batch_id="train__r1",
        validated_version=0,
        labels_version=0,
    )
    assert plan.used and plan.labelled_rows == {"2026-11-02": 1, "2026-11-03": 2}
    assert (plan.train_dates, plan.holdout_dates) == (["2026-11-02"], ["2026-11-03"])

    # later: a new batch and new labels, one of them for an entity already in the plan
    more = [("score__2026-11-04", "score__2026-11-04:0", "C11", 1.0, None, None)]
    spark.createDataFrame(more, VALIDATED).write.format("delta").mode("append").save(validated_uri)
    late = [("churn_demo", "C11", 1.0, date(2026, 11, 5)), ("churn_demo", "C10", 1.0, date(2026, 11, 5))]
    spark.createDataFrame(late, LABELS).write.format("delta").mode("append").save(labels_uri)

    got = rows_as_of(spark, spec, plan, validated_uri=validated_uri, labels_uri=labels_uri)
    table = {(r["_row_id"], r["_label"], r["_split"]) for r in got.collect()}
    assert table == {
        ("train__r1:0", 1.0, "train"),
        ("train__r1:1", 0.0, "train"),
        ("score__2026-11-02:0", 0.0, "train"),  # the late label 0, not the file's churned=1
        ("score__2026-11-03:0", 1.0, "holdout"),  # C12 trains once: the row its label answers
        ("score__2026-11-03:1", 0.0, "holdout"),  # C13's label of churn_demo, not other_model's
    }
