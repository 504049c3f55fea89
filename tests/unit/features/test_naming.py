"""One-hot feature names: readable, valid for XGBoost and Delta, unique, never the catch-all;
every feature's human label keeps the category's exact text (pure Python)."""

from __future__ import annotations

import re

import pytest

from mlplatform.config.specs import ModelSpec
from mlplatform.features.engineering import _one_hot_names, _output_names
from mlplatform.features.feature_catalog import feature_definitions
from mlplatform.features.naming import OTHER_SUFFIX, escape_value, feature_labels, one_hot_names

XGBOOST_FORBIDDEN = set("[]<")
DELTA_FORBIDDEN = set(" ,;{}()\n\t=")


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("'<0'", "lt_0"),
        ("'<100'", "lt_100"),
        ("'1<=X<4'", "1_le_X_lt_4"),
        ("'>=7'", "ge_7"),
        (">200", "gt_200"),
        ("=1", "eq_1"),
        ("!=0", "ne_0"),
        ("65+", "65_plus"),
        ("-1", "minus_1"),
        ("<-5", "lt_minus_5"),
        ("18-25", "18_25"),
        ("10%", "10_pct"),
        ("1.5", "1_dot_5"),
        ("in store", "in_store"),
        ("app-v2", "app_v2"),
        ("no checking (yet)", "no_checking_yet"),
        ("Müller", "Müller"),
        ("'", "blank"),
    ],
)
def test_symbols_become_words(value: str, name: str) -> None:
    assert escape_value(value) == name


def test_names_are_valid_unique_and_never_the_catch_all() -> None:
    vocab = {
        "status": ["'<0'", "'0<=X<200'", "'>=200'", "other", "OTHER", "Other_", "no checking"],
        "purpose": ["a.b", "a_b", "A_B", "radio/tv", "new car", "'new car'"],
    }
    names = one_hot_names(["status", "purpose"], vocab, taken=["amount", "status__lt_0"])
    flat = [n for col in names.values() for n in col]
    assert len({n.lower() for n in flat} | {"amount", "status__lt_0"}) == len(flat) + 2
    for name in flat:
        assert not set(name) & (XGBOOST_FORBIDDEN | DELTA_FORBIDDEN), name
        assert re.fullmatch(r"\w+", name), name
    assert names["status"][-1] == f"status__{OTHER_SUFFIX}"
    # a real category "other" keeps a name of its own, apart from the catch-all
    assert names["status"][3] == "status__other" and names["status"][4] == "status__OTHER_2"
    assert names["status"][0] == "status__lt_0_2"  # a numeric feature already had that name
    assert names["status"][1:3] == ["status__0_le_X_lt_200", "status__ge_200"]
    # values that meet after escaping are told apart in vocabulary order
    assert names["purpose"][:3] == ["purpose__a_b", "purpose__a_b_2", "purpose__A_B_3"]
    assert names["purpose"][4:6] == ["purpose__new_car", "purpose__new_car_2"]


def _spec(encoding: str, **columns: object) -> ModelSpec:
    return ModelSpec.model_validate(
        {
            "name": "credit",
            "source": {"training": {"path": "a.csv"}, "scoring": {"path": "b.csv"}},
            "columns": {
                "target": "bad",
                "numeric": ["credit_amount"],
                "categorical": ["status"],
                "rename": {"Credit Amount": "credit_amount"},
                **columns,
            },
            "features": {
                "categorical_encoding": encoding,
                "derived": [{"name": "log_amount", "op": "log1p", "inputs": ["credit_amount"]}],
            },
        }
    )


def _state(spec: ModelSpec, vocab: dict[str, list[str]]) -> dict[str, object]:
    state: dict[str, object] = {
        "categorical_encoding": spec.features.categorical_encoding,
        "vocabulary": vocab,
    }
    if spec.features.categorical_encoding == "one_hot":
        state["one_hot"] = _one_hot_names(spec, vocab)
    state["feature_names"] = _output_names(spec, state)
    return state


def test_feature_labels_show_the_exact_category_text() -> None:
    spec = _spec("one_hot")
    state = _state(spec, {"status": ["'<0'", "other", "'>=200'"]})
    assert state["feature_names"] == [
        "credit_amount",
        "log_amount",
        "status__lt_0",
        "status__other",
        "status__ge_200",
        f"status__{OTHER_SUFFIX}",
    ]
    assert feature_labels(state) == {
        "credit_amount": "credit_amount",
        "log_amount": "log_amount",
        "status__lt_0": "status = '<0'",
        "status__other": "status = other",
        "status__ge_200": "status = '>=200'",
        f"status__{OTHER_SUFFIX}": "status = any other value",
    }
    index = _spec("index")
    assert feature_labels(_state(index, {"status": ["'<0'"]}))["status"] == "status (category code)"


def test_an_old_state_still_gets_labels() -> None:
    """A state fitted before escaped names (``status__0``, ``status__other``) keeps its names."""
    old = {
        "format": 2,
        "categorical_encoding": "one_hot",
        "vocabulary": {"status": ["'<0'", "'>=200'"]},
        "one_hot": {"status": ["status__0", "status__200", "status__other"]},
        "feature_names": ["credit_amount", "status__0", "status__200", "status__other"],
    }
    labels = feature_labels(old)
    assert labels["status__0"] == "status = '<0'" and labels["status__other"] == "status = any other value"


def test_catalog_names_source_columns_and_one_hot_categories() -> None:
    spec = _spec("one_hot")
    rows = {r["feature_name"]: r for r in feature_definitions(spec, _state(spec, {"status": ["'<0'"]}))}
    assert rows["credit_amount"]["source_columns"] == ["Credit Amount"]
    assert "source column 'Credit Amount'" in rows["credit_amount"]["definition"]
    assert rows["log_amount"]["source_columns"] == ["Credit Amount"]
    assert rows["status__lt_0"]["kind"] == "one_hot"
    assert rows["status__lt_0"]["definition"].endswith("status = '<0'")
    assert rows[f"status__{OTHER_SUFFIX}"]["source_columns"] == ["status"]
    assert "status__lt_0" not in {r["feature_name"] for r in feature_definitions(spec)}


def test_derived_definitions_show_only_a_chosen_out_of_domain_rule() -> None:
    spec = _spec("index")
    rows = {r["feature_name"]: r for r in feature_definitions(spec)}
    assert rows["log_amount"]["definition"] == "log1p(credit_amount)"
    quarantining = ModelSpec.model_validate(
        {
            **spec.model_dump(),
            "features": {
                "derived": [
                    {
                        "name": "log_amount",
                        "op": "log1p",
                        "inputs": ["credit_amount"],
                        "out_of_domain": "quarantine",
                    }
                ]
            },
        }
    )
    definition = next(r for r in feature_definitions(quarantining) if r["feature_name"] == "log_amount")
    assert definition["definition"] == "log1p(credit_amount, out_of_domain=quarantine)"
