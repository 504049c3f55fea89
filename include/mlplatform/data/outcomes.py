"""What a validation found: one outcome per expectation or row check, and what they add up to.

The batch's outcome says which rows are bad and why (``reasons_by_row``), which failures concern
the batch as a whole (``table_level_failures``), and gives the rows of the validation results
table and the lineage params (``results_rows``, ``summarise``). Kept apart from the GX runner
(``data.validation``) so the row checks (``data.row_checks``) can build outcomes too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlplatform.config.specs import ModelSpec
from mlplatform.core.errors import DataProblem

NUMBER_REGEX = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
TIMESTAMP_REGEX = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
NON_FINITE_REGEX = r"^[+-]?(inf|infinity|nan)$"
RAW_SUFFIX = "__raw"
NUMBER_SUFFIX = "__number"  # a regression target as a double, for its finite check
SENTINEL_SUFFIX = "__sentinel"  # whether the raw value was a missing-value sentinel (dropped)
INVALID_ENCODING = "_invalid_encoding"
FLOAT_MAX = 1.7976931348623157e308


class DataQualityError(DataProblem, RuntimeError):
    """The batch failed validation as a whole; the message names the expectations and columns."""


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    unexpected_percent: float
    element_count: int
    row_ids: tuple[str, ...] = ()
    note: str | None = None  # what a custom check found, in words (part of the quarantine reason)

    @property
    def label(self) -> str:
        name = f"{self.expectation}({self.column})" if self.column else self.expectation
        return f"{name}: {self.note}" if self.note else name


@dataclass
class ValidationOutcome:
    total_rows: int
    outcomes: list[ExpectationOutcome]
    reasons_by_row: dict[str, list[str]] = field(default_factory=dict)
    data_docs_uri: str | None = None
    keys_by_row: dict[str, str] = field(default_factory=dict)  # content keys of bad rows (no id)

    @property
    def bad_rows(self) -> int:
        return len(self.reasons_by_row)

    @property
    def bad_fraction(self) -> float:
        return self.bad_rows / self.total_rows if self.total_rows else 0.0

    def worst(self, n: int = 3) -> list[ExpectationOutcome]:
        failed = [o for o in self.outcomes if not o.success]
        return sorted(failed, key=lambda o: o.unexpected_count, reverse=True)[:n]


def table_level_failures(outcome: ValidationOutcome, spec: ModelSpec | None = None) -> list[str]:
    """Failures that concern the batch as a whole and fail the run whatever the bad-row share.

    Table expectations (row count bounds) always; duplicated keys (``unique`` columns, or exact
    copies of a row when the spec has no id) when the spec's ``validation.duplicate_keys`` is
    ``fail`` (the duplicated rows are still quarantined).
    """
    failures = [
        f"{o.label} failed (observed {o.element_count} rows)"
        for o in outcome.outcomes
        if not o.success and not o.row_ids and o.expectation.startswith("expect_table")
    ]
    if spec is not None and spec.validation.duplicate_keys == "fail":
        failures += [
            f"{o.label} failed: {o.unexpected_count} rows share a key in column '{o.column}'"
            for o in outcome.outcomes
            if not o.success and o.expectation == "expect_column_values_to_be_unique"
        ]
        failures += [
            f"{o.expectation} failed: {o.unexpected_count} rows are exact copies of an earlier row "
            "(no columns.id, so a row's content is its key; validation.duplicate_keys is 'fail')"
            for o in outcome.outcomes
            if not o.success and o.expectation == "duplicate_rows"
        ]
    return failures


def results_rows(
    outcome: ValidationOutcome, *, model: str, batch_id: str, run_id: str
) -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return [
        {
            "model_name": model,
            "batch_id": batch_id,
            "run_id": run_id,
            "expectation": o.expectation,
            "column": o.column,
            "success": o.success,
            "unexpected_count": o.unexpected_count,
            "unexpected_percent": o.unexpected_percent,
            "element_count": o.element_count,
            "data_docs_uri": outcome.data_docs_uri,
            "validated_at": now,
        }
        for o in outcome.outcomes
    ]


def failure_message(spec: ModelSpec, table: str, outcome: ValidationOutcome) -> str:
    worst = "; ".join(
        f"{o.label}: {o.unexpected_count} rows ({o.unexpected_percent:.1f}%)" for o in outcome.worst()
    )
    return (
        f"table {table}: {outcome.bad_rows} of {outcome.total_rows} rows ({outcome.bad_fraction:.1%}) failed "
        f"validation for model '{spec.name}', above validation.max_bad_row_fraction="
        f"{spec.validation.max_bad_row_fraction}; worst: {worst}. Failing rows are in the quarantine table."
    )


def summarise(outcome: ValidationOutcome) -> dict[str, Any]:
    """The lineage params of a validation: counts, failures, and what the row checks found
    (missing-value sentinels per column, exact duplicate rows, out-of-domain values per feature)."""

    def counts(expectation: str) -> dict[str, int]:
        return {str(o.column): o.unexpected_count for o in outcome.outcomes if o.expectation == expectation}

    duplicates = [o.unexpected_count for o in outcome.outcomes if o.expectation == "duplicate_rows"]
    return {
        "rows": outcome.total_rows,
        "bad_rows": outcome.bad_rows,
        "bad_fraction": round(outcome.bad_fraction, 6),
        "failed_expectations": [o.label for o in outcome.outcomes if not o.success],
        "data_docs_uri": outcome.data_docs_uri,
        "missing_values": counts("missing_value_sentinels"),
        "duplicate_rows": duplicates[0] if duplicates else 0,
        "derived_out_of_domain": counts("derived_out_of_domain"),
    }
