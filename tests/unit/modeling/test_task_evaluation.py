"""Evaluation per task: multiclass and regression metrics agree with scikit-learn, intervals are
sensible, per-class and slice tables add up, and the paired difference is an improvement."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from mlplatform.modeling.evaluation import full_metrics, paired_auc_difference
from mlplatform.modeling.task_evaluation import evaluate_task, paired_difference

CLASSES = ["bronze", "silver", "gold"]


def _multiclass(n: int, seed: int, noise: float = 1.0, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Class indices drawn from a softmax of a signal; probabilities are a noisy softmax of it."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=(n, k))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = (rng.random(n)[:, None] > true.cumsum(axis=1)).sum(axis=1).astype(np.float64)
    noisy = np.exp(logits + rng.normal(scale=noise, size=(n, k)))
    return labels, noisy / noisy.sum(axis=1, keepdims=True)


def _regression(n: int, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    predicted = rng.normal(loc=10.0, scale=3.0, size=n)
    return predicted + rng.normal(scale=noise, size=n), predicted


@pytest.fixture(scope="module")
def mc() -> tuple[np.ndarray, np.ndarray]:
    return _multiclass(6_000, seed=1)


@pytest.fixture(scope="module")
def mc_report(mc) -> dict:  # type: ignore[no-untyped-def]
    labels, probs = mc
    return evaluate_task("multiclass", labels, probs, classes=CLASSES, n_bootstrap=200)


def test_multiclass_point_metrics_equal_scikit_learn(mc, mc_report) -> None:  # type: ignore[no-untyped-def]
    labels, probs = mc
    y, decided = labels.astype(int), probs.argmax(axis=1)
    expected = {
        "auc": skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"),
        "logloss": skm.log_loss(y, probs, labels=[0, 1, 2]),
        "macro_f1": skm.f1_score(y, decided, average="macro"),
        "accuracy": skm.accuracy_score(y, decided),
        "holdout_rows": len(y),
        "classes_present": 3,
    }
    assert mc_report["metrics"] == pytest.approx(expected, rel=1e-9)


def test_multiclass_per_class_and_confusion_matrix(mc, mc_report) -> None:  # type: ignore[no-untyped-def]
    labels, probs = mc
    y, decided = labels.astype(int), probs.argmax(axis=1)
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, decided, labels=[0, 1, 2])
    rows = mc_report["per_class"]
    assert [r["class"] for r in rows] == CLASSES
    for c, row in enumerate(rows):
        assert row["support"] == support[c]
        assert row["auc"] == pytest.approx(skm.roc_auc_score(y == c, probs[:, c]), rel=1e-12)
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((precision[c], recall[c], f1[c]))
    cm = mc_report["confusion_matrix"]
    assert cm["classes"] == CLASSES
    assert cm["matrix"] == skm.confusion_matrix(y, decided, labels=[0, 1, 2]).tolist()
    json.dumps(mc_report, allow_nan=False)


def test_multiclass_intervals_contain_the_estimate_and_narrow_with_rows(mc_report) -> None:  # type: ignore[no-untyped-def]
    small = evaluate_task("multiclass", *_multiclass(400, seed=2), n_bootstrap=200)
    for name in ("auc", "logloss", "macro_f1", "accuracy"):
        ci = mc_report["confidence_intervals"][name]
        assert ci["level"] == 0.95
        assert ci["low"] < mc_report["metrics"][name] < ci["high"], name
        wide = small["confidence_intervals"][name]
        assert wide["high"] - wide["low"] > ci["high"] - ci["low"], name


def test_multiclass_bootstrap_is_seeded(mc) -> None:  # type: ignore[no-untyped-def]
    labels, probs = mc
    a = evaluate_task("multiclass", labels, probs, n_bootstrap=40, seed=5)
    b = evaluate_task("multiclass", labels, probs, n_bootstrap=40, seed=5)
    c = evaluate_task("multiclass", labels, probs, n_bootstrap=40, seed=6)
    assert a == b and a["confidence_intervals"] != c["confidence_intervals"]


def test_multiclass_absent_class_averages_over_present_classes() -> None:
    labels, probs = _multiclass(900, seed=3)
    keep = labels != 2
    y, p = labels[keep], probs[keep]
    out = evaluate_task("multiclass", y, p, classes=CLASSES, n_bootstrap=50)
    expected = np.mean([skm.roc_auc_score(y == c, p[:, c]) for c in (0, 1)])
    assert out["metrics"]["auc"] == pytest.approx(expected)
    assert out["metrics"]["classes_present"] == 2
    assert out["per_class"][2]["support"] == 0 and out["per_class"][2]["auc"] is None
    assert out["metrics"]["macro_f1"] == pytest.approx(skm.f1_score(y, p.argmax(axis=1), average="macro"))


def test_multiclass_one_class_has_no_auc() -> None:
    labels, probs = _multiclass(300, seed=4)
    out = evaluate_task("multiclass", np.zeros(300), probs, n_bootstrap=20)
    assert out["metrics"]["auc"] is None and out["confidence_intervals"]["auc"] is None
    assert out["confidence_intervals"]["accuracy"] is not None
    with pytest.raises(ValueError, match="at least two classes"):
        paired_difference("multiclass", np.zeros(300), probs, probs)


def test_multiclass_slices() -> None:
    labels, probs = _multiclass(1_200, seed=5)
    region = np.array(["north", "south", None] * 400, dtype=object)
    out = evaluate_task("multiclass", labels, probs, n_bootstrap=0, slices={"region": region})
    rows = {r["value"]: r for r in out["slices"]["region"]}
    assert set(rows) == {"north", "south", "<missing>"}
    mask = region == "south"
    y = labels[mask].astype(int)
    assert rows["south"]["rows"] == 400
    assert rows["south"]["auc"] == pytest.approx(
        skm.roc_auc_score(y, probs[mask], multi_class="ovr", average="macro")
    )
    assert rows["south"]["accuracy"] == pytest.approx(skm.accuracy_score(y, probs[mask].argmax(axis=1)))
    assert set(rows["south"]) == {"value", "rows", "auc", "macro_f1", "accuracy", "logloss"}


def test_multiclass_input_checks() -> None:
    labels, probs = _multiclass(50, seed=6)
    with pytest.raises(ValueError, match="class indices"):
        evaluate_task("multiclass", labels + 0.5, probs)
    with pytest.raises(ValueError, match="class indices"):
        evaluate_task("multiclass", np.full(50, 3.0), probs)
    with pytest.raises(ValueError, match="2 class names for 3"):
        evaluate_task("multiclass", labels, probs, classes=["a", "b"])
    with pytest.raises(ValueError, match=r"\(n, k\) matrix"):
        evaluate_task("multiclass", labels, probs[:, 0])


def test_multiclass_paired_difference_sees_a_better_model() -> None:
    labels, sharp = _multiclass(3_000, seed=7, noise=0.3)
    rng = np.random.default_rng(8)
    blurry = sharp + rng.uniform(0, 0.6, size=sharp.shape)
    blurry /= blurry.sum(axis=1, keepdims=True)
    better = paired_difference("multiclass", labels, sharp, blurry, n_bootstrap=300)
    y = labels.astype(int)
    assert better["metric"] == "auc"
    assert better["challenger_auc"] == pytest.approx(skm.roc_auc_score(y, sharp, multi_class="ovr"))
    assert better["champion_auc"] == pytest.approx(skm.roc_auc_score(y, blurry, multi_class="ovr"))
    assert better["difference"] == pytest.approx(better["challenger"] - better["champion"])
    assert 0 < better["low"] < better["difference"] < better["high"]
    worse = paired_difference("multiclass", labels, blurry, sharp, n_bootstrap=300)
    assert worse["high"] < 0
    same = paired_difference("multiclass", labels, sharp, sharp, n_bootstrap=50)
    assert same["difference"] == 0 and same["low"] == 0 and same["high"] == 0


@pytest.fixture(scope="module")
def reg() -> tuple[np.ndarray, np.ndarray]:
    return _regression(5_000, seed=11)


def test_regression_point_metrics_equal_scikit_learn(reg) -> None:  # type: ignore[no-untyped-def]
    labels, predicted = reg
    out = evaluate_task("regression", labels, predicted, n_bootstrap=200)
    expected = {
        "rmse": skm.root_mean_squared_error(labels, predicted),
        "mae": skm.mean_absolute_error(labels, predicted),
        "r2": skm.r2_score(labels, predicted),
        "holdout_rows": len(labels),
        "label_mean": labels.mean(),
    }
    assert out["metrics"] == pytest.approx(expected, rel=1e-9)
    for name in ("rmse", "mae", "r2"):
        ci = out["confidence_intervals"][name]
        assert ci["low"] < out["metrics"][name] < ci["high"], name
    residual = labels - predicted
    summary = out["residuals"]
    assert summary["mean"] == pytest.approx(residual.mean())
    assert summary["quantiles"]["p50"] == pytest.approx(np.median(residual))
    assert summary["quantiles"]["p05"] < summary["quantiles"]["p95"]
    json.dumps(out, allow_nan=False)


def test_regression_r2_interval_matches_a_loop_of_resamples(reg) -> None:  # type: ignore[no-untyped-def]
    """The vectorised weighted R² equals scikit-learn's R² on explicitly resampled rows."""
    from mlplatform.modeling.evaluation import resample_weights

    labels, predicted = reg[0][:300], reg[1][:300]
    weights = next(resample_weights([np.arange(300)], 300, 5, seed=0))
    out = evaluate_task("regression", labels, predicted, n_bootstrap=5, seed=0)
    per_resample = [
        skm.r2_score(np.repeat(labels, w.astype(int)), np.repeat(predicted, w.astype(int))) for w in weights
    ]
    ci = out["confidence_intervals"]["r2"]
    assert ci["low"] == pytest.approx(np.quantile(per_resample, 0.025))
    assert ci["high"] == pytest.approx(np.quantile(per_resample, 0.975))


