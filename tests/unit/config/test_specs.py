"""Model specs: the demo spec loads; every invalid spec names its file and the offending field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform.config.specs import ModelSpec, SpecError, load_spec, load_specs, spec_path

SPEC_DIR = Path(__file__).resolve().parents[3] / "include" / "specs"
DEMO = SPEC_DIR / "churn_demo.yaml"


@pytest.fixture(scope="module")
def demo_raw() -> dict[str, Any]:
    return yaml.safe_load(DEMO.read_text())


def _write(tmp_path: Path, raw: Any, name: str = "churn_demo") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
    return path


def _error(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert str(path) in message, f"error does not name the file: {message}"
    return message


def test_demo_spec_loads() -> None:
    """The shipped spec loads, is found by its name, and its columns have one role each."""
    spec = load_spec(DEMO)
    assert load_specs(SPEC_DIR)["churn_demo"] == spec
    cols = spec.columns
    roles = [cols.id, cols.target, *cols.numeric, *cols.categorical]
    assert len(roles) == len(set(roles))
    assert cols.raw_columns[0] == cols.id and cols.raw_columns[-1] == cols.target
    for name, bounds in spec.validation.ranges.items():
        assert name in cols.numeric and (bounds.min is None or bounds.max is None or bounds.min < bounds.max)


def test_model_features_order(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, demo_raw))
    assert spec.model_features == [
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
        "age",
        "log_total_charges",
        "charges_per_tenure",
        "support_calls_capped",
        "contract",
        "payment_method",
        "internet_service",
        "region",
    ]
    assert spec.derived_names == ["log_total_charges", "charges_per_tenure", "support_calls_capped"]


def test_content_hash_stable_and_sensitive(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    a = load_spec(_write(tmp_path, demo_raw))
    b = ModelSpec.model_validate(copy.deepcopy(demo_raw))
    assert a.content_hash == b.content_hash == load_spec(DEMO).content_hash
    assert len(a.content_hash) == 64
    changed = copy.deepcopy(demo_raw)
    changed["training"]["params"]["max_depth"] = 6
    other = tmp_path / "other"
    other.mkdir()
    assert load_spec(_write(other, changed)).content_hash != a.content_hash


def test_unknown_key_names_the_field(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(demo_raw)
    raw["training"]["paramz"] = {"max_depth": 3}
    message = _error(_write(tmp_path, raw))
    assert "training.paramz" in message
    assert "extra" in message.lower()


def test_unknown_top_level_key(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = {**copy.deepcopy(demo_raw), "colums": {}}
    assert "'colums'" in _error(_write(tmp_path, raw))


def test_wrong_type_names_the_field(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(demo_raw)
    raw["training"]["holdout_fraction"] = "a fifth"
    assert "training.holdout_fraction" in _error(_write(tmp_path, raw))


def test_out_of_bounds_value_names_the_field(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(demo_raw)
    raw["validation"]["max_bad_row_fraction"] = 1.5
    assert "validation.max_bad_row_fraction" in _error(_write(tmp_path, raw))


def test_range_on_non_numeric_column(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(demo_raw)
    raw["validation"]["ranges"]["contract"] = {"min": 0}
    message = _error(_write(tmp_path, raw))
    assert "validation.ranges" in message
    assert "'contract'" in message


def test_rule_on_undeclared_column(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(demo_raw)
    raw["validation"]["required"].append("postcode")
    message = _error(_write(tmp_path, raw))
    assert "validation.required" in message and "'postcode'" in message


def test_derived_feature_with_unknown_input(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(demo_raw)
    raw["features"]["derived"].append({"name": "log_income", "op": "log1p", "inputs": ["income"]})
    message = _error(_write(tmp_path, raw))
    assert "features.derived[3]" in message
    assert "'income'" in message


def test_derived_feature_may_use_earlier_derived(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(demo_raw)
    raw["features"]["derived"].append(
        {"name": "capped_ratio", "op": "clip", "inputs": ["charges_per_tenure"], "upper": 100}
    )
    spec = load_spec(_write(tmp_path, raw))
    assert spec.model_features[5:9] == [
        "log_total_charges",
        "charges_per_tenure",
        "support_calls_capped",
        "capped_ratio",
    ]


def test_derived_feature_wrong_arity(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(demo_raw)
    raw["features"]["derived"][1]["inputs"] = ["total_charges"]
    message = _error(_write(tmp_path, raw))
    assert "features.derived.1" in message
    assert "ratio" in message


def test_column_with_two_roles(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(demo_raw)
    raw["columns"]["categorical"].append("age")
    message = _error(_write(tmp_path, raw))
    assert "columns" in message and "'age'" in message


def test_name_file_mismatch(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    path = _write(tmp_path, demo_raw, name="churn_other")
    message = _error(path)
    assert "field 'name'" in message
    assert "churn_demo" in message and "churn_other.yaml" in message


def test_bad_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: churn_demo\ncolumns: [unclosed\n")
    assert "not valid YAML" in _error(path)


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    assert "mapping" in _error(_write(tmp_path, "- just\n- a list\n"))


def test_missing_file(tmp_path: Path) -> None:
    assert "does not exist" in _error(tmp_path / "churn_demo.yaml")


def test_spec_path_rejects_bad_model_names(tmp_path: Path) -> None:
    assert spec_path(tmp_path, "churn_demo") == tmp_path / "churn_demo.yaml"
    for bad in ("../etc/passwd", "Churn", "x", ""):
        with pytest.raises(SpecError):
            spec_path(tmp_path, bad)


def test_monitoring_sections_load_with_documented_defaults(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    spec = load_spec(DEMO)
    assert spec.labels is not None and "{ds}" in spec.labels.source.path
    assert spec.retraining.consecutive_runs == 3 and spec.retraining.max_share_drifted == 0.3
    raw = {
        k: v
        for k, v in copy.deepcopy(demo_raw).items()
        if k not in ("drift", "retraining", "alerts", "labels")
    }
    raw["training"] = {k: v for k, v in raw["training"].items() if k != "window"}
    bare = load_spec(_write(tmp_path, raw))
    assert (bare.drift.wasserstein_threshold, bare.drift.jensenshannon_threshold) == (0.1, 0.1)
    assert bare.drift.small_sample_rows == 1000 and bare.retraining.max_share_drifted == 0.5
    assert bare.labels is None and bare.alerts.webhook_conn_ids == [] and "drift" in bare.alerts.events
    assert bare.training.window is None and bare.retraining.require_new_labels is True


def test_a_training_window_needs_late_labels(demo_raw: dict[str, Any], tmp_path: Path) -> None:
    spec = load_spec(DEMO)
    assert spec.training.window is not None and spec.training.window.holdout_days == 1
    raw = copy.deepcopy(demo_raw)
    del raw["labels"]
    message = _error(_write(tmp_path, raw))
    assert "training.window" in message and "needs a 'labels' section" in message
    raw = copy.deepcopy(demo_raw)
    raw["training"]["window"] = {"days": 30, "holdout_days": 2, "holdout_share": 0.2}
    assert "not both" in _error(_write(tmp_path, raw))
    raw["training"]["window"] = {"days": 30, "holdout_weeks": 2}
    assert "field 'training.window.holdout_weeks'" in _error(_write(tmp_path, raw))


@pytest.mark.parametrize(
    ("section", "value", "field"),
    [
        ("alerts", {"webhook_conn_ids": ["https://example.com/hook"]}, "alerts.webhook_conn_ids"),
        ("alerts", {"events": ["drift", "sunshine"]}, "alerts.events.1"),
        ("retraining", {"consecutive_runs": 0}, "retraining.consecutive_runs"),
        ("drift", {"numeric_stattest": "anderson"}, "drift.numeric_stattest"),
        ("labels", {"lookback_days": 30}, "labels.source"),
    ],
)
def test_monitoring_errors_name_the_field(
    demo_raw: dict[str, Any], tmp_path: Path, section: str, value: dict[str, Any], field: str
) -> None:
    raw = copy.deepcopy(demo_raw)
    raw[section] = value
    assert f"field '{field}'" in _error(_write(tmp_path, raw))


def test_shipped_json_schema_is_the_models_and_accepts_the_specs() -> None:
    """Editors validate specs against ``model_spec.schema.json``: it must be current and agree."""
    import json

    import jsonschema
    import yaml

    from mlplatform.config.specs import spec_json_schema

    shipped = (SPEC_DIR / "model_spec.schema.json").read_text()
    assert shipped == spec_json_schema(), "stale schema: run `mlplatform spec-schema --output ...`"
    schema = json.loads(shipped)

    def as_editor_sees(path: Path) -> Any:  # YAML dates stay strings in an editor
        return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))

    for path in SPEC_DIR.glob("*.yaml"):
        jsonschema.validate(as_editor_sees(path), schema)
    raw = as_editor_sees(DEMO)
    raw["validation"]["max_bad_row_fracton"] = 0.1
    with pytest.raises(jsonschema.ValidationError, match="max_bad_row_fracton"):
        jsonschema.validate(raw, schema)


# --- task types ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "edit", "field"),
    [
        ("multiclass", {}, "columns.classes: a multiclass model lists its classes"),
        ("binary", {"columns": {"classes": ["a", "b"]}}, "columns.classes: only a multiclass model"),
        (
            "regression",
            {"columns": {"target_positive": "yes"}},
            "columns.target_positive: only a binary model",
        ),
        (
            "regression",
            {"training": {"decision_threshold": 0.3}},
            "training.decision_threshold: applies to binary",
        ),
        ("regression", {"promotion": {"min_auc": 0.8}}, "promotion.min_auc: does not apply to a regression"),
        ("binary", {"promotion": {"max_rmse": 3.0}}, "promotion.max_rmse: does not apply to a binary"),
        (
            "multiclass",
            {"promotion": {"min_pr_auc": 0.3}, "columns": {"classes": ["a", "b", "c"]}},
            "promotion.min_pr_auc",
        ),
        (
            "binary",
            {"retraining": {"max_rmse_increase": 0.3}},
            "retraining.max_rmse_increase: does not apply",
        ),
    ],
)
def test_a_field_of_another_task_type_is_refused_by_name(
    tmp_path: Path, demo_raw: dict[str, Any], task: str, edit: dict[str, Any], field: str
) -> None:
    raw = copy.deepcopy(demo_raw)
    raw["task"] = task
    raw["columns"].pop("target_positive", None)
    raw["validation"]["allowed_values"].pop("churned", None)
    raw["promotion"] = {}
    raw["retraining"] = {}
    for section, values in edit.items():
        raw[section] = {**raw.get(section, {}), **values}
    assert field in _error(_write(tmp_path, raw))


def test_the_shipped_task_demos_load_with_their_task() -> None:
    specs = load_specs(SPEC_DIR)
    assert specs["ticket_routing_demo"].task == "multiclass"
    assert specs["ticket_routing_demo"].columns.classes == ["billing", "technical", "account", "sales"]
    assert specs["demand_demo"].task == "regression"
    assert "units_sold" in specs["demand_demo"].validation.ranges
