"""Declarative model specs: one YAML file per model, validated at load time.

A spec says where the data comes from, what each column means, which expectations the
data must meet, which features to derive, how to train, and the gates for promotion and
drift. Adding a model means adding a YAML file, not Python.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from mlplatform.config.base import _Strict
from mlplatform.config.columns import ColumnsSpec
from mlplatform.config.monitoring_sections import AlertsSpec, DriftSpec, LabelsSpec, RetrainingPolicy
from mlplatform.config.spec_sections import (
    EvaluationSpec,
    FeaturesSpec,
    PromotionSpec,
    ScheduleSpec,
    SourcesSpec,
    TrainingSpec,
    ValidationSpec,
)
from mlplatform.config.tasks import TASK_SPECIFIC_PROMOTION_FIELDS, TaskName, task_named
from mlplatform.core.errors import ConfigError

MODEL_NAME_PATTERN = r"^[a-z][a-z0-9_]{1,62}$"


class SpecError(ConfigError):
    """A spec file is missing, unreadable or invalid; the message names the file and field."""


class ModelSpec(_Strict):
    name: str = Field(
        pattern=MODEL_NAME_PATTERN,
        description="The model's name: its DAGs are `<name>_training`, `<name>_scoring`, `<name>_retirement`; the file must be `<name>.yaml`.",
    )
    description: str = Field(
        default="", description="What the model predicts: the DAGs' description and the model card's purpose."
    )
    owner: str = Field(
        default="ml-platform",
        description="The team that answers for the model: the DAGs' owner and the model card's.",
    )
    tags: list[str] = Field(
        default_factory=list, description="Free labels, added to the DAGs' tags and the model card."
    )
    task: TaskName = Field(
        default="binary",
        description="The kind of model: its XGBoost objective, metrics and promotion gates (`config/tasks.py`).",
    )
    source: SourcesSpec = Field(description="Where the training and scoring data come from.")
    columns: ColumnsSpec = Field(description="Each raw column's role.")
    validation: ValidationSpec = Field(default=ValidationSpec(), description="What the raw data must meet.")
    features: FeaturesSpec = Field(default=FeaturesSpec(), description="How raw columns become features.")
    training: TrainingSpec = Field(default=TrainingSpec(), description="How to train.")
    evaluation: EvaluationSpec = Field(default=EvaluationSpec(), description="How the holdout is evaluated.")
    promotion: PromotionSpec = Field(
        default=PromotionSpec(), description="The gates a new version passes to become champion."
    )
    drift: DriftSpec = Field(
        default=DriftSpec(), description="Drift, skew and quality checks of scoring batches."
    )
    labels: LabelsSpec | None = Field(
        default=None, description="Late ground truth for labelled performance (null: none)."
    )
    retraining: RetrainingPolicy = Field(
        default=RetrainingPolicy(), description="When drift or performance triggers retraining."
    )
    alerts: AlertsSpec = Field(default=AlertsSpec(), description="Who is alerted, and how.")
    schedule: ScheduleSpec = Field(default=ScheduleSpec(), description="When the DAGs run.")

    @model_validator(mode="after")
    def _references_exist(self) -> ModelSpec:
        self._task_fields()
        known = set(self.columns.raw_columns)
        numeric = set(self.columns.numeric)
        ranged = numeric | ({self.columns.target} if self.task == "regression" else set())
        checks = [
            ("validation.required", self.validation.required, known),
            ("validation.ranges", list(self.validation.ranges), ranged),
            ("validation.allowed_values", list(self.validation.allowed_values), known),
            ("validation.unique", self.validation.unique, known),
            ("validation.allow_non_finite", self.validation.allow_non_finite, numeric),
        ]
        for field, names, allowed in checks:
            for name in names:
                if name not in allowed:
                    raise ValueError(f"{field}: '{name}' is not a declared column of that kind")
        derived_names: set[str] = set()
        times = {*self.columns.timestamps, *([self.columns.event_time] if self.columns.event_time else [])}
        for i, feat in enumerate(self.features.derived):
            for name in feat.inputs:
                if feat.op == "date_part" and name not in times:
                    raise ValueError(
                        f"features.derived[{i}] ('{feat.name}'): input '{name}' is not a timestamp column "
                        "(columns.timestamps or columns.event_time)"
                    )
                if feat.op != "date_part" and name not in numeric and name not in derived_names:
                    raise ValueError(
                        f"features.derived[{i}] ('{feat.name}'): input '{name}' is not a numeric column"
                    )
            if feat.name in known or feat.name in derived_names:
                raise ValueError(f"features.derived[{i}]: name '{feat.name}' is already used")
            derived_names.add(feat.name)
        for i, agg in enumerate(self.features.aggregates):
            where = f"features.aggregates[{i}] ('{agg.name}')"
            for field in ("entity", "event_time"):
                if not getattr(self.columns, field):
                    raise ValueError(f"{where}: aggregates require field 'columns.{field}' to be set")
            if agg.column != "*" and agg.column not in numeric:
                raise ValueError(f"{where}: column '{agg.column}' is not a numeric column (or '*')")
            if agg.name in known or agg.name in derived_names:
                raise ValueError(f"{where}: name '{agg.name}' is already used")
            derived_names.add(agg.name)
        for name in self.evaluation.slices:
            if name not in known:
                raise ValueError(f"evaluation.slices: '{name}' is not a declared column")
        for i, extra in enumerate(self.validation.expectations):
            column = extra.kwargs.get("column")
            if column is not None and column not in known:
                raise ValueError(
                    f"validation.expectations[{i}] ({extra.type}): column '{column}' is not declared"
                )
        for name in self.drift.feature_thresholds:
            if name not in known and name not in derived_names:
                raise ValueError(f"drift.feature_thresholds: '{name}' is not a feature")
        if self.training.window is not None and self.labels is None:
            raise ValueError(
                "training.window: a training window trains on scored batches whose late labels arrived; "
                "it needs a 'labels' section"
            )
        return self

    def _task_fields(self) -> None:
        """Fields that belong to another task type are refused rather than silently ignored (a
        field of another task may only hold its default)."""
        task, cols = task_named(self.task), self.columns
        if self.task == "multiclass" and not cols.classes:
            raise ValueError("columns.classes: a multiclass model lists its classes (at least two)")
        if self.task != "multiclass" and cols.classes is not None:
            raise ValueError(f"columns.classes: only a multiclass model lists classes (task is {self.task})")
        if self.task != "binary" and _changed(cols, "target_positive"):
            raise ValueError(
                f"columns.target_positive: only a binary model has a positive class ({self.task})"
            )
        for name in ("decision_threshold", "auto_scale_pos_weight"):
            if self.task != "binary" and _changed(self.training, name):
                raise ValueError(f"training.{name}: applies to binary models only (task is {self.task})")
        for name in sorted(TASK_SPECIFIC_PROMOTION_FIELDS - set(task.promotion_fields)):
            if _changed(self.promotion, name):
                raise ValueError(f"promotion.{name}: does not apply to a {self.task} model")
        monitored = "max_rmse_increase" if self.task == "regression" else "max_auc_drop"
        other = "max_auc_drop" if self.task == "regression" else "max_rmse_increase"
        if _changed(self.retraining, other):
            raise ValueError(f"retraining.{other}: does not apply to a {self.task} model; use {monitored}")
        if self.task == "multiclass" and self.features.categorical_encoding == "target":
            raise ValueError(
                "features.categorical_encoding: 'target' encoding needs one number per row to average; "
                "a multiclass target has none (use 'index' or 'one_hot')"
            )

    @property
    def derived_names(self) -> list[str]:
        return [f.name for f in self.features.derived]

    @property
    def aggregate_names(self) -> list[str]:
        return [a.name for a in self.features.aggregates]

    @property
    def model_features(self) -> list[str]:
        """Base feature names in order: numeric, derived, aggregates, categorical.

        With ``index`` or ``target`` encoding these are the booster's features; ``one_hot`` expands
        each categorical into columns known only after fitting (``features.output_feature_names``).
        """
        return [*self.columns.numeric, *self.derived_names, *self.aggregate_names, *self.columns.categorical]

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def _changed(section: _Strict, name: str) -> bool:
    """Whether a section's field holds other than its default."""
    return getattr(section, name) != type(section).model_fields[name].default


