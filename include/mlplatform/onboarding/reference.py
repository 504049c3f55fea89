"""The spec reference (``docs/spec_reference.md``), generated from the pydantic models.

Every field of ``ModelSpec`` and of the sections it nests is listed by its dotted path
(``validation.ranges.<column>.min``, ``features.derived[].op``) with its type, default, meaning and
an example. The meaning is the field's ``Field(description=...)`` (every field has one; the unit
test checks that no meaning is empty), else the sentence(s) of the section's docstring that name
the field (in double backticks); a section's whole docstring heads its table. Examples come from
``EXAMPLES`` or, failing that, the default.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from datetime import date
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from mlplatform.config import specs

# Examples for fields whose default says little (required fields, empty lists, None).
EXAMPLES: dict[str, str] = {
    "name": "churn_demo",
    "description": "Predicts which customers cancel in the next 30 days.",
    "tags": "[churn, demo]",
    "source.training.path": '"{datasets_dir}/telco_customer_churn.csv"',
    "source.scoring.path": '"{storage_root}/landing/{model}/batches/{ds}.csv"',
    "source.training.options": '{header: "true"}',
    "source.scoring.options": '{header: "true"}',
    "columns.id": "customer_id",
    "columns.entity": "customer_id",
    "columns.event_time": "event_ts",
    "columns.timestamps": "[signup_date]",
    "columns.target": "churned",
    "columns.target_positive": '"Yes"',
    "columns.classes": "[low, medium, high]",
    "columns.numeric": "[tenure_months, monthly_charges]",
    "columns.categorical": "[contract, region]",
    "columns.rename": '{"Total Charges": total_charges}',
    "columns.missing_values": "{pdays: [-1], job: [unknown]}",
    "validation.required": "[customer_id, tenure_months]",
    "validation.ranges": "{tenure_months: {min: 0, max: 120}}",
    "validation.ranges.<column>.min": "0",
    "validation.ranges.<column>.max": "120",
    "validation.allowed_values": "{contract: [Month-to-month, One year, Two year]}",
    "validation.unique": "[customer_id]",
    "validation.max_rows": "1000000",
    "validation.allow_non_finite": "[ratio_feature]",
    "validation.expectations": "[{type: expect_column_value_lengths_to_be_between, kwargs: {...}}]",
    "validation.expectations[].type": "expect_column_value_lengths_to_be_between",
    "validation.expectations[].kwargs": "{column: customer_id, min_value: 8}",
    "features.derived": "[{name: log_total, op: log1p, inputs: [total_charges]}]",
    "features.derived[].name": "charges_per_tenure",
    "features.derived[].op": "ratio",
    "features.derived[].inputs": "[total_charges, tenure_months]",
    "features.derived[].lower": "0",
    "features.derived[].upper": "15",
    "features.derived[].boundaries": "[12, 24, 48]",
    "features.derived[].part": "dayofweek",
    "features.aggregates": "[{name: txns_7d, column: '*', agg: count, window: 7d}]",
    "features.aggregates[].name": "spend_30d",
    "features.aggregates[].column": "amount",
    "features.aggregates[].agg": "sum",
    "features.aggregates[].window": "30d",
    "training.params": "{max_depth: 5, learning_rate: 0.1, n_estimators: 150}",
    "training.window": "{days: 90, holdout_days: 1}",
    "training.window.days": "90",
    "training.window.holdout_days": "1",
    "training.window.holdout_share": "0.2",
    "evaluation.slices": "[contract, region]",
    "promotion.max_rmse": "12.5",
    "promotion.max_mae": "8.0",
    "promotion.min_r2": "0.3",
    "promotion.approvers": "[alice, bob]",
    "promotion.approval_timeout_hours": "24",
    "drift.feature_thresholds": "{monthly_charges: 0.2}",
    "labels": "{source: {path: ...}}",
    "labels.source.path": '"{storage_root}/landing/{model}/labels/{ds}.csv"',
    "labels.source.options": '{header: "true"}',
    "labels.id_column": "customer_id",
    "labels.label_column": "churned",
    "alerts.webhook_conn_ids": "[mlp_alert_webhook]",
    "alerts.emails": "[ml-team@example.com]",
    "schedule.training": '"0 3 * * 0"',
}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (directly, optionally, in a list or dict)."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def type_name(annotation: Any) -> str:
    """A readable type: ``csv | parquet``, ``list[str]``, ``dict[str, RangeSpec]``, ``int | null``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("null" if a is type(None) else type_name(a) for a in args)
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(type_name(a) for a in args)}]"
    if inspect.isclass(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        return "(section defaults)"
    return f"`{_yaml(value)}`"


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if value == "":
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def _sentences(doc: str) -> list[str]:
    text = " ".join(doc.split())
    return [s.strip() for s in re.split(r"(?<=[.;])\s+(?=[A-Z`(])", text) if s.strip()]


def field_meaning(name: str, doc: str) -> str:
    """The docstring's sentences that name ``name`` in double backticks (``name`` or a span such
    as ``name: value``), empty when none do."""
    named = re.compile(r"``[^`]*(?<![\w.])" + re.escape(name) + r"(?![\w.(])[^`]*``")
    return " ".join(s for s in _sentences(doc) if named.search(s)).replace("``", "`")


def _nested_path(path: str, annotation: Any) -> str:
    """Where a nested section's fields live: ``x.<column>`` in a dict, ``x[]`` in a list."""
    shapes = [typing.get_origin(annotation), *(typing.get_origin(a) for a in typing.get_args(annotation))]
    if dict in shapes:
        return f"{path}.<column>"
    if list in shapes:
        return f"{path}[]"
    return path


def walk(model: type[BaseModel], prefix: str = "") -> list[tuple[str, type[BaseModel], str, Any]]:
    """(section path, section model, field name, field info) for every field, depth first."""
    rows: list[tuple[str, type[BaseModel], str, Any]] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        rows.append((prefix, model, name, field))
        path = f"{prefix}.{name}" if prefix else name
        nested += [(_nested_path(path, field.annotation), sub) for sub in _models_in(field.annotation)]
    for path, sub in nested:
        rows += walk(sub, path)
    return rows


def field_paths() -> list[str]:
    """Every dotted field path of a spec, in document order."""
    return [f"{section}.{name}" if section else name for section, _, name, _ in walk(specs.ModelSpec)]


def _doc(model: type[BaseModel], section: str) -> str:
    if model is specs.ModelSpec:
        return inspect.cleandoc(specs.__doc__ or "")
    own = model.__dict__.get("__doc__")
    return inspect.cleandoc(own) if own else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_reference() -> str:
    """The Markdown page: one table per section, every field a row."""
    sections: dict[str, list[tuple[type[BaseModel], str, Any]]] = {}
    for section, model, name, field in walk(specs.ModelSpec):
        sections.setdefault(section, []).append((model, name, field))
    lines = [
        "# Model spec reference",
        "",
        "<!-- generated by `mlplatform spec reference --output docs/spec_reference.md`; "
        "a test keeps it equal to the pydantic models -->",
        "",
        "Every field of a model spec (`include/specs/<name>.yaml`), by its dotted path; `<column>` "
        "stands for a column name and `[]` for each item of a list. Types and defaults come from the "
        "pydantic models in `include/mlplatform/config/`, meanings from their field descriptions and "
        "each section's docstring heads its table. The JSON "
        "Schema for editors is `include/specs/model_spec.schema.json` (`mlplatform spec-schema`).",
        "",
    ]
    for section, fields in sections.items():
        model = fields[0][0]
        doc = _doc(model, section)
        lines += [f"## `{section}`" if section else "## Top level", ""]
        if doc:
            lines += [" ".join(doc.split()).replace("``", "`"), ""]
        lines += ["| field | type | default | meaning | example |", "|---|---|---|---|---|"]
        for _, name, field in fields:
            path = f"{section}.{name}" if section else name
            subs = _models_in(field.annotation)
            meaning = field.description or field_meaning(name, doc)
            if subs:
                see = f"see `{_nested_path(path, field.annotation)}` below"
                meaning = f"{meaning} ({see})" if meaning else see
            example = f"`{EXAMPLES[path]}`" if path in EXAMPLES else _example_of(field)
            lines.append(
                f"| `{path}` | {_cell(type_name(field.annotation))} | {_cell(_default(field))} | "
                f"{_cell(meaning)} | {_cell(example)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _example_of(field: Any) -> str:
    """The default as an example when it is informative (not empty, not a section)."""
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined or value is None or value in ([], {}) or isinstance(value, BaseModel):
        return ""
    return f"`{_yaml(value)}`"
