"""Drift verdicts: each column of a scoring batch against the reference profile, and their summary.

Every applicable statistic is recorded per column; the verdict comes from the one test the spec
chooses for the column's kind (Evidently's rule when ``auto``), so a later threshold change can be
replayed from the stored numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlplatform.monitoring.drift.profile import (
    OTHER,
    bin_labels,
    check_columns,
    histogram_exprs,
    quantiles,
    read_histogram,
)
from mlplatform.monitoring.drift.stats import (
    chi2_p_value,
    jensenshannon_distance,
    ks_from_quantiles,
    psi,
    quantile_grid,
    wasserstein_normed,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from mlplatform.config.specs import DriftSpec

P_VALUE_TESTS = frozenset({"ks", "chi2"})
AUTO_STATTESTS = {
    "numeric": ("ks", "wasserstein"),
    "prediction": ("ks", "wasserstein"),
    "categorical": ("chi2", "jensenshannon"),
}

FeatureKind = Literal["numeric", "categorical", "prediction"]
Scope = Literal["input", "model_input", "prediction"]


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one column between the reference and one batch, with every statistic computed.

    ``metric``/``value``/``threshold``/``drifted`` are the verdict of the column's chosen test;
    ``psi``, ``wasserstein``, ``jensenshannon``, ``ks_statistic`` and ``p_value`` are recorded
    whenever they apply to the column's kind, so a later threshold change can be replayed.
    """

    feature: str
    feature_kind: FeatureKind
    scope: Scope
    metric: str
    value: float
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    reference_proportions: tuple[float, ...]
    current_proportions: tuple[float, ...]
    bin_labels: tuple[str, ...]
    null_rate_reference: float
    null_rate_current: float
    psi: float
    wasserstein: float | None = None
    jensenshannon: float | None = None
    ks_statistic: float | None = None
    p_value: float | None = None
    unseen_rate: float | None = None
    quality_flags: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The fields that go into a ``drift_metrics`` row (the caller adds model, date, run)."""
        drop = {"reference_proportions", "current_proportions", "bin_labels"}
        record = {k: v for k, v in asdict(self).items() if k not in drop}
        record["quality_flags"] = list(self.quality_flags)
        return record


def choose_stattest(kind: FeatureKind, reference_rows: int, spec: DriftSpec) -> tuple[str, float]:
    """The test and threshold for a column: the spec's choice, or Evidently's rule for ``auto``.

    ``auto``: p-value tests (KS numeric, chi-squared categorical, p < 0.05) when the reference has at
    most ``small_sample_rows`` rows; distances (Wasserstein normed, Jensen-Shannon, >= 0.1) above,
    where p-values flag every negligible shift.
    """
    configured = {
        "numeric": spec.numeric_stattest,
        "categorical": spec.categorical_stattest,
        "prediction": spec.prediction_stattest,
    }
    method = configured[kind]
    if method == "auto":
        small, large = AUTO_STATTESTS[kind]
        method = small if reference_rows <= spec.small_sample_rows else large
    thresholds = {
        "psi": spec.prediction_psi_threshold if kind == "prediction" else spec.psi_threshold,
        "wasserstein": spec.wasserstein_threshold,
        "jensenshannon": spec.jensenshannon_threshold,
        "ks": spec.p_value_threshold,
        "chi2": spec.p_value_threshold,
    }
    return method, thresholds[method]


def _statistics(
    fp: dict, current: list[float], nonnull: int, current_quantiles: list[float | None], reference_rows: int
) -> tuple[dict[str, float], float | None]:
    """Every statistic that applies to the column's kind, keyed by test name, and its unseen rate."""
    stats = {"psi": psi(fp["proportions"], current)}
    if fp["kind"] == "categorical":
        stats["jensenshannon"] = jensenshannon_distance(fp["proportions"], current)
        stats["chi2"] = chi2_p_value(fp["proportions"], [p * nonnull for p in current])
        if OTHER not in fp["categories"]:
            return stats, None
        other = fp["categories"].index(OTHER)
        return stats, max(0.0, current[other] - fp["proportions"][other])
    ref_q = fp.get("quantiles") or []
    if ref_q and current_quantiles and all(q is not None for q in current_quantiles) and nonnull:
        std = fp.get("std_pop", fp.get("std", 0.0))
        stats["wasserstein"] = wasserstein_normed(ref_q, current_quantiles, std)
        stats["ks_statistic"], stats["ks"] = ks_from_quantiles(
            ref_q, current_quantiles, reference_rows, nonnull
        )
    return stats, None


