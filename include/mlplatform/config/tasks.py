"""The three kinds of model the platform holds, and what each means for training and judging.

One home for what differs by task: the XGBoost objective and evaluation metric, the primary
metric the gate and the monitor judge by (and which way is better), and the promotion and
retraining fields that apply. Everything else in the lifecycle asks ``task_of(spec)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskName = Literal["binary", "multiclass", "regression"]
TASK_NAMES: tuple[str, ...] = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class Task:
    """What a task type fixes: XGBoost's objective and eval metric, and the metric of record."""

    name: str
    objective: str
    eval_metric: str
    primary_metric: str
    higher_is_better: bool
    classifier: bool
    promotion_fields: tuple[str, ...]

    def better(self, challenger: float, champion: float, margin: float = 0.0) -> bool:
        """Whether ``challenger`` beats ``champion`` by more than ``margin`` (a tie does not)."""
        if self.higher_is_better:
            return challenger - champion > margin
        return champion - challenger > margin

    def improvement(self, challenger: float, champion: float) -> float:
        """How much better the challenger is, positive when better (in the metric's own units)."""
        return challenger - champion if self.higher_is_better else champion - challenger


_CLASSIFICATION_GATES = ("min_auc", "max_logloss", "min_auc_improvement", "require_significant_improvement")

TASKS: dict[str, Task] = {
    "binary": Task(
        "binary",
        "binary:logistic",
        "logloss",
        "auc",
        True,
        True,
        (*_CLASSIFICATION_GATES, "min_pr_auc"),
    ),
    "multiclass": Task(
        "multiclass",
        "multi:softprob",
        "mlogloss",
        "auc",
        True,
        True,
        (*_CLASSIFICATION_GATES, "min_macro_f1"),
    ),
    "regression": Task(
        "regression",
        "reg:squarederror",
        "rmse",
        "rmse",
        False,
        False,
        ("max_rmse", "max_mae", "min_r2", "min_rmse_improvement", "require_significant_improvement"),
    ),
}

# Promotion fields that only some tasks use; every other field applies to all.
TASK_SPECIFIC_PROMOTION_FIELDS = frozenset(f for t in TASKS.values() for f in t.promotion_fields) - {
    "require_significant_improvement"
}


def task_named(name: str) -> Task:
    """The task of that name (``binary``, ``multiclass`` or ``regression``)."""
    return TASKS[name]
