"""Derived features and their domains, defined once for validation and feature engineering.

``log1p`` takes x >= 0 and ``ratio`` a non-zero denominator; ``clip``, ``bucketize`` and
``date_part`` take any value. A value outside its op's domain gives a null feature (NaN for
XGBoost), never a constant such as ``log1p(0)``. Validation counts those values per feature (or
quarantines their rows under ``out_of_domain: quarantine``) with the same conditions that
``apply_features`` uses to null them, evaluated along the chain of derived inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlplatform.config.specs import ModelSpec

if TYPE_CHECKING:
    from pyspark.sql import Column

DOMAINS = {"log1p": "{0} >= 0", "ratio": "{1} != 0"}


@dataclass(frozen=True)
class DerivedColumn:
    """A derived feature's value (null outside the domain) and its out-of-domain condition."""

    value: Column
    out_of_domain: Column


def domain_text(feat: Any) -> str:
    """The op's domain in words, naming its input columns: ``log1p(amount) needs amount >= 0``."""
    call = f"{feat.op}({', '.join(feat.inputs)})"
    domain = DOMAINS.get(feat.op)
    return f"{call} needs {domain.format(*feat.inputs)}" if domain else call


def derived_column(feat: Any, cols: dict[str, Column]) -> DerivedColumn:
    """One derived feature over ``cols`` (its inputs by name, numeric or earlier derived)."""
    from pyspark.sql import functions as F

    never = F.lit(False)
    if feat.op == "log1p":
        x = cols[feat.inputs[0]]
        outside = F.coalesce(x < 0, never)
        return DerivedColumn(F.when(~outside, F.log1p(x)), outside)
    if feat.op == "ratio":
        num, den = cols[feat.inputs[0]], cols[feat.inputs[1]]
        outside = F.coalesce(den == 0, never)
        return DerivedColumn(F.when(~outside, num / den), outside)
    if feat.op == "date_part":
        part = {"year": F.year, "month": F.month, "dayofweek": F.dayofweek, "dayofmonth": F.dayofmonth}
        ts = F.to_timestamp(F.col(feat.inputs[0]))
        return DerivedColumn(part.get(feat.part, F.hour)(ts).cast("double"), never)
    value = cols[feat.inputs[0]]
    if feat.op == "bucketize":
        # Bucket i holds boundaries[i-1] <= x < boundaries[i]; null stays null.
        buckets = sum(((value >= F.lit(float(b))).cast("double") for b in feat.boundaries), F.lit(0.0))
        return DerivedColumn(buckets, never)
    if feat.lower is not None:
        value = F.greatest(value, F.lit(float(feat.lower)))
    if feat.upper is not None:
        value = F.least(value, F.lit(float(feat.upper)))
    return DerivedColumn(value, never)


def derived_columns(spec: ModelSpec, base: dict[str, Column]) -> dict[str, DerivedColumn]:
    """Every derived feature of the spec, in order, each seeing ``base`` and the ones before it."""
    cols = dict(base)
    out: dict[str, DerivedColumn] = {}
    for feat in spec.features.derived:
        out[feat.name] = derived_column(feat, cols)
        cols[feat.name] = out[feat.name].value
    return out


def has_domain(feat: Any) -> bool:
    """Whether the op can meet a value outside its domain (``log1p``, ``ratio``)."""
    return feat.op in DOMAINS
