"""What each catalog page shows, as plain data read from the Delta tables (delta-rs, no JVM).

Each table is read once per page and grouped in pandas, so the model list stays fast with hundreds
of models. The HTML lives in the templates; the routes in ``app``.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from mlplatform.io import files
from mlplatform.io.layout import StorageLayout
from mlplatform.io.table_reader import read_table
from mlplatform.lineage import queries
from mlplatform.registry import events as ev

SORTS = ("name", "champion", "last_scored", "state")
_BEESWARM = re.compile(r'alt="SHAP beeswarm[^"]*" src="data:image/png;base64,([^"]+)"')


def _records(frame: Any) -> list[dict[str, Any]]:
    return [{k: queries._plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}


def _intervals(metrics: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    """The bootstrap intervals the evaluation recorded, as ``metric: [low, high]`` text."""
    found = metrics.get("confidence_intervals") or params.get("confidence_intervals") or {}
    return {
        name: f"[{ci['low']:.4f}, {ci['high']:.4f}] ({ci.get('level', 0.95):.0%})"
        for name, ci in found.items()
        if isinstance(ci, dict) and ci.get("low") is not None and ci.get("high") is not None
    }


def _events_by_model(root: str, model: str | None = None) -> dict[str, list[dict[str, Any]]]:
    registry = read_table(root, "model_registry", model=model).sort_values("event_time", kind="stable")
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in _records(registry):
        grouped.setdefault(row["model_name"], []).append(row)
    return grouped


def _latest(frame: Any, by: str = "score_date") -> dict[str, dict[str, Any]]:
    if frame.empty:
        return {}
    last = frame.sort_values(by, kind="stable").groupby("model_name").tail(1)
    return {row["model_name"]: row for row in _records(last)}


def _labelled_metric(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if not row:
        return None
    if row.get("auc") is not None:
        return {"metric": "AUC", "now": row["auc"], "at_registration": row.get("reference_auc")}
    if row.get("rmse") is not None:
        return {"metric": "RMSE", "now": row["rmse"], "at_registration": row.get("reference_rmse")}
    return None


def model_list(
    root: str, *, q: str = "", sort: str = "name", page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    """The models page: one row per model, searched, sorted and paged."""
    grouped = _events_by_model(root)
    perf = _latest(read_table(root, "performance_metrics"))
    drift = read_table(root, "drift_metrics", columns=["model_name", "score_date", "scope", "drifted"])
    drift = drift[drift["scope"] == "input"]
    verdicts: dict[str, dict[str, Any]] = {}
    if not drift.empty:
        last_day = drift.groupby("model_name")["score_date"].transform("max")
        recent = drift[drift["score_date"] == last_day]
        for model, rows in recent.groupby("model_name"):
            share = float(rows["drifted"].fillna(False).astype(bool).mean())
            verdicts[str(model)] = {
                "date": queries._plain(rows["score_date"].iloc[0]),
                "share_drifted": share,
            }
    decisions = _latest(read_table(root, "monitoring_decisions"), "decided_at")
    rows = []
    for model, events in grouped.items():
        state = ev.lifecycle_state(events)
        champion = state["aliases"].get("champion")
        since = next(
            (
                e["event_time"]
                for e in reversed(events)
                if e["event"] == "promoted" and e["version"] == champion
            ),
            None,
        )
        decision = decisions.get(model) or {}
        rows.append(
            {
                "name": model,
                "versions": len(state["versions"]),
                "champion": champion,
                "champion_since": since,
                "labelled": _labelled_metric(perf.get(model)),
                "last_scored": (verdicts.get(model) or {}).get("date"),
                "drift": verdicts.get(model),
                "policy": {
                    k: decision.get(k) for k in ("degraded", "retrain", "consecutive_degraded", "reason")
                }
                if decision
                else None,
                "state": "retired" if state["retired"] else "active",
            }
        )
    if q:
        rows = [r for r in rows if q.lower() in r["name"].lower()]
    key = sort.lstrip("-") if sort.lstrip("-") in SORTS else "name"
    rows.sort(key=lambda r: (r[key] is None, str(r[key]) if key != "champion" else (r[key] or 0)))
    if sort.startswith("-"):
        rows.reverse()
    total, per_page = len(rows), max(1, min(per_page, 500))
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    return {
        "models": rows[(page - 1) * per_page : page * per_page],
        "total": total,
        "page": page,
        "pages": pages,
        "per_page": per_page,
        "q": q,
        "sort": sort,
    }


def add_spec_facts(rows: list[dict[str, Any]], spec_dir: Any) -> None:
    """Owner, tags and task of the listed models, from their specs (only the page's rows)."""
    from mlplatform.config.specs import load_spec, spec_path

    for row in rows:
        try:
            spec = load_spec(spec_path(spec_dir, row["name"]))
            row.update(owner=spec.owner, tags=list(spec.tags), task=spec.task)
        except Exception:  # a model whose spec was removed or is invalid still lists
            row.update(owner=None, tags=[], task=None)


def model_page(root: str, model: str) -> dict[str, Any] | None:
    """A model: versions with metrics, aliases, the event timeline, decisions and the series."""
    events = _events_by_model(root, model).get(model)
    if not events:
        return None
    state = ev.lifecycle_state(events)
    lineage = read_table(root, "lineage", model=model, columns=["run_id", "trigger_type", "triggered_by"])
    trigger = dict(zip(lineage["run_id"], lineage["trigger_type"], strict=False))
    versions = []
    for e in ev.registered(events):
        metrics = _json(e["metrics"])
        versions.append(
            {
                "version": e["version"],
                "registered_at": e["event_time"],
                "actor": e["actor"],
                "reason": e["reason"],
                "metrics": {k: v for k, v in metrics.items() if isinstance(v, int | float)},
                "intervals": _intervals(metrics, _json(e["params"])),
                "aliases": [a for a, v in state["aliases"].items() if v == e["version"]],
                "archived": e["version"] in state["archived"],
            }
        )
    timeline = [
        {
            **{k: e[k] for k in ("event_time", "event", "version", "alias", "actor", "reason", "run_id")},
            "source": trigger.get(e["run_id"]),
        }
        for e in reversed(events)
    ]
    decisions = read_table(root, "promotion_decisions", model=model).sort_values(
        "decided_at", ascending=False
    )
    decided = [{**d, "checks": _json(d["checks"]) or []} for d in _records(decisions)]
    perf = read_table(root, "performance_metrics", model=model).sort_values("score_date")
    drift = read_table(root, "drift_metrics", model=model, columns=["score_date", "scope", "drifted"])
    drift = drift[drift["scope"] == "input"]
    share = (
        drift.assign(drifted=drift["drifted"].fillna(False).astype(float))
        .groupby("score_date")["drifted"]
        .mean()
        if not drift.empty
        else None
    )
    monitoring = read_table(root, "monitoring_decisions", model=model).sort_values(
        "decided_at", ascending=False
    )
    metric = "auc" if perf["auc"].notna().any() else "rmse"
    return {
        "model": model,
        "state": state,
        "versions": versions,
        "timeline": timeline,
        "decisions": decided,
        "performance": [
            (queries._plain(r["score_date"]), r[metric]) for r in _records(perf) if r[metric] is not None
        ],
        "performance_metric": metric.upper(),
        "drift": [] if share is None else [(queries._plain(d), float(v)) for d, v in share.items()],
        "monitoring": _records(monitoring.head(30)),
    }


def version_page(root: str, model: str, version: int) -> dict[str, Any] | None:
    """A version: its artifacts with checksums, inputs with Delta versions, params, code, reproduce."""
    try:
        up = queries.upstream(root, model, version)
    except queries.LineageNotFound:
        return None
    manifest: dict[str, Any] = {}
    uri = f"{up['artifact_uri']}/manifest.json"
    if files.exists(uri):
        manifest = _json(files.read_text(uri))
    png = beeswarm_png(root, model, version)
    card = f"{up['artifact_uri']}/model_card.md"
    return {
        **up,
        "manifest": manifest,
        "has_shap": files.exists(StorageLayout(root).shap_report(model, version)),
        "beeswarm": base64.b64encode(png).decode() if png else None,
        "card": files.read_text(card) if files.exists(card) else None,
        "reproduce": f"mlplatform reproduce --model {model} --version {version}",
    }


def shap_report_html(root: str, model: str, version: int) -> str | None:
    uri = StorageLayout(root).shap_report(model, version)
    return files.read_text(uri) if files.exists(uri) else None


def beeswarm_png(root: str, model: str, version: int) -> bytes | None:
    """The first beeswarm plot of the version's SHAP report, as PNG bytes."""
    html = shap_report_html(root, model, version)
    found = _BEESWARM.search(html or "")
    return base64.b64decode(found.group(1)) if found else None


def model_card(root: str, model: str, version: int) -> str | None:
    try:
        entry = queries.registered_entry(root, model, version)
    except queries.LineageNotFound:
        return None
    uri = f"{entry['artifact_uri']}/model_card.md"
    return files.read_text(uri) if files.exists(uri) else None


def features_page(root: str) -> list[dict[str, Any]]:
    return _records(read_table(root, "feature_catalog").sort_values("feature_name"))


def run_target(root: str, dag_id: str, run_id: str) -> str | None:
    """The catalog path of a DAG run: the version a training run registered, else the drift report
    of the date a scoring run scored."""
    hit = read_table(
        root,
        "model_registry",
        columns=["model_name", "version"],
        equals={"run_id": run_id, "event": "registered"},
    )
    hit = hit[hit["model_name"].map(lambda m: dag_id.startswith(f"{m}_"))] if len(hit) > 1 else hit
    if not hit.empty:
        return f"/models/{hit.iloc[0]['model_name']}/versions/{int(hit.iloc[0]['version'])}"
    drift = read_table(root, "drift_metrics", columns=["model_name", "score_date"], equals={"run_id": run_id})
    scored = drift[drift["model_name"].map(lambda m: dag_id.startswith(f"{m}_")).astype(bool)]
    if scored.empty:
        return None
    return f"/models/{scored.iloc[0]['model_name']}/drift/{queries._plain(scored.iloc[0]['score_date'])}"


def drift_report_html(root: str, model: str, score_date: str) -> str | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", score_date):
        return None
    uri = StorageLayout(root).drift_report(model, score_date)
    return files.read_text(uri) if files.exists(uri) else None


def graph_layout(graph: dict[str, Any]) -> dict[str, Any]:
    """Columns by kind, from source files to prediction partitions, with x/y for the SVG."""
    order = ["source", "bronze", "validated", "labels", "features", "run", "model_version", "predictions"]
    columns: dict[int, list[dict[str, Any]]] = {}
    for node in graph["nodes"]:
        col = order.index(node["kind"]) if node["kind"] in order else len(order)
        columns.setdefault(col, []).append(node)
    placed, xs = {}, sorted(columns)
    for i, col in enumerate(xs):
        for j, node in enumerate(columns[col]):
            placed[node["id"]] = {**node, "x": 20 + i * 190, "y": 30 + j * 60}
    edges = [
        {
            "x1": placed[e["source"]]["x"] + 160,
            "y1": placed[e["source"]]["y"] + 18,
            "x2": placed[e["target"]]["x"],
            "y2": placed[e["target"]]["y"] + 18,
        }
        for e in graph["edges"]
        if e["source"] in placed and e["target"] in placed
    ]
    height = 60 + 60 * max((len(c) for c in columns.values()), default=1)
    return {"nodes": list(placed.values()), "edges": edges, "width": 40 + 190 * len(xs), "height": height}


def sparkline(series: list[tuple[str, float]], width: int = 520, height: int = 120) -> dict[str, Any]:
    """Points of a small line chart (inline SVG), with the value range for its labels."""
    values = [float(v) for _, v in series if v is not None]
    if not values:
        return {"points": "", "min": None, "max": None, "series": series}
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 40) / max(len(values) - 1, 1)
    points = " ".join(
        f"{20 + i * step:.1f},{height - 20 - (v - low) / span * (height - 40):.1f}"
        for i, v in enumerate(values)
    )
    return {"points": points, "min": low, "max": high, "series": series, "width": width, "height": height}