def test_regression_constant_labels_have_no_r2() -> None:
    out = evaluate_task("regression", np.full(40, 3.0), np.linspace(2, 4, 40), n_bootstrap=20)
    assert out["metrics"]["r2"] is None and out["metrics"]["rmse"] > 0
    assert out["confidence_intervals"]["r2"] == {"low": None, "high": None, "level": 0.95}


def test_regression_slices(reg) -> None:  # type: ignore[no-untyped-def]
    labels, predicted = reg
    tier = np.where(np.arange(len(labels)) % 3 == 0, "a", "b")
    out = evaluate_task("regression", labels, predicted, n_bootstrap=0, slices={"tier": tier})
    row = next(r for r in out["slices"]["tier"] if r["value"] == "a")
    mask = tier == "a"
    assert row["rows"] == mask.sum()
    assert row["rmse"] == pytest.approx(skm.root_mean_squared_error(labels[mask], predicted[mask]))
    assert row["r2"] == pytest.approx(skm.r2_score(labels[mask], predicted[mask]))


def test_regression_paired_difference_is_the_rmse_improvement(reg) -> None:  # type: ignore[no-untyped-def]
    labels, good = reg
    bad = good + np.random.default_rng(12).normal(scale=1.0, size=len(good))
    out = paired_difference("regression", labels, good, bad, n_bootstrap=300)
    assert out["metric"] == "rmse"
    assert out["challenger_rmse"] == pytest.approx(skm.root_mean_squared_error(labels, good))
    assert out["champion_rmse"] == pytest.approx(skm.root_mean_squared_error(labels, bad))
    assert out["difference"] == pytest.approx(out["champion_rmse"] - out["challenger_rmse"])
    assert 0 < out["low"] < out["difference"] < out["high"]
    assert paired_difference("regression", labels, bad, good, n_bootstrap=300)["high"] < 0
    with pytest.raises(ValueError, match="no rows"):
        paired_difference("regression", [], [], [])


def test_binary_is_full_metrics_unchanged() -> None:
    rng = np.random.default_rng(13)
    labels = (rng.random(2_000) < 0.3).astype(np.float64)
    scores = np.clip(labels * 0.3 + rng.random(2_000) * 0.7, 0, 1)
    assert evaluate_task("binary", labels, scores, threshold=0.4, n_bootstrap=50, seed=2) == full_metrics(
        labels, scores, 0.4, n_bootstrap=50, seed=2
    )
    paired = paired_difference("binary", labels, scores, scores**2, n_bootstrap=100)
    base = paired_auc_difference(labels, scores, scores**2, n_bootstrap=100)
    assert {k: paired[k] for k in base} == base
    assert paired["metric"] == "auc" and paired["challenger"] == base["challenger_auc"]


def test_unknown_task_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        evaluate_task("ranking", [0, 1], [0.2, 0.8])
