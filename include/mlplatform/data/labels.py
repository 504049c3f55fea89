"""Target values as labels, and late labels: one arrival file as good rows and rejects.

``label_value`` is the one reading of a target value, for training rows and late labels alike: a
binary label is 1 when it equals ``columns.target_positive`` and 0 when it is one of the target's
negative values (``target_values``); a multiclass label is the index of its class in
``columns.classes``; a regression label is the number. Anything else, like a blank id or label, is
rejected with the reason and the raw row, never silently turned into a 0.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mlplatform.config.specs import ModelSpec
from mlplatform.core.errors import ConfigError, DataProblem
from mlplatform.io.layout import labels_batch_id

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger("mlplatform.data")

_OPPOSITES = {"1": "0", "true": "false", "yes": "no", "y": "n", "t": "f"}


class LabelsError(DataProblem, ValueError):
    """A labels file lacks a column or cannot be read; the message names the file and column."""


def target_values(spec: ModelSpec) -> tuple[str, list[str] | None]:
    """The target's positive value and its negative values, as strings.

    The negatives are ``validation.allowed_values`` of the target minus the positive when the spec
    declares them (training data is held to the same set); otherwise the conventional opposite of
    the positive (``1``/``0``, ``true``/``false``, ``yes``/``no``, ``y``/``n``, ``t``/``f``, in the
    positive's letter case). For a positive with no conventional opposite (``bad``, ``churn``) and
    no declared values, None: every other non-blank value is a negative.
    """
    cols = spec.columns
    positive = cols.target_positive
    declared = spec.validation.allowed_values.get(cols.target)
    if declared:
        negatives = [v for v in dict.fromkeys(declared) if v != positive]
        if negatives:
            return positive, negatives
        raise ConfigError(
            f"model '{spec.name}': validation.allowed_values.{cols.target} {declared} has no value "
            f"besides the positive '{positive}'"
        )
    opposite = _OPPOSITES.get(positive.lower())
    if opposite is None:
        return positive, None
    if positive.isupper():
        opposite = opposite.upper()
    elif positive[:1].isupper():
        opposite = opposite.capitalize()
    return positive, [opposite]


def label_value(spec: ModelSpec, raw: Column) -> Column:
    """The label (a double) a trimmed target string stands for; null when it stands for none."""
    from pyspark.sql import functions as F

    if spec.task == "regression":
        number = raw.try_cast("double")
        return F.when(~F.isnan(number) & (F.abs(number) <= F.lit(1.7976931348623157e308)), number)
    if spec.task == "multiclass":
        classes = list(spec.columns.classes or [])
        mapping = F.create_map(*[x for i, c in enumerate(classes) for x in (F.lit(c), F.lit(float(i)))])
        return F.element_at(mapping, raw)
    positive, negatives = target_values(spec)
    known = raw.isin(positive, *negatives) if negatives is not None else raw.isNotNull()
    return F.when(known, (raw == positive).cast("double"))


def label_problem(spec: ModelSpec) -> str:
    """Why a target value is no label, in words, for rejection reasons ("value 'x' is ...")."""
    if spec.task == "regression":
        return "not a finite number"
    if spec.task == "multiclass":
        return "not one of the classes " + ", ".join(f"'{c}'" for c in spec.columns.classes or [])
    positive, negatives = target_values(spec)
    if negatives is None:
        return f"not a label of positive '{positive}'"
    return f"neither the positive '{positive}' nor a negative " + " or ".join(f"'{v}'" for v in negatives)


def read_labels(spark: SparkSession, spec: ModelSpec, uri: str, ds: str) -> tuple[DataFrame, DataFrame]:
    """The arrival file of ``ds`` as (good rows, rejected rows).

    Good rows: ``entity_id``, ``label`` (1/0), ``label_date``. Rejected rows: ``row_key``
    (``labels__{ds}:{n}``), ``entity_id`` (the raw id, may be null), ``reason`` naming the column
    and ``row_json``, the raw row.

    The entity is ``labels.id_column``, else ``columns.id``; a spec with neither keys rows by
    content, so the file must carry the content columns (``columns.content_columns``) and each
    row's ``entity_id`` is their content key, as on the scored rows. Columns are found under their
    source names (``columns.rename``) as in the source files.
    """
    from pyspark.sql import functions as F

    from mlplatform.data.ingest import read_options
    from mlplatform.data.row_keys import content_key

    labels = spec.labels
    if labels is None:
        raise LabelsError(f"model '{spec.name}' has no 'labels' section in its spec")
    cols = spec.columns
    reader = spark.read.format(labels.source.format).options(**read_options(labels.source))
    try:
        raw = reader.load(uri)
        present = raw.columns
    except Exception as exc:  # Spark's AnalysisException and friends: the message is what matters
        raise LabelsError(f"cannot read labels file {uri} for model '{spec.name}': {exc}") from exc

    def in_file(name: str) -> str:
        return name if name in present else cols.source_name(name)

    label_col = labels.label_column or in_file(cols.target)
    id_col = labels.id_column or (in_file(cols.id) if cols.id else None)
    missing = [c for c in (id_col, label_col) if c is not None and c not in present]
    if missing:
        raise LabelsError(
            f"labels file {uri} for model '{spec.name}' lacks column(s) {missing} "
            f"(spec field 'labels.id_column'/'labels.label_column'); it has {present}"
        )
    if id_col is None:
        file_cols = {c: in_file(c) for c in cols.content_columns}
        absent = [f"'{f}'" + (f" (spec column '{c}')" if f != c else "") for c, f in file_cols.items()]
        absent = [a for a, f in zip(absent, file_cols.values(), strict=True) if f not in present]
        if absent:
            raise LabelsError(
                f"labels file {uri} for model '{spec.name}' lacks content column(s) {', '.join(absent)}: "
                "the spec has no columns.id nor labels.id_column, so a label row is matched to its "
                f"prediction by the content of columns {cols.content_columns}; it has {present}"
            )
        entity = content_key(spec, file_cols)
        id_name = "the content columns"
    else:
        entity = F.trim(F.col(id_col).cast("string"))
        id_name = id_col
    log.info(
        "labels file %s for model '%s': rows keyed by %s, label column '%s'",
        uri,
        spec.name,
        id_name,
        label_col,
    )
    value = F.trim(F.col(label_col).cast("string"))
    label = label_value(spec, value)
    reason = F.when(entity.isNull() | (entity == ""), F.lit(f"missing {id_name}")).when(
        value.isNull() | (value == ""), F.lit(f"missing {label_col}")
    )
    unknown = F.concat(F.lit(f"{label_col} value '"), value, F.lit(f"' is {label_problem(spec)}"))
    reason = reason.when(label.isNull(), unknown)
    tagged = raw.withColumn("_reason", reason)
    good = tagged.where(F.col("_reason").isNull()).select(
        entity.alias("entity_id"),
        label.alias("label"),
        F.to_date(F.lit(ds)).alias("label_date"),
    )
    bad = tagged.where(F.col("_reason").isNotNull()).select(
        F.concat_ws(":", F.lit(labels_batch_id(ds)), F.monotonically_increasing_id().cast("string")).alias(
            "row_key"
        ),
        (F.col(id_col).cast("string") if id_col else entity).alias("entity_id"),
        F.col("_reason").alias("reason"),
        F.to_json(F.struct(*[F.col(c) for c in present])).alias("row_json"),
    )
    return good, bad
