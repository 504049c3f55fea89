"""Row keys: a row's id column, or, for data without ids, a key derived from the row's content.

``columns.id`` is optional. When a spec gives one it is each row's key (and should be unique per
row of a batch). Without it a row's key is its *content key*: the SHA-256 (hex) of the trimmed raw
text of ``columns.content_columns`` (every declared raw column but the target), after ``rename``
and with blanks and ``columns.missing_values`` read as null. The same text gives the same key on
a training row, a scoring row and a late label row carrying the same columns, so exact copies
share a key, land on the same side of the train/holdout split, and a label file without ids
joins its predictions. Validation stores the key in the validated table as ``_content_key``.

This module is the one definition of that key; features (``entity_id``), the hash split, the
quarantine's ``entity_id``, the training window's label join and the drift join all use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlplatform.config.specs import ModelSpec

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

CONTENT_KEY = "_content_key"  # kept in the validated table when the spec has no id
DUPLICATE_KEY = "_duplicate_key"  # validation's helper: what an exact copy shares (dropped)


def key_column(spec: ModelSpec) -> str:
    """The column of a validated row that holds its key: the id, or ``_content_key``."""
    return spec.columns.id or CONTENT_KEY


def entity_key(spec: ModelSpec) -> Column:
    """A validated row's key as a string: its id, or its content key."""
    from pyspark.sql import functions as F

    return F.col(key_column(spec)).cast("string")


def is_sentinel(spec: ModelSpec, name: str, trimmed: Column) -> Column:
    """Whether a trimmed raw value is one of the column's ``missing_values`` (false when blank/null).

    Numeric columns compare as numbers (``-1`` matches ``-1``, ``-1.0``, ``-1e0``); a sentinel
    that is not a number (``NA``) and every other column compare the exact trimmed text.
    """
    from pyspark.sql import functions as F

    sentinels = spec.columns.missing_values.get(name) or []
    if not sentinels:
        return F.lit(False)
    numeric = name in spec.columns.numeric
    numbers = [float(s) for s in sentinels if numeric and _is_number(s)]
    texts = [s.strip() for s in sentinels if s.strip() and not (numeric and _is_number(s))]
    hit = F.lit(False)
    if texts:
        hit = hit | trimmed.isin(texts)
    if numbers:
        hit = hit | trimmed.try_cast("double").isin(numbers)
    return F.coalesce(hit, F.lit(False))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity")


def normalised_text(spec: ModelSpec, name: str, raw: Column) -> Column:
    """A raw value as validation reads it: trimmed text, null when blank or a missing-value sentinel."""
    from pyspark.sql import functions as F

    trimmed = F.trim(raw.cast("string"))
    return F.when((trimmed != "") & ~is_sentinel(spec, name, trimmed), trimmed)


def hash_texts(texts: list[Column]) -> Column:
    """SHA-256 (hex) of the values in order; a JSON array keeps null apart from '' and commas."""
    from pyspark.sql import functions as F

    return F.sha2(F.to_json(F.array(*texts)), 256)


def content_key(spec: ModelSpec, column_of: dict[str, str] | None = None) -> Column:
    """The content key of rows holding the raw (text) columns; ``column_of`` maps a spec name to
    the frame's column when they differ (a late label file's source names)."""
    from pyspark.sql import functions as F

    column_of = column_of or {}
    quoted = {c: "`" + column_of.get(c, c).replace("`", "``") + "`" for c in spec.columns.content_columns}
    return hash_texts([normalised_text(spec, c, F.col(quoted[c])) for c in spec.columns.content_columns])


def duplicate_key(spec: ModelSpec) -> Column:
    """What two raw rows share when one is an exact copy of the other: the content key, and with
    an id, the id as well."""
    from pyspark.sql import functions as F

    if spec.columns.id is None:
        return content_key(spec)
    texts = [normalised_text(spec, c, F.col(c)) for c in [spec.columns.id, *spec.columns.content_columns]]
    return hash_texts(texts)


def holdout_copies(rows: DataFrame, spec: ModelSpec) -> int:
    """How many holdout rows have an exact copy (same content) in the train split.

    ``rows``: validated rows with ``_split`` (or ``split``), such as ``lifecycle.shared.
    training_rows``. Content is the content key (stored for specs without an id; otherwise a hash
    of the typed content columns as text). Without an id the hash split is keyed on the content
    key, so this is 0 by construction; with ids, or a training window's recent holdout, copies
    may cross the split and this counts them.
    """
    from pyspark.sql import functions as F

    split = "_split" if "_split" in rows.columns else "split"
    if CONTENT_KEY in rows.columns:
        key = F.col(CONTENT_KEY)
    else:
        key = hash_texts([F.col(c).cast("string") for c in spec.columns.content_columns])
    keyed = rows.select(key.alias("_k"), F.col(split).alias("_s"))
    train_keys = keyed.where(F.col("_s") == "train").select("_k").distinct()
    holdout = keyed.where(F.col("_s") == "holdout")
    return int(holdout.join(train_keys, "_k", "left_semi").count())
