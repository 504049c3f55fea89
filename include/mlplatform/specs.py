"""Declarative model specs: one YAML file per model, validated at load time.

A spec says where the data comes from, what each column means, which expectations the
data must meet, which features to derive, how to train, and the gates for promotion and
drift. Adding a model means adding a YAML file, not Python.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MODEL_NAME_PATTERN = r"^[a-z][a-z0-9_]{1,62}$"


class SpecError(ValueError):
    """A spec file is missing, unreadable or invalid; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Strict):
    """A file source. ``path`` may use ``{storage_root}``, ``{model}`` and ``{ds}`` (YYYY-MM-DD)."""

    path: str
    format: Literal["csv", "parquet", "json", "delta"] = "csv"
    options: dict[str, str] = Field(default_factory=dict)

    def resolve(self, storage_root: str, model: str, ds: str | None = None) -> str:
        return self.path.format(storage_root=storage_root.rstrip("/"), model=model, ds=ds or "")


class SourcesSpec(_Strict):
    training: SourceSpec
    scoring: SourceSpec


class ColumnsSpec(_Strict):
    """Column roles. Every raw column the model uses is named here exactly once."""

    id: str
    event_time: str | None = None
    target: str
    target_positive: str = "1"
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _roles_disjoint(self) -> ColumnsSpec:
        seen: dict[str, str] = {}
        roles = [("id", [self.id]), ("target", [self.target]), ("numeric", self.numeric)]
        roles += [("categorical", self.categorical)]
        if self.event_time:
            roles.append(("event_time", [self.event_time]))
        for role, names in roles:
            for name in names:
                if name in seen:
                    raise ValueError(f"column '{name}' has two roles: {seen[name]} and {role}")
                seen[name] = role
        if not self.numeric and not self.categorical:
            raise ValueError("at least one numeric or categorical feature column is required")
        return self

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def raw_columns(self) -> list[str]:
        extra = [self.event_time] if self.event_time else []
        return [self.id, *extra, *self.features, self.target]


class RangeSpec(_Strict):
    min: float | None = None
    max: float | None = None


class ValidationSpec(_Strict):
    """Expectations the raw data must meet; failing rows are quarantined with the reason."""

    required: list[str] = Field(default_factory=list)
    ranges: dict[str, RangeSpec] = Field(default_factory=dict)
    allowed_values: dict[str, list[str]] = Field(default_factory=dict)
    unique: list[str] = Field(default_factory=list)
    min_rows: int = Field(default=1, ge=1)
    max_bad_row_fraction: float = Field(default=0.1, ge=0.0, le=1.0)


class DerivedFeature(_Strict):
    """A feature computed from other columns: ``log1p(x)``, ``ratio(a, b)``, ``clip(x)``."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    op: Literal["log1p", "ratio", "clip"]
    inputs: list[str] = Field(min_length=1, max_length=2)
    lower: float | None = None
    upper: float | None = None

    @model_validator(mode="after")
    def _arity(self) -> DerivedFeature:
        expected = 2 if self.op == "ratio" else 1
        if len(self.inputs) != expected:
            raise ValueError(f"op '{self.op}' takes {expected} input(s), got {len(self.inputs)}")
        return self


class FeaturesSpec(_Strict):
    numeric_impute: Literal["median", "mean", "zero", "none"] = "median"
    max_categories: int = Field(default=50, ge=2)
    derived: list[DerivedFeature] = Field(default_factory=list)


class TrainingSpec(_Strict):
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=0.9)
    seed: int = 42
    params: dict[str, Any] = Field(default_factory=dict)
    decision_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    shap_sample_rows: int = Field(default=1000, ge=50)


class PromotionSpec(_Strict):
    """Gates a challenger must pass; the first model is judged on thresholds alone."""

    min_auc: float = Field(default=0.6, ge=0.0, le=1.0)
    min_pr_auc: float = Field(default=0.0, ge=0.0, le=1.0)
    max_logloss: float = Field(default=10.0, gt=0.0)
    min_auc_improvement: float = Field(default=0.0, ge=-1.0, le=1.0)


class DriftSpec(_Strict):
    """PSI thresholds; 0.1 and 0.25 are the usual 'watch' and 'act' levels, 0.2 a common gate."""

    psi_threshold: float = Field(default=0.2, gt=0.0)
    prediction_psi_threshold: float = Field(default=0.2, gt=0.0)
    bins: int = Field(default=10, ge=2, le=100)
    feature_thresholds: dict[str, float] = Field(default_factory=dict)


class ScheduleSpec(_Strict):
    training: str | None = None
    scoring: str | None = "0 2 * * *"


class ModelSpec(_Strict):
    name: str = Field(pattern=MODEL_NAME_PATTERN)
    description: str = ""
    owner: str = "ml-platform"
    tags: list[str] = Field(default_factory=list)
    source: SourcesSpec
    columns: ColumnsSpec
    validation: ValidationSpec = ValidationSpec()
    features: FeaturesSpec = FeaturesSpec()
    training: TrainingSpec = TrainingSpec()
    promotion: PromotionSpec = PromotionSpec()
    drift: DriftSpec = DriftSpec()
    schedule: ScheduleSpec = ScheduleSpec()

    @model_validator(mode="after")
    def _references_exist(self) -> ModelSpec:
        known = set(self.columns.raw_columns)
        numeric = set(self.columns.numeric)
        checks = [
            ("validation.required", self.validation.required, known),
            ("validation.ranges", list(self.validation.ranges), numeric),
            ("validation.allowed_values", list(self.validation.allowed_values), known),
            ("validation.unique", self.validation.unique, known),
        ]
        for field, names, allowed in checks:
            for name in names:
                if name not in allowed:
                    raise ValueError(f"{field}: '{name}' is not a declared column of that kind")
        derived_names: set[str] = set()
        for i, feat in enumerate(self.features.derived):
            for name in feat.inputs:
                if name not in numeric and name not in derived_names:
                    raise ValueError(
                        f"features.derived[{i}] ('{feat.name}'): input '{name}' is not a numeric column"
                    )
            if feat.name in known or feat.name in derived_names:
                raise ValueError(f"features.derived[{i}]: name '{feat.name}' is already used")
            derived_names.add(feat.name)
        for name in self.drift.feature_thresholds:
            if name not in known and name not in derived_names:
                raise ValueError(f"drift.feature_thresholds: '{name}' is not a feature")
        return self

    @property
    def derived_names(self) -> list[str]:
        return [f.name for f in self.features.derived]

    @property
    def model_features(self) -> list[str]:
        """Feature names in the order the booster sees them."""
        return [*self.columns.numeric, *self.derived_names, *self.columns.categorical]

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def _format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"invalid model spec {path}:"]
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  - field '{loc}': {item['msg']}")
    return "\n".join(lines)


def load_spec(path: str | Path) -> ModelSpec:
    """Load and validate one spec file; errors name the file and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
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
    """All specs in a folder, by model name (``*.yaml`` files, sorted)."""
    specs: dict[str, ModelSpec] = {}
    for path in sorted(Path(spec_dir).glob("*.yaml")):
        spec = load_spec(path)
        specs[spec.name] = spec
    return specs


def spec_path(spec_dir: str | Path, model: str) -> Path:
    if not re.match(MODEL_NAME_PATTERN, model):
        raise SpecError(f"'{model}' is not a valid model name")
    return Path(spec_dir) / f"{model}.yaml"
