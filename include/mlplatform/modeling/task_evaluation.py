"""Holdout evaluation and the champion/challenger comparison for every task type, in one call.

``evaluate_task`` picks the task's evaluation (binary: ``evaluation.full_metrics``, unchanged;
multiclass: ``evaluation_multiclass``; regression: ``evaluation_regression``), and
``paired_difference`` the paired bootstrap of the task's primary metric (``config.tasks``),
always reported as the improvement: positive means the challenger is better.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplatform.config.tasks import TASK_NAMES
from mlplatform.modeling.evaluation import full_metrics, paired_auc_difference
from mlplatform.modeling.evaluation_multiclass import multiclass_metrics, paired_macro_auc_difference
from mlplatform.modeling.evaluation_regression import paired_rmse_difference, regression_metrics


def _check_task(task: str) -> None:
    if task not in TASK_NAMES:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASK_NAMES)}")


def evaluate_task(
    task: str,
    labels: Any,
    predictions: Any,
    *,
    threshold: float = 0.5,
    classes: list[str] | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
    slices: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The holdout evaluation report of a ``task`` model (JSON-serialisable, None where undefined).

    ``predictions``: binary, positive-class probabilities; multiclass, the (n, k) probability
    matrix (labels are class indices, ``classes`` their names); regression, predicted values.
    ``threshold`` applies to binary models only, ``classes`` to multiclass only.
    """
    _check_task(task)
    if task == "binary":
        return full_metrics(labels, predictions, threshold, n_bootstrap=n_bootstrap, seed=seed, slices=slices)
    if task == "multiclass":
        return multiclass_metrics(
            labels, predictions, classes=classes, n_bootstrap=n_bootstrap, seed=seed, slices=slices
        )
    return regression_metrics(labels, predictions, n_bootstrap=n_bootstrap, seed=seed, slices=slices)


def paired_difference(
    task: str,
    labels: Any,
    challenger: Any,
    champion: Any,
    *,
    n_bootstrap: int = 500,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Improvement of the challenger over the champion in the task's primary metric, scored on the
    same rows, with a paired bootstrap interval.

    Returns ``metric`` (``auc`` or ``rmse``), ``challenger``, ``champion``, ``difference`` (AUC:
    challenger - champion; RMSE: champion - challenger), ``low``/``high``, ``level`` and
    ``n_bootstrap``, plus ``challenger_auc``/``champion_auc`` (classifiers) or
    ``challenger_rmse``/``champion_rmse`` (regression). ValueError when the metric is undefined
    (one class only, no rows).
    """
    _check_task(task)
    kwargs = {"n_bootstrap": n_bootstrap, "seed": seed, "level": level}
    if task == "binary":
        out = paired_auc_difference(labels, challenger, champion, **kwargs)
        return {"metric": "auc", "challenger": out["challenger_auc"], "champion": out["champion_auc"], **out}
    if task == "multiclass":
        return paired_macro_auc_difference(labels, challenger, champion, **kwargs)
    return paired_rmse_difference(labels, challenger, champion, **kwargs)
