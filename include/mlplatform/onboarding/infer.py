"""What a draft spec says, decided from a profile dict alone (pure Python, no Spark).

Each rule is a small function of a column's profile (see ``mlplatform.onboarding.profile``):
the task from the target's values, numeric or categorical or timestamp, sentinels that mean
missing, a likely id, columns that leak the target (single-feature AUC or |Spearman|), clean
snake_case names, and validation ranges rounded outward.
"""

from __future__ import annotations

import math
import re
from typing import Any

EXACT_VALUES_MAX = 200  # columns with at most this many distinct values are counted exactly
MAX_CLASSES = 20
MISSING_TOKENS = ("unknown", "?", "n/a", "na", "none", "-", "--", "null", "nan", "missing")
NOTABLE_SHARE = 0.005  # a missing-looking text value this common is proposed as a sentinel
SENTINEL_SHARE = 0.01  # a numeric outlier value this common is proposed as a sentinel
NUMERIC_SHARE = 0.98  # of the non-missing values, for a text column to be numeric
TIMESTAMP_SHARE = 0.95
LEAK_THRESHOLD = 0.98
POSITIVE_WORDS = ("1", "yes", "true", "y", "t", "positive", "pos")
_ID_NAME = re.compile(r"(^|_)(id|key|uuid)$")


def snake_case(name: str) -> str:
    """``customerID`` → ``customer_id``, ``Total Charges`` → ``total_charges``, ``2nd`` → ``c_2nd``."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name.strip())
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    text = re.sub(r"_+", "_", text) or "column"
    return f"c_{text}" if text[0].isdigit() else text


def clean_names(names: list[str]) -> dict[str, str]:
    """Source name → a distinct snake_case name for every column (``_2`` on a collision)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        candidate, i = snake_case(name), 2
        base = candidate
        while candidate in used:
            candidate, i = f"{base}_{i}", i + 1
        used.add(candidate)
        out[name] = candidate
    return out


def model_name(text: str) -> str:
    """A valid model name (``^[a-z][a-z0-9_]{1,62}$``) from a file stem or a user's choice."""
    name = snake_case(text)
    if not name[0].isalpha():
        name = f"m_{name}"
    if len(name) < 2:
        name = f"{name}_model"
    return name[:63].rstrip("_")


def _numbers(column: dict[str, Any]) -> list[tuple[float, str]]:
    out = []
    for value in column.get("counts") or {}:
        try:
            number = float(value)
        except ValueError:
            continue
        if math.isfinite(number):
            out.append((number, value))
    return sorted(out)


def _float_valued(column: dict[str, Any]) -> bool:
    return column["numeric"] > 0 and column["integral"] < column["numeric"]


def infer_task(target: dict[str, Any]) -> tuple[str, str | None, list[str] | None]:
    """(task, positive class, classes): two values → binary (the positive is ``1``/``yes``/``true``
    when there is one, else the minority class); at most 20 whole-number or text values →
    multiclass; otherwise numbers → regression."""
    counts: dict[str, int] = target.get("counts") or {}
    distinct = target["distinct"]
    name = target["name"]
    if distinct < 2:
        raise ValueError(f"target '{name}' has {distinct} distinct value(s) in the sample: nothing to learn")
    if distinct == 2 and counts:
        values = sorted(counts, key=lambda v: (counts[v], v))
        conventional = [v for v in values if v.strip().lower() in POSITIVE_WORDS]
        return "binary", (conventional[0] if conventional else values[0]), None
    if distinct <= MAX_CLASSES and counts and not _float_valued(target):
        numeric = target["numeric"] == target["present"]
        classes = sorted(counts, key=lambda v: (float(v), v) if numeric else (0.0, v))
        return "multiclass", None, classes
    if target["present"] and target["numeric"] >= NUMERIC_SHARE * target["present"]:
        return "regression", None, None
    raise ValueError(
        f"target '{name}' has {distinct} distinct text values in the sample; a multiclass model "
        f"lists at most {MAX_CLASSES} classes and a regression target is a number"
    )


