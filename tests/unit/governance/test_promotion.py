"""The promotion gate's rules: thresholds, data quality, the champion comparison, the approval."""

from __future__ import annotations

from typing import Any

import pytest

from mlplatform.config.specs import PromotionSpec
from mlplatform.governance.promotion import (
    Approval,
    champion_comparison_check,
    decide_promotion,
    differs_from_champion_check,
    parse_approval,
    promotion_outcome,
    training_quality_check,
)

GATES = PromotionSpec(min_auc=0.7, min_pr_auc=0.3, max_logloss=0.65, min_auc_improvement=0.01)
GOOD = {"auc": 0.8, "pr_auc": 0.5, "logloss": 0.4}


def _by_check(checks: list[dict[str, Any]]) -> dict[str, bool]:
    return {c["check"]: c["passed"] for c in checks}


# --- decide_promotion ------------------------------------------------------------------------------


def test_first_model_passing_all_thresholds_is_promoted() -> None:
    promoted, checks = decide_promotion(GOOD, GATES, None)
    assert promoted is True
    assert _by_check(checks) == {"min_auc": True, "min_pr_auc": True, "max_logloss": True}
    auc = next(c for c in checks if c["check"] == "min_auc")
    assert (auc["value"], auc["threshold"]) == (0.8, 0.7)


@pytest.mark.parametrize(
    ("override", "failing"),
    [({"auc": 0.69}, "min_auc"), ({"pr_auc": 0.29}, "min_pr_auc"), ({"logloss": 0.66}, "max_logloss")],
)
def test_each_threshold_can_fail_alone(override: dict[str, float], failing: str) -> None:
    promoted, checks = decide_promotion({**GOOD, **override}, GATES, None)
    assert promoted is False
    assert [name for name, ok in _by_check(checks).items() if not ok] == [failing]


def test_thresholds_are_inclusive() -> None:
    promoted, _ = decide_promotion({"auc": 0.7, "pr_auc": 0.3, "logloss": 0.65}, GATES, None)
    assert promoted is True


def test_challenger_must_beat_recorded_champion_auc_by_margin() -> None:
    promoted, checks = decide_promotion(GOOD, GATES, {"auc": 0.795, "pr_auc": 0.5, "logloss": 0.4})
    assert promoted is False
    beat = checks[-1]
    assert (beat["check"], beat["passed"], beat["value"]) == ("beats_champion_auc", False, 0.8)
    assert beat["threshold"] == pytest.approx(0.805)
    promoted, checks = decide_promotion(GOOD, GATES, {"auc": 0.785, "pr_auc": 0.5, "logloss": 0.4})
    assert promoted is True
    assert _by_check(checks)["beats_champion_auc"] is True


def test_a_tie_with_the_champion_does_not_promote() -> None:
    """With no margin, a challenger exactly as good as the champion is not an improvement."""
    no_margin = GATES.model_copy(update={"min_auc_improvement": 0.0})
    promoted, checks = decide_promotion(GOOD, no_margin, {"auc": GOOD["auc"]})
    assert promoted is False and _by_check(checks)["beats_champion_auc"] is False
    diff = {
        "metric": "auc",
        "difference": 0.0,
        "low": -0.01,
        "high": 0.01,
        "challenger": 0.8,
        "champion": 0.8,
        "level": 0.95,
    }
    assert champion_comparison_check(diff, no_margin, 1, 100)["passed"] is False
    assert champion_comparison_check({**diff, "difference": 1e-9}, no_margin, 1, 100)["passed"] is True


def test_a_byte_identical_booster_is_not_promoted_and_says_why() -> None:
    same = differs_from_champion_check("ab" * 32, "ab" * 32, 3)
    assert same["passed"] is False and "identical to champion v3" in same["note"]
    assert differs_from_champion_check("ab" * 32, "cd" * 32, 3)["passed"] is True


def test_beating_champion_does_not_excuse_a_failed_threshold() -> None:
    promoted, checks = decide_promotion({**GOOD, "logloss": 0.9}, GATES, {"auc": 0.5})
    assert promoted is False
    assert _by_check(checks) == {
        "min_auc": True,
        "min_pr_auc": True,
        "max_logloss": False,
        "beats_champion_auc": True,
    }


# --- training_quality_check ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_share", "table_failures", "passed"),
    [(0.0, 0, True), (0.05, 0, True), (0.0501, 0, False), (0.0, 1, False)],
)
def test_training_quality_check(bad_share: float, table_failures: int, passed: bool) -> None:
    assert training_quality_check(bad_share, table_failures, 0.05) == {
        "check": "training_data_quality",
        "value": bad_share,
        "threshold": 0.05,
        "passed": passed,
    }


# --- champion_comparison_check ---------------------------------------------------------------------


def _diff(difference: float, low: float) -> dict[str, Any]:
    return {
        "metric": "auc",
        "challenger": 0.8,
        "champion": 0.8 - difference,
        "difference": difference,
        "low": low,
        "high": difference + 0.02,
        "level": 0.95,
        "n_bootstrap": 300,
    }


def test_champion_comparison_records_the_paired_difference() -> None:
    check = champion_comparison_check(_diff(0.03, 0.005), GATES, champion_version=4, same_rows=250)
    assert check == {
        "check": "beats_champion_auc",
        "metric": "auc",
        "value": 0.03,
        "threshold": 0.01,
        "passed": True,
        "champion_version": 4,
        "challenger_auc": 0.8,
        "champion_auc": pytest.approx(0.77),
        "interval": [0.005, 0.05],
        "level": 0.95,
        "same_holdout_rows": 250,
    }


