"""From a profile to the choices of a draft spec, each with the reason a comment will give.

``plan_spec`` applies the rules of ``mlplatform.onboarding.infer`` to every column of the profile
and returns a ``Plan``: a pure function of the profile, so it is tested without Spark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlplatform.onboarding import infer


@dataclass
class Plan:
    """Everything ``draft.render`` writes, with the figures its comments quote."""

    name: str
    task: str
    target: str
    positive: str | None
    classes: list[str] | None
    class_shares: dict[str, float]
    rows: int
    file_rows: int
    id: str | None = None
    rename: dict[str, str] = field(default_factory=dict)
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    timestamps: list[str] = field(default_factory=list)
    missing_values: dict[str, list[str]] = field(default_factory=dict)
    missing_notes: dict[str, str] = field(default_factory=dict)
    excluded: list[tuple[str, str]] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    ranges: dict[str, tuple[float, float, float, float, list[tuple[str, int]]]] = field(default_factory=dict)
    allowed: dict[str, list[str]] = field(default_factory=dict)
    rare: dict[str, list[str]] = field(default_factory=dict)
    duplicate_rows: int = 0
    duplicate_keys: str | None = None
    slices: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    promotion: dict[str, float] = field(default_factory=dict)
    target_summary: dict[str, float] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def plan_spec(profile: dict[str, Any], name: str) -> Plan:
    """The draft's choices for ``profile`` (see the module docstring)."""
    rows = profile["rows"]
    columns = {c["name"]: c for c in profile["columns"]}
    target_col = columns[profile["target"]]
    task, positive, classes = infer.infer_task(target_col)
    names = infer.clean_names([c["name"] for c in profile["columns"]])
    counts = target_col.get("counts") or {}
    total = sum(counts.values()) or 1
    plan = Plan(
        name=infer.model_name(name),
        task=task,
        target=names[target_col["name"]],
        positive=positive,
        classes=classes,
        class_shares={v: n / total for v, n in counts.items()} if task != "regression" else {},
        rows=rows,
        file_rows=profile.get("file_rows", rows),
        duplicate_rows=profile.get("duplicate_rows", 0),
    )
    if task == "binary":
        negative = next(v for v in counts if v != positive)
        plan.allowed[plan.target] = [str(positive), negative]
    if task == "regression":
        plan.target_summary = {
            k: target_col[k] for k in ("min", "max", "mean", "stddev") if target_col.get(k) is not None
        }
    leak_classes = [str(positive)] if task == "binary" else (classes or [])
    declared = [target_col["name"]]
    scores: dict[str, float] = {}
    for column in profile["columns"]:
        source = column["name"]
        if source == target_col["name"]:
            continue
        spec_name = names[source]
        why = _classify(plan, column, spec_name, rows, leak_classes, scores)
        if why is not None:
            plan.excluded.append((spec_name if spec_name == source else f"{source} ({spec_name})", why))
            continue
        declared.append(source)
    kept = set(declared)
    plan.rename = {c["name"]: names[c["name"]] for c in profile["columns"] if c["name"] in kept}
    plan.rename = {src: dst for src, dst in plan.rename.items() if src != dst}
    plan.duplicate_keys = "keep" if plan.id is None and plan.duplicate_rows else None
    # Slices: the two categoricals of 2 to 10 values that separate the target best on their own.
    candidates = [n for n in plan.categorical if n in plan.allowed and n in scores]
    candidates = [n for n in candidates if 2 <= len(plan.allowed[n]) <= 10]
    plan.slices = sorted(candidates, key=lambda n: -scores[n])[:2]
    plan.params = _params(rows)
    plan.promotion = _promotion(plan)
    return plan


def _classify(
    plan: Plan, column: dict[str, Any], name: str, rows: int, classes: list[str], scores: dict[str, float]
) -> str | None:
    """Put one column in its role; the reason it is left out, or None when it is declared."""
    kind = infer.kind_of(column, rows)
    if plan.id is None and infer.is_id(column, rows):
        plan.id = name
        return None
    if column["distinct"] <= 1:
        return f"constant in the sample ({column['distinct']} distinct value): carries no signal"
    if kind == "categorical" and column.get("counts") is None:
        return (
            f"{column['distinct']} distinct text values in {rows} rows: an identifier or free text, "
            "not a categorical feature"
        )
    if kind == "timestamp":
        plan.timestamps.append(name)
        return None
    tokens = infer.missing_tokens(column, rows)
    sentinels = (
        tokens + [v for v, _ in infer.numeric_sentinels(column, rows)] if kind == "numeric" else tokens
    )
    score = infer.leak_score(column, kind, plan.task, classes)
    if score is not None and score >= infer.LEAK_THRESHOLD:
        metric = "|Spearman|" if plan.task == "regression" else "AUC"
        return f"single-feature {metric} {score:.3f} >= {infer.LEAK_THRESHOLD}: it likely leaks the target"
    if score is not None:
        scores[name] = score
    (plan.numeric if kind == "numeric" else plan.categorical).append(name)
    if sentinels:
        plan.missing_values[name] = sentinels
        value_counts = column.get("counts") or {}
        tokens_seen = column.get("tokens") or {}
        shown = [
            f"{v!r} in {value_counts.get(v, tokens_seen.get(v.strip().lower(), 0))} rows" for v in sentinels
        ]
        plan.missing_notes[name] = ", ".join(shown) + (
            "; if it is a real category, delete this line" if kind == "categorical" else ""
        )
    if column["blank"] == 0 and not sentinels:
        plan.required.append(name)
    if kind == "numeric":
        bounds = infer.suggested_range(column, sentinels, rows)
        if bounds is not None:
            plan.ranges[name] = bounds
    elif column["distinct"] <= infer.MAX_CLASSES:
        keep, rare = infer.allowed_values(column, sentinels, rows)
        if keep:
            plan.allowed[name] = keep
        if rare:
            plan.rare[name] = rare
    return None


def _params(rows: int) -> dict[str, Any]:
    """Moderate XGBoost parameters; early stopping (the default 20 rounds) picks the tree count."""
    return {
        "max_depth": 4 if rows < 10_000 else 5,
        "learning_rate": 0.05,
        "n_estimators": 400,
        "subsample": 0.9,
        "colsample_bytree": 0.9,
        "min_child_weight": 1,
    }


def _promotion(plan: Plan) -> dict[str, float]:
    """Modest gates: better than guessing from the class shares (or the target's mean)."""
    if plan.task == "regression":
        std = plan.target_summary.get("stddev")
        gates: dict[str, float] = {"min_r2": 0.0}
        if std:
            gates["max_rmse"] = _ceil_sig(float(std), 3)
        return gates
    shares = list(plan.class_shares.values())
    gates = {"min_auc": 0.65, "max_logloss": _ceil_sig(infer.log_loss_of_rates(shares), 2)}
    if plan.task == "binary":
        rate = plan.class_shares.get(str(plan.positive), 0.0)
        gates["min_pr_auc"] = math.floor(min(0.95, rate + 0.05) * 100) / 100
    else:
        gates["min_macro_f1"] = math.floor(100 / max(2, len(shares))) / 100
    return gates


def _ceil_sig(x: float, digits: int) -> float:
    """``x`` rounded up to ``digits`` significant digits."""
    if x <= 0:
        return x
    scale = 10 ** (digits - 1 - math.floor(math.log10(x)))
    return math.ceil(x * scale) / scale
