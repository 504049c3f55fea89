"""Checks validation makes beside the GX suite: missing-value sentinels, exact duplicate rows and
derived features' domains, each reported as a row of the validation results.

- ``missing_value_sentinels`` (one row per column with ``columns.missing_values``): how many
  values were read as missing; informational (success), the values are null from then on.
- ``duplicate_rows``: rows that are exact copies of an earlier row of the batch (same content
  key; with an id, the same id too). Without an id the content key is the batch's key and
  ``validation.duplicate_keys`` decides: ``fail`` fails the batch (a table-level problem naming
  the count), ``quarantine`` keeps the first row of each key and quarantines the copies,
  ``keep`` keeps them all. With an id the count is informational (``unique`` judges the ids).
- ``derived_out_of_domain`` (one row per ``log1p``/``ratio`` feature): values outside the op's
  domain, which give a missing feature; under ``out_of_domain: quarantine`` their rows are
  quarantined instead, the reason naming the feature, its op and input columns.

A quarantined copy or out-of-domain row is a bad row like any other: it counts towards
``validation.max_bad_row_fraction``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlplatform.config.specs import ModelSpec
from mlplatform.data.ingest import CORRUPT
from mlplatform.data.outcomes import INVALID_ENCODING, SENTINEL_SUFFIX, ExpectationOutcome
from mlplatform.data.row_keys import DUPLICATE_KEY
from mlplatform.features.derived import derived_columns, domain_text, has_domain

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SENTINELS = "missing_value_sentinels"
DUPLICATES = "duplicate_rows"
OUT_OF_DOMAIN = "derived_out_of_domain"

log = logging.getLogger("mlplatform.data")


def _outcome(
    name: str,
    column: str | None,
    count: int,
    total: int,
    *,
    success: bool,
    ids: Sequence[str] = (),
    note: str | None = None,
) -> ExpectationOutcome:
    return ExpectationOutcome(
        expectation=name,
        column=column,
        success=success,
        unexpected_count=count,
        unexpected_percent=100.0 * count / total if total else 0.0,
        element_count=total,
        row_ids=tuple(ids),
        note=note,
    )


def row_checks(prepared: DataFrame, spec: ModelSpec, total: int) -> list[ExpectationOutcome]:
    """The sentinel, duplicate and domain outcomes of a prepared batch (``prepare_for_validation``)."""
    from pyspark.sql import functions as F

    sentinel_cols = [c for c in spec.columns.raw_columns if spec.columns.missing_values.get(c)]
    derived = derived_columns(spec, {n: F.col(n) for n in spec.columns.numeric})
    domains = {f.name: (f, derived[f.name].out_of_domain) for f in spec.features.derived if has_domain(f)}
    sums = [
        F.sum(F.col(c + SENTINEL_SUFFIX).cast("long")).alias(f"s{i}") for i, c in enumerate(sentinel_cols)
    ]
    sums += [F.sum(cond.cast("long")).alias(f"d{i}") for i, (_, cond) in enumerate(domains.values())]
    counts = prepared.agg(*sums).first().asDict() if sums else {}
    outcomes = [
        _outcome(SENTINELS, c, int(counts[f"s{i}"] or 0), total, success=True)
        for i, c in enumerate(sentinel_cols)
    ]
    outcomes.append(_duplicates(prepared, spec, total))
    quarantined = [name for name, (f, _) in domains.items() if f.out_of_domain == "quarantine"]
    ids_by_feature: dict[str, list[str]] = {name: [] for name in quarantined}
    if quarantined and any(counts[f"d{list(domains).index(n)}"] for n in quarantined):
        flags = [domains[n][1].alias(f"q{i}") for i, n in enumerate(quarantined)]
        hit = F.lit(False)
        for n in quarantined:
            hit = hit | domains[n][1]
        for row in prepared.where(hit).select("_row_id", *flags).collect():
            for i, n in enumerate(quarantined):
                if row[f"q{i}"]:
                    ids_by_feature[n].append(str(row["_row_id"]))
    for i, (name, (feat, _)) in enumerate(domains.items()):
        count = int(counts[f"d{i}"] or 0)
        ids = ids_by_feature.get(name, [])
        outcomes.append(
            _outcome(OUT_OF_DOMAIN, name, count, total, success=not ids, ids=ids, note=domain_text(feat))
        )
    log.info(
        "model '%s': missing-value sentinels %s; %s; out of domain %s",
        spec.name,
        {o.column: o.unexpected_count for o in outcomes if o.expectation == SENTINELS},
        next(o for o in outcomes if o.expectation == DUPLICATES).label,
        {o.column: o.unexpected_count for o in outcomes if o.expectation == OUT_OF_DOMAIN},
    )
    return outcomes


def _duplicates(prepared: DataFrame, spec: ModelSpec, total: int) -> ExpectationOutcome:
    """Rows that copy an earlier row of the batch (by row number), and what the policy makes of them."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    readable = F.col(CORRUPT).isNull() & F.col(INVALID_ENCODING).isNull()
    order = F.substring_index(F.col("_row_id"), ":", -1).try_cast("long")
    earlier = Window.partitionBy(DUPLICATE_KEY).orderBy(order.asc_nulls_last(), F.col("_row_id"))
    copies = (
        prepared.where(readable)
        .select("_row_id", DUPLICATE_KEY)
        .withColumn("_n", F.row_number().over(earlier))
        .where(F.col("_n") > 1)
    )
    policy = spec.validation.duplicate_keys
    if spec.columns.id is not None or policy == "keep":
        count = copies.count()
        what = "id and content" if spec.columns.id is not None else "content (duplicate_keys: keep)"
        return _outcome(DUPLICATES, None, count, total, success=True, note=f"same {what}, kept")
    ids = [str(r["_row_id"]) for r in copies.select("_row_id").collect()]
    note = f"exact copy of an earlier row (same content key; validation.duplicate_keys: {policy})"
    return _outcome(DUPLICATES, None, len(ids), total, success=not ids, ids=ids, note=note)