@pytest.mark.parametrize(
    ("difference", "low", "passed"),
    [(0.0101, -0.2, True), (0.01, 0.5, False)],  # the point estimate decides; a tie at the margin fails
)
def test_champion_comparison_on_the_difference(difference: float, low: float, passed: bool) -> None:
    assert champion_comparison_check(_diff(difference, low), GATES, 1, 100)["passed"] is passed


@pytest.mark.parametrize(
    ("difference", "low", "passed"),
    [(0.05, 0.0101, True), (0.05, 0.01, False), (0.5, -0.01, False)],  # the interval's low end, strictly
)
def test_champion_comparison_requiring_significance(difference: float, low: float, passed: bool) -> None:
    rules = GATES.model_copy(update={"require_significant_improvement": True})
    assert champion_comparison_check(_diff(difference, low), rules, 1, 100)["passed"] is passed


# --- parse_approval and promotion_outcome ----------------------------------------------------------


def _response(option: str, user: Any = None, comment: str | None = None) -> dict[str, Any]:
    return {"chosen_options": [option], "responded_by_user": user, "params_input": {"comment": comment}}


@pytest.mark.parametrize(
    ("approval", "require", "gate_passed", "expected"),
    [
        (None, False, True, Approval("not_required", None, None)),
        (_response("Approve"), False, False, Approval("not_required", None, None)),
        (_response("Approve"), True, False, Approval("not_requested", None, None)),
        (None, True, True, Approval("missing", None, None)),
        (
            _response("Approve", {"id": "7", "name": "alice"}, "looks good"),
            True,
            True,
            Approval("approved", "alice", "looks good"),
        ),
        (_response("approve it", {"id": "7"}), True, True, Approval("approved", "7", None)),
        (
            _response("Reject", "bob", "worse on segment B"),
            True,
            True,
            Approval("rejected", "bob", "worse on segment B"),
        ),
        ({"chosen_options": []}, True, True, Approval("rejected", None, None)),
        ({}, True, True, Approval("rejected", None, None)),
    ],
)
def test_parse_approval(
    approval: dict[str, Any] | None, require: bool, gate_passed: bool, expected: Approval
) -> None:
    assert parse_approval(approval, require_approval=require, gate_passed=gate_passed) == expected


@pytest.mark.parametrize(
    ("gate_passed", "approval", "expected"),
    [
        (True, Approval("not_required", None, None), (True, "all checks passed")),
        (False, Approval("not_required", None, None), (False, "all checks passed")),
        (False, Approval("not_requested", None, None), (False, "all checks passed")),
        (True, Approval("missing", None, None), (False, "all checks passed; approval missing")),
        (True, Approval("approved", "alice", "ok"), (True, "all checks passed; approval approved by alice")),
        (True, Approval("rejected", "bob", None), (False, "all checks passed; approval rejected by bob")),
        (True, Approval("approved", None, None), (True, "all checks passed; approval approved")),
    ],
)
def test_promotion_outcome(gate_passed: bool, approval: Approval, expected: tuple[bool, str]) -> None:
    assert promotion_outcome(gate_passed, "all checks passed", approval) == expected


# --- other task types ------------------------------------------------------------------------------


def test_regression_gates_on_r2_by_default_and_rmse_mae_when_set() -> None:
    rules = PromotionSpec(max_rmse=10.0)
    promoted, checks = decide_promotion({"rmse": 9.0, "mae": 7.0, "r2": 0.4}, rules, None, "regression")
    assert promoted is True and _by_check(checks) == {"min_r2": True, "max_rmse": True}
    worse_than_mean = decide_promotion({"rmse": 9.0, "mae": 7.0, "r2": -0.1}, rules, None, "regression")
    assert worse_than_mean[0] is False
    too_far = decide_promotion({"rmse": 10.5, "mae": 7.0, "r2": 0.4}, rules, None, "regression")
    assert _by_check(too_far[1])["max_rmse"] is False


def test_regression_beats_the_champion_on_lower_rmse() -> None:
    rules = PromotionSpec(min_rmse_improvement=0.5)
    lower = decide_promotion({"rmse": 8.0, "r2": 0.5}, rules, {"rmse": 8.6}, "regression")[1][-1]
    assert lower["check"] == "beats_champion_rmse" and lower["passed"] is True and lower["threshold"] == 8.1
    by_less = decide_promotion({"rmse": 8.2, "r2": 0.5}, rules, {"rmse": 8.6}, "regression")[1][-1]
    assert by_less["passed"] is False
    diff = {
        "metric": "rmse",
        "challenger": 8.0,
        "champion": 8.6,
        "difference": 0.6,
        "low": 0.1,
        "high": 0.9,
        "level": 0.95,
    }
    check = champion_comparison_check(diff, rules, 2, 300, "regression")
    assert check["passed"] is True and check["challenger_rmse"] == 8.0 and check["champion_rmse"] == 8.6


def test_multiclass_gates_on_macro_auc_f1_and_logloss_and_an_undefined_auc_fails() -> None:
    rules = PromotionSpec(min_auc=0.7, min_macro_f1=0.4, max_logloss=1.0)
    promoted, checks = decide_promotion(
        {"auc": 0.8, "macro_f1": 0.5, "logloss": 0.9}, rules, None, "multiclass"
    )
    assert promoted is True and set(_by_check(checks)) == {"min_auc", "min_macro_f1", "max_logloss"}
    undefined = decide_promotion({"auc": None, "macro_f1": 0.5, "logloss": 0.9}, rules, None, "multiclass")
    assert undefined[0] is False and undefined[1][0]["note"] == "undefined on this holdout"