def compute_drift(
    profile: dict,
    current_df: DataFrame,
    spec: DriftSpec,
    *,
    score_col: str | None = None,
    scope: Scope = "input",
) -> list[FeatureDrift]:
    """Every profiled column of one batch against the reference, in two Spark jobs (counts, quantiles).

    ``profile`` is a reference profile (or its ``model_inputs`` part, with ``scope="model_input"``
    for train-serve skew). ``score_col`` defaults to the one recorded in the profile, used only when
    ``current_df`` has it. Verdicts use the spec's tests and thresholds; ``feature_thresholds``
    overrides a column's threshold.
    """
    from pyspark.sql import functions as F

    targets: list[tuple[str, FeatureKind, Scope, dict]] = [
        (name, fp["kind"], scope, fp) for name, fp in profile["features"].items()
    ]
    if profile.get("prediction"):
        if score_col is None and profile.get("score_col") in current_df.columns:
            score_col = profile["score_col"]
        if score_col is not None:
            targets.append((score_col, "prediction", "prediction", profile["prediction"]))
    check_columns(current_df, [t[0] for t in targets])

    exprs = [F.count(F.lit(1)).alias("__rows")]
    for i, (name, _, _, fp) in enumerate(targets):
        exprs += histogram_exprs(name, fp, f"t{i}")
    row = current_df.agg(*exprs).first()
    rows = int(row["__rows"])
    if rows == 0:
        raise ValueError("the scoring batch is empty: there are no rows to compare with the reference")
    graded = [(name, fp) for name, _, _, fp in targets if fp["kind"] == "numeric" and fp.get("quantiles")]
    grid = quantile_grid(len(graded[0][1]["quantiles"])) if graded else []
    names = [name for name, _ in graded]
    sketches = dict(zip(names, quantiles(current_df, names, grid), strict=True))

    reference_rows = int(profile["row_count"])
    out = []
    for i, (name, kind, target_scope, fp) in enumerate(targets):
        current, null_rate, nonnull = read_histogram(row, fp, f"t{i}", rows)
        stats, unseen = _statistics(fp, current, nonnull, sketches.get(name) or [], reference_rows)
        metric, threshold = choose_stattest(kind, reference_rows, spec)
        if metric not in stats:  # no quantile grid (an older profile, or an all-null batch): fall back to PSI
            metric, threshold = "psi", spec.psi_threshold
        threshold = float(spec.feature_thresholds.get(name, threshold))
        value = stats[metric]
        drifted = value < threshold if metric in P_VALUE_TESTS else value >= threshold
        flags = []
        if null_rate - float(fp["null_rate"]) > spec.max_null_rate_increase:
            flags.append("null_rate")
        if unseen is not None and unseen > spec.max_unseen_category_rate:
            flags.append("unseen_categories")
        out.append(
            FeatureDrift(
                feature=name,
                feature_kind=kind,
                scope=target_scope,
                metric=metric,
                value=float(value),
                threshold=threshold,
                drifted=bool(drifted),
                reference_rows=reference_rows,
                current_rows=rows,
                reference_proportions=tuple(fp["proportions"]),
                current_proportions=tuple(current),
                bin_labels=tuple(bin_labels(fp)),
                null_rate_reference=float(fp["null_rate"]),
                null_rate_current=null_rate,
                psi=float(stats["psi"]),
                wasserstein=stats.get("wasserstein"),
                jensenshannon=stats.get("jensenshannon"),
                ks_statistic=stats.get("ks_statistic"),
                p_value=stats.get("chi2") if kind == "categorical" else stats.get("ks"),
                unseen_rate=unseen,
                quality_flags=tuple(flags),
            )
        )
    return out


def drift_summary(drifts: list[FeatureDrift]) -> dict:
    """Drifted input features and their share, the prediction's verdict, skew and quality flags."""
    features = [d for d in drifts if d.scope == "input"]
    prediction = next((d for d in drifts if d.scope == "prediction"), None)
    drifted = [d.feature for d in features if d.drifted]
    return {
        "features_checked": len(features),
        "features_drifted": drifted,
        "share_drifted": len(drifted) / len(features) if features else 0.0,
        "prediction_drifted": bool(prediction and prediction.drifted),
        "prediction_metric": prediction.metric if prediction else None,
        "prediction_value": prediction.value if prediction else None,
        "prediction_psi": prediction.psi if prediction else None,
        "skewed_features": [d.feature for d in drifts if d.scope == "model_input" and d.drifted],
        "quality_alerts": {d.feature: list(d.quality_flags) for d in drifts if d.quality_flags},
    }


def drift_ratio(metric: str, value: float, threshold: float) -> float:
    """A test's value relative to its threshold, above 1 when drifted (inverted for p-values)."""
    if metric in P_VALUE_TESTS:
        return threshold / max(value, 1e-12)
    return value / threshold if threshold else 0.0
