"""Labelled performance per scoring date, in Spark, against scikit-learn on the same rows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from mlplatform.monitoring.performance import performance_by_date


@pytest.mark.spark
def test_performance_by_date_matches_sklearn(spark) -> None:  # type: ignore[no-untyped-def]
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    rng = np.random.default_rng(4)
    rows = []
    truth = {}
    for day, noise in ((date(2026, 11, 2), 0.3), (date(2026, 11, 3), 1.5)):
        for i in range(400):
            label = int(rng.random() < 0.3)
            score = float(1 / (1 + np.exp(-(2 * label - 1 + rng.normal(0, noise)))))
            score = round(score, 2)  # ties, which AUC must count as half
            rid = f"{day.day}-{i}"
            rows.append((day, rid, score, int(score >= 0.5), 1))
            if i % 4:  # a quarter of the predictions never get a label
                truth[rid] = label
    predictions = spark.createDataFrame(
        rows, "score_date date, entity_id string, score double, prediction int, model_version int"
    )
    labels = spark.createDataFrame(list(truth.items()), "entity_id string, label int")
    out = {r["score_date"]: r for r in performance_by_date(predictions, labels, {1: 0.5}).collect()}
    assert set(out) == {date(2026, 11, 2), date(2026, 11, 3)}
    frame = pd.DataFrame(rows, columns=["score_date", "entity_id", "score", "prediction", "model_version"])
    frame["label"] = frame["entity_id"].map(truth)
    for day, r in out.items():
        sub = frame[(frame["score_date"] == day) & frame["label"].notna()]
        assert r["predicted_rows"] == 400 and r["labeled_rows"] == len(sub) == 300
        assert r["auc"] == pytest.approx(roc_auc_score(sub["label"], sub["score"]), abs=1e-9)
        assert r["precision"] == pytest.approx(precision_score(sub["label"], sub["prediction"]))
        assert r["recall"] == pytest.approx(recall_score(sub["label"], sub["prediction"]))
        assert r["threshold"] == 0.5
    assert out[date(2026, 11, 2)]["auc"] > out[date(2026, 11, 3)]["auc"]
