"""Each model's DAG page in Airflow: a description and ``doc_md`` written from its spec.

Parse-time code: the spec is already loaded, and nothing here reads a table, so the current
champion is a link to the model's catalog page (which reads the registry when it is opened).
"""

from __future__ import annotations

from mlplatform.config.specs import ModelSpec

CATALOG = "/mlplatform"
_TASK_PREFIXES = {
    "binary": ("Classifiers:", "Binary:"),
    "multiclass": ("Classifiers:", "Multiclass:"),
    "regression": ("Regression:",),
}
_ALL_PREFIXES = ("Classifiers:", "Binary:", "Multiclass:", "Regression:")


def model_url(model: str) -> str:
    return f"{CATALOG}/models/{model}"


def gate_rows(spec: ModelSpec) -> list[tuple[str, str, str]]:
    """The promotion gate's settings that apply to the spec's task type: (field, value, meaning)."""
    rows = []
    mine = _TASK_PREFIXES.get(str(spec.task), ())
    for name, field in type(spec.promotion).model_fields.items():
        text = field.description or ""
        if text.startswith(_ALL_PREFIXES) and not text.startswith(mine):
            continue
        rows.append((name, _show(getattr(spec.promotion, name)), text))
    return rows


def _show(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return "off" if value is None else str(value)


def _source(spec: ModelSpec, which: str) -> str:
    source = getattr(spec.source, which)
    return f"`{source.path}` ({source.format})"


def dag_description(spec: ModelSpec, kind: str) -> str:
    """One line for the DAG list: the spec's description, and what this DAG does with the model."""
    what = {"training": "train, explain, gate and promote", "scoring": "nightly scoring and monitoring"}
    summary = what.get(kind, kind)
    return f"{spec.description} ({summary})" if spec.description else f"{spec.name}: {summary}"


def dag_doc_md(spec: ModelSpec, kind: str, flow: str) -> str:
    """The DAG's docs: the model's facts from its spec, links to its catalog pages, then ``flow``."""
    model = spec.name
    lines = [
        f"## {model}: {kind}",
        "",
        spec.description or "_The spec has no description._",
        "",
        "| | |",
        "|---|---|",
        f"| owner | {spec.owner} |",
        f"| task type | {spec.task} |",
        f"| target | `{spec.columns.target}` |",
        f"| training data | {_source(spec, 'training')} |",
        f"| scoring data | {_source(spec, 'scoring')} (each logical date's `{{ds}}`) |",
        f"| training schedule | {spec.schedule.training or 'triggered only (by hand or by the retraining policy)'} |",
        f"| scoring schedule | {spec.schedule.scoring or 'triggered only'} (catch-up {spec.schedule.catchup}) |",
        f"| champion, versions, reports | [model page]({model_url(model)}) · "
        f"[lineage]({model_url(model)}/lineage) · [audit]({CATALOG}/audit?model={model}) |",
        "",
        "**Promotion gate**",
        "",
        "| setting | value | meaning |",
        "|---|---|---|",
        *(f"| {name} | {value} | {text} |" for name, value, text in gate_rows(spec)),
        "",
        flow.strip(),
    ]
    return "\n".join(lines)
