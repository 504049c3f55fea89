"""Readable, unique one-hot feature names, and the human label of every model feature.

A one-hot column is named ``<col>__<value>`` with the value spelt in words where it has symbols
(``'<0'`` → ``status__lt_0``, ``'1<=X<4'`` → ``duration__1_le_X_lt_4``, ``>=7`` → ``ge_7``,
``65+`` → ``65_plus``, ``-1`` → ``minus_1``, ``10%`` → ``10_pct``). The names satisfy both
XGBoost (no ``[``, ``]`` or ``<``) and Delta/Parquet without column mapping (no space or any of
``,;{}()=`` or tabs and newlines); they hold only letters, digits and underscores.

The catch-all column of values outside the vocabulary is ``<col>__OTHER__``. An escaped value
never ends in ``_``, so no real category (not even one named ``other`` or ``OTHER``) maps onto
it. Names are unique case-insensitively (Spark resolves columns that way); two values that still
meet after escaping (``a.b`` and ``a_b``) get ``_2``, ``_3`` in vocabulary order, which is fixed
by the fit. The exact text of every value stays in the state's vocabulary, and ``feature_labels``
gives each feature a label showing it (``status = '<0'``).
"""

from __future__ import annotations

import re
from typing import Any

OTHER_SUFFIX = "OTHER__"
MAX_VALUE_CHARS = 60

# Longest first: "<=" before "<". Each symbol becomes a word between underscores.
_SYMBOLS = [
    ("<=", "le"),
    (">=", "ge"),
    ("=<", "le"),
    ("=>", "ge"),
    ("!=", "ne"),
    ("<>", "ne"),
    ("==", "eq"),
    ("<", "lt"),
    (">", "gt"),
    ("=", "eq"),
    ("+", "plus"),
    ("%", "pct"),
    ("&", "and"),
    ("#", "num"),
    ("@", "at"),
]
_SYMBOL_RE = re.compile("|".join(re.escape(s) for s, _ in _SYMBOLS))
_WORDS = dict(_SYMBOLS)
# A minus sign: at the start or after a non-word character, before a digit ("-1", "<-5").
_MINUS_RE = re.compile(r"(?:^|(?<=[^\w]))-(?=\d)")
# A decimal point between digits.
_POINT_RE = re.compile(r"(?<=\d)\.(?=\d)")


def escape_value(value: str) -> str:
    """A category's text as a readable name part: letters, digits and single underscores."""
    text = _MINUS_RE.sub(" minus ", value.strip())
    text = _POINT_RE.sub(" dot ", text)
    text = _SYMBOL_RE.sub(lambda m: f" {_WORDS[m.group(0)]} ", text)
    text = re.sub(r"[^\w]+|_+", "_", text).strip("_")
    return text[:MAX_VALUE_CHARS].rstrip("_") or "blank"


def one_hot_names(
    categorical: list[str], vocab: dict[str, list[str]], taken: list[str]
) -> dict[str, list[str]]:
    """Per categorical column: a name per vocabulary value, then the catch-all; all unique among
    themselves and ``taken`` (the model's other features), case-insensitively."""
    used = {n.lower() for n in taken}

    def claim(name: str) -> str:
        candidate, i = name, 2
        while candidate.lower() in used:
            candidate, i = f"{name}_{i}", i + 1
        used.add(candidate.lower())
        return candidate

    names: dict[str, list[str]] = {}
    for col in categorical:
        other = claim(f"{col}__{OTHER_SUFFIX}")
        names[col] = [*(claim(f"{col}__{escape_value(v)}") for v in vocab[col]), other]
    return names


def feature_labels(state: dict[str, Any]) -> dict[str, str]:
    """Feature name → human label, for reports and model cards: a one-hot column shows its
    column and exact category text (``status = '<0'``, ``status = any other value``); index and
    target encodings say so (``status (category code)``); other features are their name."""
    stored = state.get("feature_labels")
    if stored:
        return dict(stored)
    labels = {name: name for name in state.get("feature_names", [])}
    encoding = state.get("categorical_encoding", "index")
    for col, values in state.get("vocabulary", {}).items():
        if encoding == "one_hot":
            *known, other = state.get("one_hot", {}).get(col, [None])
            for name, value in zip(known, values, strict=False):
                labels[name] = f"{col} = {value}"
            if other is not None:
                labels[other] = f"{col} = any other value"
        elif col in labels:
            how = "target mean" if encoding == "target" else "category code"
            labels[col] = f"{col} ({how})"
    return labels