def missing_tokens(column: dict[str, Any], rows: int) -> list[str]:
    """Missing-looking text values (``unknown``, ``?``, ``n/a``, ...) at a notable share, as spelt
    in the file (from the exact value counts when there are any)."""
    tokens = {t: n for t, n in (column.get("tokens") or {}).items() if rows and n / rows >= NOTABLE_SHARE}
    if not tokens:
        return []
    spelt = [v for v in column.get("counts") or {} if v.strip().lower() in tokens]
    return sorted(spelt) if spelt else sorted(tokens)


def kind_of(column: dict[str, Any], rows: int) -> str:
    """``numeric`` (numbers, perhaps stored as text with a few blanks or garbage values),
    ``timestamp`` or ``categorical``."""
    token_rows = sum((column.get("tokens") or {}).values())
    real = column["present"] - token_rows
    if real <= 0:
        return "categorical"
    if column["numeric"] >= NUMERIC_SHARE * real:
        return "numeric"
    if column["timestamps"] >= TIMESTAMP_SHARE * real:
        return "timestamp"
    return "categorical"


def numeric_sentinels(column: dict[str, Any], rows: int) -> list[tuple[str, int]]:
    """Values far outside the rest at a notable share: a negative value when the rest is not
    (``-1``), or one at least five times the rest's largest (``999``, ``9999``)."""
    numbers = _numbers(column)
    counts = column.get("counts") or {}
    found = []
    for number, value in numbers:
        n = counts[value]
        if not rows or n / rows < SENTINEL_SHARE:
            continue
        rest = [x for x, v in numbers if v != value]
        if not rest:
            continue
        below = number < 0 <= min(rest)
        above = number > 0 and max(rest) > 0 and number >= 5 * max(rest) and len(str(int(number))) >= 2
        if below or above:
            found.append((value, n))
    return found


def is_id(column: dict[str, Any], rows: int) -> bool:
    """Unique, almost never blank, text or whole numbers, and named like an id."""
    name = column["name"]
    named = bool(_ID_NAME.search(name.lower())) or name.endswith(("ID", "Id"))
    whole = column["numeric"] == 0 or not _float_valued(column)
    return named and whole and column["present"] >= 0.99 * rows and column["distinct"] == column["present"]


def rank_auc(groups: list[tuple[int, int]]) -> float | None:
    """AUC of a score ordering: ``groups`` are (positives, negatives) per score value, ascending;
    ties count one half. None without both classes."""
    pos = sum(p for p, _ in groups)
    neg = sum(n for _, n in groups)
    if not pos or not neg:
        return None
    below, total = 0, 0.0
    for p, n in groups:
        total += p * (below + n / 2)
        below += n
    return total / (pos * neg)


def leak_score(column: dict[str, Any], kind: str, task: str, classes: list[str]) -> float | None:
    """How well the column alone separates the target: a classifier's AUC (one-vs-rest averaged;
    numbers ordered by value, categories by their class rate), |Spearman| for regression."""
    if task == "regression":
        rho = column.get("spearman")
        return None if rho is None else abs(float(rho))
    by_class: dict[str, dict[str, int]] = column.get("by_class") or {}
    if not by_class:
        return None
    aucs = []
    for cls in classes if task == "multiclass" else classes[:1]:
        pairs = {v: (c.get(cls, 0), sum(c.values()) - c.get(cls, 0)) for v, c in by_class.items()}
        if kind == "numeric":
            order = [v for _, v in sorted((float(v), v) for v in pairs if _is_number(v))]
        else:
            order = sorted(pairs, key=lambda v: pairs[v][0] / max(1, sum(pairs[v])))
        auc = rank_auc([pairs[v] for v in order])
        if auc is not None:
            aucs.append(max(auc, 1 - auc) if kind == "numeric" else auc)
    return round(sum(aucs) / len(aucs), 4) if aucs else None


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def round_out(lo: float, hi: float) -> tuple[float, float]:
    """A range rounded outward to round numbers at the scale of each end (72 → 80, 118.75 → 200,
    18.25 → 10), never crossing zero, so ordinary future values still pass."""

    def step(x: float) -> float:
        return 10.0 ** math.floor(math.log10(abs(x))) if x else 1.0

    low = math.floor(lo / step(lo)) * step(lo) if lo else 0.0
    high = math.ceil(hi / step(hi)) * step(hi) if hi else 0.0
    if lo >= 0:
        low = max(low, 0.0)
    if hi <= 0:
        high = min(high, 0.0)
    return _tidy(low), _tidy(high)


