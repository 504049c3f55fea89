"""The ``columns`` section of a model spec: each raw column's role, and how source names and
missing-value sentinels map onto it."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from mlplatform.config.base import _Strict


class ColumnsSpec(_Strict):
    """Column roles. Every raw column the model uses is named here once (``entity`` may repeat ``id``).

    ``id`` is optional: without it each row's key is derived from its content (the declared raw
    columns other than the target), so identical rows share a key, fall on the same side of the
    train/holdout split, and a late label file carrying the same columns joins its predictions.
    ``entity`` keys the windowed aggregates; ``timestamps`` are raw columns parsed as timestamps
    (inputs of ``date_part`` features). ``target_positive`` is the positive class of a binary
    model; ``classes`` lists a multiclass model's classes (their order is the class index).

    ``rename`` maps a source file's column name to the name the spec uses (a name with spaces or a
    misspelling need not be renamed in the file); ``missing_values`` lists, per column, the raw
    values that mean missing (``pdays: [-1]``, ``job: [unknown]``): they are read as null before
    validation and imputation and counted in the validation results.
    """

    id: str | None = Field(
        default=None,
        description="The unique row id column, the key of predictions and late labels; null keys rows by their content.",
    )
    entity: str | None = Field(
        default=None,
        description="The column that keys the windowed aggregates (a customer, an account); may repeat `id`.",
    )
    event_time: str | None = Field(
        default=None,
        description="The timestamp of each row's event: the point in time of aggregates, which require it.",
    )
    timestamps: list[str] = Field(
        default_factory=list,
        description="Raw columns parsed as timestamps: inputs of `date_part` features, not features themselves.",
    )
    target: str = Field(
        description="The label column: a class, the positive or a negative of a binary model, or a regression value."
    )
    target_positive: str = Field(
        default="1",
        description="Binary models: the target value (as text) that is the positive class, label 1.",
    )
    classes: list[str] | None = Field(
        default=None,
        description="Multiclass models: the classes, at least two distinct; their order is the class index.",
    )
    numeric: list[str] = Field(
        default_factory=list,
        description="Numeric feature columns: parsed as numbers, imputed per `features.numeric_impute`.",
    )
    categorical: list[str] = Field(
        default_factory=list,
        description="Categorical feature columns, encoded per `features.categorical_encoding`.",
    )
    rename: dict[str, str] = Field(
        default_factory=dict,
        description="A source file's column name mapped to the declared name the spec uses for it.",
    )
    missing_values: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per column, the raw values that mean missing: read as null before validation and imputation.",
    )

    @field_validator("missing_values", mode="before")
    @classmethod
    def _sentinels_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: [_sentinel_text(x) for x in (v if isinstance(v, list) else [v])] for k, v in value.items()
            }
        return value

    @field_validator("classes")
    @classmethod
    def _distinct_classes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            value = [str(v) for v in value]
            if len(value) < 2 or len(set(value)) != len(value):
                raise ValueError(f"classes must list at least two distinct values, got {value}")
        return value

    @model_validator(mode="after")
    def _roles_disjoint(self) -> ColumnsSpec:
        seen: dict[str, str] = {}
        roles = [("id", [self.id] if self.id else []), ("target", [self.target]), ("numeric", self.numeric)]
        roles += [("categorical", self.categorical)]
        if self.event_time:
            roles.append(("event_time", [self.event_time]))
        if self.entity and self.entity != self.id:
            roles.append(("entity", [self.entity]))
        roles.append(("timestamps", self.timestamps))
        for role, names in roles:
            for name in names:
                if name in seen:
                    raise ValueError(f"column '{name}' has two roles: {seen[name]} and {role}")
                seen[name] = role
        if not self.numeric and not self.categorical:
            raise ValueError("at least one numeric or categorical feature column is required")
        for source, name in self.rename.items():
            if name not in seen:
                raise ValueError(f"rename: '{source}' maps to '{name}', which is not a declared column")
            if source in seen and source not in self.rename.values():
                raise ValueError(f"rename: '{source}' is itself a declared column; rename it or the other")
        targets = list(self.rename.values())
        if len(set(targets)) != len(targets):
            raise ValueError(f"rename: two source columns map to the same name ({targets})")
        for name in self.missing_values:
            if name not in seen or name == self.id:
                raise ValueError(f"missing_values: '{name}' is not a declared feature, target or time column")
        return self

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def raw_columns(self) -> list[str]:
        extra = [self.event_time] if self.event_time else []
        if self.entity and self.entity != self.id:
            extra.append(self.entity)
        ids = [self.id] if self.id else []
        return [*ids, *extra, *self.timestamps, *self.features, self.target]

    @property
    def content_columns(self) -> list[str]:
        """The raw columns a row's content key is made of: every declared one but the id and target."""
        return [c for c in self.raw_columns if c not in (self.id, self.target)]

    def source_name(self, name: str) -> str:
        """The column's name in the source files (``rename`` reversed)."""
        return next((src for src, dst in self.rename.items() if dst == name), name)


def _sentinel_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"missing value {value!r} must be a number or text as it appears in the file")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
