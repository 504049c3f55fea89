"""The training window's decisions: which labelled scoring dates train and which are the recent
holdout, and when the window is not used (pure Python)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlplatform.config.spec_sections import TrainingWindow
from mlplatform.data.training_window import choose_holdout_dates, decide_window, window_start

COUNTS = {"2026-11-02": 1000, "2026-11-03": 1100, "2026-11-04": 900}


def test_the_most_recent_days_are_the_holdout() -> None:
    window = TrainingWindow(days=30, min_labeled_rows=100)
    assert window.holdout_days == 1
    used, reason, train, holdout = decide_window(COUNTS, window)
    assert used and holdout == ["2026-11-04"] and train == ["2026-11-02", "2026-11-03"]
    assert "2100 rows" in reason and "900 rows" in reason
    two = TrainingWindow(days=30, min_labeled_rows=100, holdout_days=2)
    assert choose_holdout_dates(COUNTS, two) == ["2026-11-03", "2026-11-04"]


def test_a_share_takes_recent_dates_until_it_holds_that_share_of_rows() -> None:
    assert choose_holdout_dates(COUNTS, TrainingWindow(days=30, holdout_share=0.25)) == ["2026-11-04"]
    assert choose_holdout_dates(COUNTS, TrainingWindow(days=30, holdout_share=0.31)) == [
        "2026-11-03",
        "2026-11-04",
    ]


def test_dates_without_labelled_rows_are_neither_train_nor_holdout() -> None:
    counts = {**COUNTS, "2026-11-05": 0}
    used, _, train, holdout = decide_window(counts, TrainingWindow(days=30, min_labeled_rows=100))
    assert used and holdout == ["2026-11-04"] and "2026-11-05" not in train


def test_too_few_labelled_rows_leave_the_window_unused_and_name_the_field() -> None:
    used, reason, train, holdout = decide_window(COUNTS, TrainingWindow(days=30, min_labeled_rows=5000))
    assert not used and (train, holdout) == ([], [])
    assert "3000 labelled scored rows" in reason and "training.window.min_labeled_rows (5000)" in reason


def test_without_the_base_source_one_labelled_date_cannot_both_train_and_judge() -> None:
    window = TrainingWindow(days=30, min_labeled_rows=10, include_base=False)
    used, reason, _, _ = decide_window({"2026-11-02": 500}, window)
    assert not used and "include_base is off" in reason
    assert decide_window(COUNTS, window)[0]


def test_the_window_ends_on_the_logical_date() -> None:
    assert window_start("2026-11-04", 1) == "2026-11-04"
    assert window_start("2026-11-04", 90) == "2026-08-07"


def test_holdout_days_and_share_exclude_each_other() -> None:
    with pytest.raises(ValidationError, match="holdout_days' or 'holdout_share', not both"):
        TrainingWindow(days=30, holdout_days=1, holdout_share=0.2)
    with pytest.raises(ValidationError, match="days"):
        TrainingWindow(days=0)
