"""``mlplatform lineage upstream|downstream|trace|who-touched``: lineage questions from the shell.

Each prints a short readable answer, or the full answer as JSON with ``--json``; the catalog pages
call the same functions (``mlplatform.lineage.queries``). Nothing here starts Spark.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mlplatform.config.settings import get_settings
from mlplatform.lineage import queries


def _versions(refs: dict[str, Any]) -> str:
    """``bronze v0, features v3``; a table the version did not read (no Delta version) says so."""
    return ", ".join(
        f"{name} v{ref['version']}" if ref.get("version") is not None else f"{name} (not read)"
        for name, ref in refs.items()
    )


def _upstream_text(a: dict[str, Any]) -> list[str]:
    failed = [
        f"{v['expectation']}({v['column']})" if v.get("column") else v["expectation"]
        for v in a["validations"]
        if not v["success"]
    ]
    lines = [
        f"{a['model']} v{a['version']}: registered {a['registered_at']} by {a['registered_by']} ({a['reason']})",
        f"  run          {a['dag_id']} / {a['run_id']}",
        f"  source       {a['source_uri']}",
        f"  inputs       {_versions(a['inputs'])}",
        f"  validation   {len(a['validations'])} expectations, failed: {', '.join(failed) or 'none'}",
        f"  features     {len(a['features'])}: {', '.join(f['feature_name'] for f in a['features'][:12])}"
        + (" ..." if len(a["features"]) > 12 else ""),
        f"  code         {a['code_version']}  spec {str(a['spec_hash'])[:12]}",
        f"  params       seed {a['params'].get('xgb', {}).get('seed')}, "
        f"conf {json.dumps(a['params'].get('conf', {}), sort_keys=True)}",
        f"  artifact     {a['artifact_uri']} (sha256 {str(a['booster_sha256'])[:16]}…)",
    ]
    return lines


def _downstream_text(a: dict[str, Any]) -> list[str]:
    lines = [f"{a['model']} v{a['version']}: {len(a['partitions'])} prediction partitions"]
    for part in a["partitions"]:
        lines.append(
            f"  {part['score_date']}  {part['rows']:>7} rows  predictions v{part['predictions_version']}  "
            f"run {part['run_id']}"
        )
    return lines


def _trace_text(a: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{k} v{v}" for k, v in a["input_versions"].items())
    return [
        f"{a['model']} {a['score_date']} entity {a['entity_id']}: score {a['prediction']['score']} "
        f"by model v{a['model_version']}",
        f"  run          {a['run_id']} (batch {a['batch_id']}, row {a['row_id']})",
        f"  inputs       {versions}",
        f"  source file  {a['source_file']}",
    ]


def _touched_text(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["nobody wrote it in that period"]
    return [
        f"{r['time']}  v{r['version']}  {r['dag_id']}.{r['task_id']}  {r['status']}  "
        f"by {r['triggered_by'] or '-'} ({r['trigger_type']})  run {r['run_id']}"
        for r in rows
    ]


def cmd_lineage(args: argparse.Namespace) -> int:
    root = get_settings().storage_root
    try:
        if args.question == "upstream":
            answer: Any = queries.upstream(root, args.model, args.version)
            text = _upstream_text(answer)
        elif args.question == "downstream":
            answer = queries.downstream(root, args.model, args.version)
            text = _downstream_text(answer)
        elif args.question == "trace":
            answer = queries.trace(root, args.model, args.date, args.entity_id)
            text = _trace_text(answer)
        else:
            answer = queries.who_touched(root, args.table, args.since, model=args.model)
            text = _touched_text(answer)
    except (queries.LineageNotFound, KeyError) as exc:
        print(f"error: {exc}")
        return 2
    print(json.dumps(answer, indent=2, default=str) if args.json else "\n".join(text))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``lineage`` and its four questions to the CLI."""
    lineage = sub.add_parser(
        "lineage", help="what made a model, what it made, one prediction's origin, who wrote"
    )
    questions = lineage.add_subparsers(dest="question", required=True)
    up = questions.add_parser(
        "upstream", help="data versions, validations, features, code and params of a version"
    )
    down = questions.add_parser(
        "downstream", help="prediction partitions of a version and the runs that wrote them"
    )
    for parser in (up, down):
        parser.add_argument("model")
        parser.add_argument("version", type=int)
    trace = questions.add_parser("trace", help="one prediction back to its input row and versions")
    trace.add_argument("model")
    trace.add_argument("date", help="the scoring date, YYYY-MM-DD")
    trace.add_argument("entity_id")
    touched = questions.add_parser("who-touched", help="every run that wrote a table since a date")
    touched.add_argument("table", help="a catalog table name (mlplatform tables)")
    touched.add_argument("--since", required=True, help="YYYY-MM-DD")
    touched.add_argument("--model", help="only this model's writes")
    for parser in (up, down, trace, touched):
        parser.add_argument("--json", action="store_true", help="the full answer as JSON")
        parser.set_defaults(func=cmd_lineage)
