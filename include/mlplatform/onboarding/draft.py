"""Render a ``Plan`` as a commented YAML spec: each choice says why, ``# REVIEW`` marks guesses.

Plain text templating (no YAML round-trip library): scalars are written as JSON, which is valid
YAML, so any column name or value survives; ``load_spec`` parses the result like any spec.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from mlplatform.io.roots import is_under
from mlplatform.onboarding.plan import Plan


def source_template(data_path: str, *, datasets_dir: str, storage_root: str) -> tuple[str, str | None]:
    """The training path as a spec template and a REVIEW note when it is outside the readable
    roots (``{datasets_dir}/...`` or ``{storage_root}/...`` when below them)."""
    resolved = str(Path(data_path).resolve()) if "://" not in data_path else data_path
    for placeholder, root in (("datasets_dir", datasets_dir), ("storage_root", storage_root)):
        if root and is_under(resolved, root):
            rel = Path(resolved).relative_to(Path(root).resolve()) if "://" not in resolved else None
            tail = str(rel) if rel is not None else resolved[len(root.rstrip("/")) + 1 :]
            return "{" + placeholder + "}/" + tail, None
    return resolved, (
        "REVIEW: this file is outside the readable roots (MLP_DATASETS_DIR, the storage root, "
        "MLP_SOURCE_ROOTS): move it there or add its folder to MLP_SOURCE_ROOTS"
    )


def _q(value: Any) -> str:
    """A YAML scalar: JSON for text (always quoted), plain for numbers and booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _list(values: list[Any]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def _plain_list(names: list[str]) -> str:
    return "[" + ", ".join(names) + "]"


def _num(x: float) -> str:
    return _q(float(x)) if not float(x).is_integer() else str(int(x))


def render(
    plan: Plan, *, training_path: str, path_note: str | None, fmt: str, data_path: str, spec_path: str
) -> str:
    """The draft spec's text."""
    ext = "parquet" if fmt == "parquet" else "csv"
    options = '    options: {header: "true"}' if fmt == "csv" else None
    lines = [
        "# yaml-language-server: $schema=model_spec.schema.json",
        f"# Draft written by `mlplatform spec init` from {data_path}",
        f"# ({plan.rows} sampled rows of {plan.file_rows}). Every choice below is a guess from that sample:",
        "# read the comments, fix the lines marked REVIEW, then dry-run it with",
        f"#   mlplatform spec check {spec_path}",
        "# Field reference: docs/spec_reference.md",
        f"name: {plan.name}",
        f"description: {_q('REVIEW: what this model predicts, for whom, and why')}",
        "owner: ml-platform  # REVIEW: the team that answers for this model",
        f"tags: [{plan.task}, onboarded]",
        f"task: {plan.task}  # {_task_reason(plan)}",
        "",
        "source:",
        "  training:",
        f"    path: {_q(training_path)}" + (f"  # {path_note}" if path_note else ""),
        f"    format: {fmt}",
        options,
        "  scoring:",
        "    # REVIEW: where each day's batch to score lands ({ds} is the logical date, YYYY-MM-DD)",
        f'    path: "{{storage_root}}/landing/{{model}}/batches/{{ds}}.{ext}"',
        f"    format: {fmt}",
        options,
        "",
        "columns:",
    ]
    lines += _columns(plan) + _validation(plan) + _rest(plan)
    return "\n".join(x for x in lines if x is not None) + "\n"


def _task_reason(plan: Plan) -> str:
    if plan.task == "binary":
        return f"the target has two values; positive class {plan.positive!r} (REVIEW)"
    if plan.task == "multiclass":
        return f"the target has {len(plan.classes or [])} whole-number or text values"
    return "the target is a number with many values"


def _columns(plan: Plan) -> list[str]:
    out = []
    if plan.id:
        out.append(f"  id: {plan.id}  # unique in the sample and named like an id")
    else:
        out.append("  # No id column: none is unique and named like one. Each row's key is then derived from")
        out.append("  # its content (the declared columns but the target); name one here if there is.")
    out.append(f"  target: {plan.target}")
    if plan.task == "binary":
        shares = ", ".join(f"{v!r} {s:.1%}" for v, s in sorted(plan.class_shares.items()))
        out.append(f"  target_positive: {_q(plan.positive)}  # class shares: {shares}")
    if plan.task == "multiclass":
        out.append(f"  classes: {_list(plan.classes or [])}  # their order is the class index")
    if plan.timestamps:
        out.append(
            f"  timestamps: {_plain_list(plan.timestamps)}  # REVIEW: dates; add date_part features to use them"
        )
    out.append(f"  numeric: {_plain_list(plan.numeric)}")
    out.append(f"  categorical: {_plain_list(plan.categorical)}")
    if plan.rename:
        out.append("  # Source names that are not snake_case identifiers, and the names the spec uses:")
        out.append("  rename:")
        out += [f"    {_q(src)}: {dst}" for src, dst in plan.rename.items()]
    if plan.missing_values:
        out.append("  # REVIEW: values that look like 'missing' codes; they are read as null (then imputed).")
        out.append("  missing_values:")
        for name, values in plan.missing_values.items():
            out.append(f"    {name}: {_list(values)}  # REVIEW: {plan.missing_notes.get(name, '')}")
    if plan.excluded:
        out.append("  # Left out of the features:")
        out += [f"  #   {name}: {why}" for name, why in plan.excluded]
    return out


def _validation(plan: Plan) -> list[str]:
    out = ["", "validation:"]
    if plan.required:
        out.append("  # No blanks in the sample: a blank in a later batch quarantines its row.")
        out.append(f"  required: {_plain_list(plan.required)}")
    if plan.ranges:
        out.append("  # Observed min and max, rounded outward (REVIEW: the physical limits, if known).")
        out.append("  ranges:")
        for name, (lo, hi, obs_lo, obs_hi, far) in plan.ranges.items():
            note = f"observed {obs_lo:g} .. {obs_hi:g}"
            if far:
                shown = ", ".join(f"{v} ({n} rows)" for v, n in far)
                note += f"; REVIEW: left out as outliers (errors?), so quarantined: {shown}"
            out.append(f"    {name}: {{min: {_num(lo)}, max: {_num(hi)}}}  # {note}")
    if plan.allowed:
        out.append("  # Every value seen; a new one in a later batch quarantines its row.")
        out.append("  allowed_values:")
        for name, values in plan.allowed.items():
            rare = plan.rare.get(name)
            note = f"  # REVIEW: left out as rare (typos?): {_list(rare)}" if rare else ""
            out.append(f"    {name}: {_list(values)}{note}")
    if plan.id:
        out.append(f"  unique: [{plan.id}]")
    share = plan.duplicate_rows / plan.rows if plan.rows else 0.0
    if plan.duplicate_keys:
        out.append(
            f"  # {plan.duplicate_rows} rows ({share:.2%}) of the sample repeat another row exactly; "
            "without an id they share"
        )
        out.append(
            "  # a content key. keep: train on them all (quarantine keeps the first; fail stops the run)."
        )
        out.append(f"  duplicate_keys: {plan.duplicate_keys}  # REVIEW")
    elif plan.id is None:
        out.append(
            "  # No exact duplicate rows in the sample; a batch that has some fails (duplicate_keys: fail)"
        )
        out.append("  # unless you choose quarantine (keep the first) or keep.")
    out.append("  max_bad_row_fraction: 0.05  # the run fails when more rows than this share fail")
    return out


def _rest(plan: Plan) -> list[str]:
    params = ", ".join(f"{k}: {_q(v)}" for k, v in plan.params.items())
    out = [
        "",
        "features:",
        "  numeric_impute: median  # blanks and missing codes take the training median",
        "  categorical_encoding: index",
        "  # derived: [{name: ..., op: log1p | ratio | clip | bucketize | date_part, inputs: [...]}]",
        "",
        "training:",
        "  holdout_fraction: 0.2",
        "  seed: 42",
        f"  params: {{{params}}}",
        "  # early stopping (20 rounds on a validation split) picks how many of the trees are kept",
        "",
        "evaluation:",
        "  bootstrap_samples: 200",
    ]
    if plan.slices:
        out.append(f"  slices: {_plain_list(plan.slices)}  # metrics per value of these columns")
    out += ["", "promotion:", f"  # {_promotion_reason(plan)}"]
    out += [f"  {k}: {_num(v)}" for k, v in plan.promotion.items()]
    out += [
        "",
        "# drift, labels, retraining and alerts take their defaults (docs/spec_reference.md).",
        "schedule:",
        "  training: null  # trigger <name>_training by hand, from the UI, or by the retraining policy",
        '  scoring: "0 2 * * *"  # REVIEW: when the nightly batch is scored',
        f"  start_date: {date.today().isoformat()}",
    ]
    return out


def _promotion_reason(plan: Plan) -> str:
    if plan.task == "regression":
        return "Modest gates: better than predicting the mean (R² above 0, RMSE below the target's std)."
    return (
        "Modest gates: AUC 0.65, and logloss no worse than always predicting the class shares"
        + (" (PR-AUC above the positive rate)" if plan.task == "binary" else "")
        + "."
    )