def _format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"invalid model spec {path}:"]
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  - field '{loc}': {item['msg']}")
    return "\n".join(lines)


# libyaml's loader when PyYAML has it: parsing hundreds of specs (DAG files, the catalog) is ~10x faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_spec(path: str | Path) -> ModelSpec:
    """Load and validate one spec file; errors name the file and the field."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(), Loader=_YAML_LOADER)
    except FileNotFoundError as exc:
        raise SpecError(f"model spec {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"model spec {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"model spec {path} must be a mapping at the top level")
    try:
        spec = ModelSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_format_validation_error(path, exc)) from exc
    if spec.name != path.stem:
        raise SpecError(
            f"model spec {path}: field 'name' is '{spec.name}' but the file is '{path.stem}.yaml'"
        )
    return spec


def load_specs(spec_dir: str | Path) -> dict[str, ModelSpec]:
    """All specs in a folder, by model name (``*.yaml`` files, sorted); the first bad one raises."""
    specs, errors = scan_specs(spec_dir)
    if errors:
        raise next(iter(errors.values()))
    return specs


def scan_specs(spec_dir: str | Path) -> tuple[dict[str, ModelSpec], dict[Path, SpecError]]:
    """Every spec of a folder loaded on its own: the valid ones by model name, the errors by file.

    One broken file costs only its own model: the DAG files build the others' DAGs and report
    the errors (``dags/model_spec_errors.py``).
    """
    specs: dict[str, ModelSpec] = {}
    errors: dict[Path, SpecError] = {}
    for path in sorted(Path(spec_dir).glob("*.yaml")):
        try:
            spec = load_spec(path)
        except SpecError as exc:
            errors[path] = exc
        else:
            specs[spec.name] = spec
    return specs, errors


def spec_path(spec_dir: str | Path, model: str) -> Path:
    if not re.match(MODEL_NAME_PATTERN, model):
        raise SpecError(f"'{model}' is not a valid model name")
    return Path(spec_dir) / f"{model}.yaml"


def spec_json_schema() -> str:
    """The JSON Schema of a model spec, as kept in ``include/specs/model_spec.schema.json``."""
    import json

    schema = ModelSpec.model_json_schema()
    schema["title"] = "mlplatform model spec"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
