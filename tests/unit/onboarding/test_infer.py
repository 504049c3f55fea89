"""The onboarding decisions as pure functions of a profile: task, kinds, sentinels, leaks, names."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest
import yaml

from mlplatform.config.specs import load_spec
from mlplatform.onboarding import infer
from mlplatform.onboarding.draft import render, source_template
from mlplatform.onboarding.plan import plan_spec

NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


def column_profile(name: str, values: list[str | None], target: list[str] | None = None) -> dict[str, Any]:
    """What ``profile.collect_profile`` computes for one column, from plain values (no Spark)."""
    import re

    texts = [v.strip() if v is not None and v.strip() else None for v in values]
    present = [v for v in texts if v is not None]
    numbers = [float(v) for v in present if re.match(NUMBER, v)]
    counts = Counter(present)
    by_class: dict[str, dict[str, int]] = defaultdict(dict)
    if target is not None:
        for v, y in zip(texts, target, strict=True):
            if v is not None:
                by_class[v][y] = by_class[v].get(y, 0) + 1
    tokens = Counter(v.lower() for v in present if v.lower() in infer.MISSING_TOKENS)
    return {
        "name": name,
        "spark_type": "string",
        "present": len(present),
        "blank": len(values) - len(present),
        "distinct": len(counts),
        "numeric": len(numbers),
        "integral": sum(1 for x in numbers if x == int(x)),
        "min": min(numbers) if numbers else None,
        "max": max(numbers) if numbers else None,
        "mean": sum(numbers) / len(numbers) if numbers else None,
        "stddev": None,
        "timestamps": 0,
        "tokens": dict(tokens),
        "counts": dict(counts),
        "binned": False,
        "by_class": dict(by_class) if target is not None else None,
    }


def profile_of(columns: dict[str, list[str | None]], target: str) -> dict[str, Any]:
    y = [str(v) for v in columns[target]]
    rows = len(y)
    cols = [column_profile(n, v, y) for n, v in columns.items()]
    distinct = {tuple(r) for r in zip(*columns.values(), strict=True)}
    return {
        "source": {"uri": "/data/x.csv", "format": "csv"},
        "file_rows": rows,
        "rows": rows,
        "duplicate_rows": rows - len(distinct),
        "target": target,
        "columns": cols,
    }


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("customerID", "customer_id"),
        ("MonthlyCharges", "monthly_charges"),
        ("Total Charges", "total_charges"),
        ("SeniorCitizen", "senior_citizen"),
        ("tenure", "tenure"),
        ("HTTPStatus", "http_status"),
        ("2nd-score", "c_2nd_score"),
        ("  weird--name!! ", "weird_name"),
    ],
)
def test_snake_case(name: str, clean: str) -> None:
    assert infer.snake_case(name) == clean


def test_clean_names_never_collide() -> None:
    assert infer.clean_names(["a b", "a_b", "A B"]) == {"a b": "a_b", "a_b": "a_b_2", "A B": "a_b_3"}


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("telco_customer_churn", "telco_customer_churn"),
        ("Bank-Marketing 2024", "bank_marketing_2024"),
        ("2024 sales", "c_2024_sales"),
        ("x", "x_model"),
        ("A" * 80, "a" * 63),
    ],
)
def test_model_name_is_valid(stem: str, name: str) -> None:
    import re

    from mlplatform.config.specs import MODEL_NAME_PATTERN

    assert infer.model_name(stem) == name
    assert re.match(MODEL_NAME_PATTERN, name)


def test_binary_target_prefers_a_conventional_positive_else_the_minority() -> None:
    yes_no = column_profile("churn", ["Yes"] * 7 + ["No"] * 3)
    assert infer.infer_task(yes_no) == ("binary", "Yes", None)
    labels = column_profile("outcome", ["good"] * 7 + ["bad"] * 3)
    assert infer.infer_task(labels) == ("binary", "bad", None)
    ints = column_profile("y", ["0"] * 2 + ["1"] * 8)
    assert infer.infer_task(ints)[:2] == ("binary", "1")


def test_multiclass_needs_few_whole_or_text_values_and_regression_takes_the_rest() -> None:
    classes = column_profile("tier", ["3", "1", "2", "10", "2", "1"])
    assert infer.infer_task(classes) == ("multiclass", None, ["1", "2", "3", "10"])
    floats = column_profile("price", ["1.5", "2.5", "3.25", "1.5", "4.0"])
    assert infer.infer_task(floats)[0] == "regression"
    many = column_profile("amount", [str(i) for i in range(40)])
    assert infer.infer_task(many)[0] == "regression"
    with pytest.raises(ValueError, match="distinct text values"):
        infer.infer_task(column_profile("name", [f"n{i}" for i in range(40)]))
    with pytest.raises(ValueError, match="nothing to learn"):
        infer.infer_task(column_profile("y", ["1", "1"]))


def test_numbers_stored_as_text_with_blanks_are_numeric() -> None:
    total = column_profile("TotalCharges", [" ", "29.85", "1889.5", "", "108.15"] * 20)
    assert infer.kind_of(total, 100) == "numeric"
    words = column_profile("contract", ["One year", "Two year", "Month-to-month"] * 10)
    assert infer.kind_of(words, 30) == "categorical"
    mostly_text = column_profile("code", ["A1", "12", "B7", "C3"] * 10)
    assert infer.kind_of(mostly_text, 40) == "categorical"


def test_numeric_sentinels_far_outside_the_rest() -> None:
    pdays = column_profile("pdays", ["-1"] * 30 + [str(i) for i in range(1, 71)])
    assert infer.numeric_sentinels(pdays, 100) == [("-1", 30)]
    income = column_profile("income", ["999"] * 5 + [str(20 + i % 60) for i in range(95)])
    assert infer.numeric_sentinels(income, 100) == [("999", 5)]
    ordinary = column_profile("balance", [str(i - 10) for i in range(100)])  # negatives are normal here
    assert infer.numeric_sentinels(ordinary, 100) == []
    rare = column_profile("pdays", ["-1"] + [str(i) for i in range(1, 200)])  # 0.5% is not notable
    assert infer.numeric_sentinels(rare, 200) == []


def test_missing_tokens_are_proposed_as_spelt_at_a_notable_share() -> None:
    job = column_profile("job", ["Unknown"] * 3 + ["admin", "technician"] * 48 + ["?"])
    assert infer.missing_tokens(job, 100) == ["?", "Unknown"]
    rare = column_profile("job", ["unknown"] + ["admin"] * 999)
    assert infer.missing_tokens(rare, 1000) == []


def test_id_needs_uniqueness_a_whole_value_and_an_id_name() -> None:
    ids = [f"{i:04d}-ABC" for i in range(100)]
    assert infer.is_id(column_profile("customerID", ids), 100)
    assert infer.is_id(column_profile("account_id", [str(i) for i in range(100)]), 100)
    assert not infer.is_id(column_profile("reference", ids), 100)  # not named like an id
    assert not infer.is_id(column_profile("user_id", ids[:50] * 2), 100)  # repeats
    assert not infer.is_id(column_profile("row_id", [f"{i}.5" for i in range(100)]), 100)  # floats


def test_rank_auc_counts_ties_as_half() -> None:
    assert infer.rank_auc([(0, 5), (5, 0)]) == 1.0
    assert infer.rank_auc([(5, 0), (0, 5)]) == 0.0
    assert infer.rank_auc([(3, 3)]) == 0.5
    assert infer.rank_auc([(0, 4)]) is None


def test_a_column_that_copies_the_target_is_flagged_and_an_honest_one_is_not() -> None:
    y = ["1", "0"] * 50
    leak = column_profile("refund_amount", [str(10 + i) if v == "1" else "0" for i, v in enumerate(y)], y)
    assert infer.leak_score(leak, "numeric", "binary", ["1"]) >= infer.LEAK_THRESHOLD
    status = column_profile("status", ["closed" if v == "1" else "open" for v in y], y)
    assert infer.leak_score(status, "categorical", "binary", ["1"]) == 1.0
    noise = column_profile("age", [str(20 + (i * 7) % 50) for i in range(100)], y)
    assert infer.leak_score(noise, "numeric", "binary", ["1"]) < 0.7
    assert infer.leak_score({"spearman": -0.99}, "numeric", "regression", []) == 0.99


def test_rare_far_values_are_left_out_of_the_range() -> None:
    ages = [str(18 + i % 70) for i in range(2000)] + ["-5", "999", "150"]
    age = column_profile("age", ages)
    assert infer.outliers(age, [], len(ages)) == [("-5", 1), ("999", 1)]
    assert infer.suggested_range(age, [], len(ages)) == (10.0, 200.0, 18.0, 150.0, [("-5", 1), ("999", 1)])
    common = column_profile("age", [str(18 + i % 70) for i in range(100)] + ["999"] * 5)  # 5%: not rare
    assert infer.outliers(common, [], 105) == []
    flag = column_profile("senior", ["0", "1"] * 50)
    assert infer.suggested_range(flag, [], 100)[:2] == (0.0, 1.0)
    calls = column_profile("support_calls", [str(i % 8) for i in range(100)])
    assert infer.suggested_range(calls, [], 100)[:2] == (0.0, 8.0)  # 7 is round: one step of headroom


def test_ranges_round_outward() -> None:
    assert infer.round_out(18.25, 118.75) == (10.0, 200.0)
    assert infer.round_out(0, 72) == (0.0, 80.0)
    assert infer.round_out(-5.5, -0.2) == (-6.0, -0.2)
    assert infer.round_out(0, 1) == (0.0, 1.0)


def _tiny_data() -> dict[str, list[str | None]]:
    n = 200
    y = ["Yes" if i % 4 == 0 else "No" for i in range(n)]
    return {
        "customerID": [f"C{i:05d}" for i in range(n)],
        "TotalCharges": [" " if i % 50 == 0 else f"{20 + (i * 37) % 900}.5" for i in range(n)],
        "Contract": [["Month-to-month", "One year", "Two year"][i % 3] for i in range(n)],
        "pdays": ["-1" if i % 3 == 0 else str(1 + i % 30) for i in range(n)],
        "Churn Flag Copy": ["1" if v == "Yes" else "0" for v in y],
        "Churn": y,
    }


def test_plan_of_a_small_table() -> None:
    plan = plan_spec(profile_of(_tiny_data(), "Churn"), "Telco Sample")
    assert (plan.name, plan.task, plan.target, plan.positive) == ("telco_sample", "binary", "churn", "Yes")
    assert plan.id == "customer_id"
    assert plan.numeric == ["total_charges", "pdays"] and plan.categorical == ["contract"]
    assert plan.missing_values == {"pdays": ["-1"]}
    assert [name for name, _ in plan.excluded] == ["Churn Flag Copy (churn_flag_copy)"]
    assert "AUC 1.000" in plan.excluded[0][1]
    assert plan.rename["customerID"] == "customer_id" and "Churn Flag Copy" not in plan.rename
    assert plan.ranges["pdays"][:2] == (2.0, 40.0)  # the sentinel -1 is not part of the range; 30 is round
    assert plan.duplicate_keys is None  # an id, so no content keys


def test_the_draft_loads_as_a_spec(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = _tiny_data()
    del data["customerID"]
    data["Contract"] = [v if i % 2 else "One year" for i, v in enumerate(data["Contract"])]
    data["TotalCharges"] = ["100.5"] * 200  # constant: left out
    plan = plan_spec(profile_of(data, "Churn"), "no id here")
    assert plan.id is None and plan.duplicate_rows > 0 and plan.duplicate_keys == "keep"
    path, note = source_template("/elsewhere/x.csv", datasets_dir=str(tmp_path), storage_root="/lake")
    assert note and "REVIEW" in note and path == "/elsewhere/x.csv"
    text = render(plan, training_path=path, path_note=note, fmt="csv", data_path="x.csv", spec_path="s.yaml")
    (tmp_path / f"{plan.name}.yaml").write_text(text)
    spec = load_spec(tmp_path / f"{plan.name}.yaml")
    assert spec.columns.id is None and spec.validation.duplicate_keys == "keep"
    assert spec.columns.missing_values == {"pdays": ["-1"]}
    assert "# REVIEW" in text and "rows get" not in text or "content" in text
    assert yaml.safe_load(text)["columns"]["target_positive"] == "Yes"


def test_paths_under_the_roots_use_placeholders(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "datasets" / "sub" / "file.csv"
    data.parent.mkdir(parents=True)
    data.write_text("a\n")
    got = source_template(str(data), datasets_dir=str(tmp_path / "datasets"), storage_root="/lake")
    assert got == ("{datasets_dir}/sub/file.csv", None)
    lake = tmp_path / "lake" / "landing" / "f.csv"
    lake.parent.mkdir(parents=True)
    got = source_template(str(lake), datasets_dir="/nowhere", storage_root=str(tmp_path / "lake"))
    assert got == ("{storage_root}/landing/f.csv", None)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_drafts_of_other_tasks_load_with_their_own_gates(tmp_path, task: str) -> None:  # type: ignore[no-untyped-def]
    n = 300
    data: dict[str, list[str | None]] = {
        "ticket_id": [str(1000 + i) for i in range(n)],
        "priority": [["low", "mid", "high"][i % 3] for i in range(n)],
        "words": [str(5 + (i * 13) % 90) for i in range(n)],
    }
    if task == "multiclass":
        data["team"] = [["billing", "network", "sales", "support"][(i * 7) % 4] for i in range(n)]
        target = "team"
    else:
        data["hours"] = [f"{(i * 17) % 50 + 0.25:.2f}" for i in range(n)]
        target = "hours"
    profile = profile_of(data, target)
    profile["columns"][-1]["stddev"] = 14.4
    plan = plan_spec(profile, f"{task}_draft")
    assert plan.task == task and plan.id == "ticket_id"
    text = render(
        plan, training_path="{datasets_dir}/x.csv", path_note=None, fmt="csv", data_path="x", spec_path="s"
    )
    (tmp_path / f"{plan.name}.yaml").write_text(text)
    spec = load_spec(tmp_path / f"{plan.name}.yaml")
    if task == "multiclass":
        assert spec.columns.classes == ["billing", "network", "sales", "support"]
        assert spec.promotion.min_macro_f1 == 0.25 and spec.promotion.min_auc == 0.65
    else:
        assert spec.promotion.max_rmse == 14.4 and spec.promotion.min_r2 == 0.0
        assert "target_positive" not in text