def _tidy(x: float) -> float:
    return float(round(x, 10))


OUTLIER_SPAN = 5.0  # a value this many 1%-99% spans beyond them is an outlier
OUTLIER_SHARE = 0.005  # outliers are left out of a range only while this rare


def _quantile(weighted: list[tuple[float, int]], q: float) -> float:
    total = sum(n for _, n in weighted)
    seen = 0
    for x, n in weighted:
        seen += n
        if seen >= q * total:
            return x
    return weighted[-1][0]


def outliers(column: dict[str, Any], sentinels: list[str], rows: int) -> list[tuple[str, int]]:
    """Rare values far outside the bulk (likely errors, such as an age of 999 or -5): beyond the
    1%..99% quantiles by five times their span, or negative where 99% are not; together in at
    most 0.5% of the rows. They are left out of the suggested range, so validation catches them."""
    counts = column.get("counts") or {}
    weighted = [(x, counts[v]) for x, v in _numbers(column) if v not in sentinels]
    if len(weighted) < 3 or not rows:
        return []
    q01, q99 = _quantile(weighted, 0.01), _quantile(weighted, 0.99)
    span = q99 - q01
    far = [
        (v, counts[v])
        for x, v in _numbers(column)
        if v not in sentinels
        and (x > q99 + OUTLIER_SPAN * span or x < q01 - OUTLIER_SPAN * span or (x < 0 <= q01))
    ]
    return far if far and sum(n for _, n in far) <= OUTLIER_SHARE * rows else []


def suggested_range(
    column: dict[str, Any], sentinels: list[str], rows: int = 0
) -> tuple[float, float, float, float, list[tuple[str, int]]] | None:
    """(min, max) rounded outward from the values other than sentinels and outliers, the observed
    min and max of those values, and the outliers left out. A max that is already round gets one
    step of headroom (7 → 8, 90 → 100), except a 0/1 flag."""
    far = outliers(column, sentinels, rows)
    skip = set(sentinels) | {v for v, _ in far}
    numbers = [x for x, v in _numbers(column) if v not in skip]
    lo, hi = column.get("min"), column.get("max")
    if numbers and skip:  # the exact extremes may be sentinels or outliers: take the rest's
        lo, hi = min(numbers), max(numbers)
        if column.get("binned"):  # counted to four significant digits: widen by their rounding
            lo, hi = lo - abs(lo) * 1e-3, hi + abs(hi) * 1e-3
    if lo is None or hi is None:
        return None
    low, high = round_out(float(lo), float(hi))
    flag = float(lo) in (0.0, 1.0) and float(hi) == 1.0
    if high == float(hi) and hi > 0 and not flag:
        high = _tidy(high + 10.0 ** math.floor(math.log10(abs(hi))))
    return low, high, float(lo), float(hi), far


def allowed_values(column: dict[str, Any], sentinels: list[str], rows: int) -> tuple[list[str], list[str]]:
    """(values to allow, rare values left out): every observed category but sentinels, leaving out
    those seen in fewer than max(3, 0.1%) rows (likely typos: their rows are quarantined)."""
    counts = column.get("counts") or {}
    floor = max(3, int(0.001 * rows))
    values = [v for v in counts if v not in sentinels]
    keep = sorted(v for v in values if counts[v] >= floor)
    rare = sorted(v for v in values if counts[v] < floor)
    return keep, rare


def log_loss_of_rates(shares: list[float]) -> float:
    """Logloss of always predicting the class shares (what a model must beat)."""
    return -sum(p * math.log(p) for p in shares if p > 0)
