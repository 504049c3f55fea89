"""Command line: resolve the Spark jars, write demo data, and summarise what the lifecycle left.

``python -m mlplatform.cli jars``: resolve Delta's jars into the local cache (bake into images).
``python -m mlplatform.cli demo-data --train-rows N --batch-rows N --clean DS --drifted DS``.
``python -m mlplatform.cli summary --model churn_demo --dates DS [DS ...]``.
``mlplatform tables``: the table catalog as Markdown.
``mlplatform reproduce --model M --version N``: retrain a version exactly and compare.
``mlplatform spec init DATA --target COL`` / ``spec check SPEC`` / ``spec reference``: onboarding.
``mlplatform run DAG_ID DATE``: run a DAG through Airflow with the project's environment.
``mlplatform lineage upstream|downstream|trace|who-touched``: lineage questions (no Spark).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlplatform.config.settings import get_settings
from mlplatform.io.catalog import PLATFORM_TABLES
from mlplatform.io.layout import StorageLayout


def cmd_jars(_: argparse.Namespace) -> int:
    from mlplatform.io.spark import resolve_jars

    for jar in resolve_jars():
        print(jar)
    return 0


def cmd_tables(_: argparse.Namespace) -> int:
    from mlplatform.io.catalog import markdown_table

    print(markdown_table())
    return 0


def cmd_spec_schema(args: argparse.Namespace) -> int:
    """Write the spec's JSON Schema (for editors: yaml-language-server) from the pydantic model."""
    from mlplatform.config.specs import spec_json_schema

    text = spec_json_schema()
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0


def cmd_catalog(_: argparse.Namespace) -> int:
    from mlplatform.config.specs import load_specs
    from mlplatform.features.feature_catalog import sync_catalog
    from mlplatform.io.spark import get_spark

    settings = get_settings()
    layout = StorageLayout(settings.storage_root)
    specs = list(load_specs(settings.spec_dir).values())
    uri = layout.platform_table("feature_catalog")
    rows = sync_catalog(get_spark(settings), uri, layout.platform_table("model_registry"), specs)
    print(f"feature catalog: {rows} features of {len(specs)} specs in {uri}")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from mlplatform.demo.data import write_demo_landing
    from mlplatform.demo.task_data import TASK_DEMOS, write_task_demo_landing

    settings = get_settings()
    landing = StorageLayout(settings.storage_root).landing_dir(args.model)
    dates = {ds: False for ds in args.clean} | {ds: True for ds in args.drifted}
    rows = args.train_rows or settings.demo_rows
    if args.model in TASK_DEMOS:
        written = write_task_demo_landing(args.model, landing, rows, args.batch_rows, dates)
    else:
        written = write_demo_landing(landing, rows, args.batch_rows, dates)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def collect_summary(model: str, dates: list[str]) -> dict[str, Any]:
    """What the demo left behind, read back from the Delta tables."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from mlplatform.data.validation import DATA_DOCS_INDEX
    from mlplatform.io import files
    from mlplatform.io.spark import get_spark
    from mlplatform.registry import ModelRegistry

    settings = get_settings()
    layout = StorageLayout(settings.storage_root)
    spark = get_spark(settings)

    def table(uri: str):  # type: ignore[no-untyped-def]
        return spark.read.format("delta").load(uri) if DeltaTable.isDeltaTable(spark, uri) else None

    registry = ModelRegistry(spark, layout.platform_table("model_registry"))
    champ = registry.champion_version(model)
    summary: dict[str, Any] = {
        "model": model,
        "storage_root": settings.storage_root,
        "versions": [int(v["version"]) for v in registry.versions(model)],
        "champion_version": champ,
    }
    if champ is not None:
        loaded = registry.load_version(model, champ)
        summary["champion_metrics"] = {k: round(float(v), 4) for k, v in loaded.metrics.items()}
        summary["champion_artifacts"] = loaded.artifact_uri
        summary["shap_report"] = layout.shap_report(model, champ)
    quarantine = table(layout.platform_table("quarantine"))
    bronze = table(layout.model_table(model, "bronze"))
    predictions = table(layout.platform_table("predictions"))
    drift = table(layout.platform_table("drift_metrics"))
    decisions = table(layout.platform_table("monitoring_decisions"))
    performance = table(layout.platform_table("performance_metrics"))
    per_date = []
    for ds in dates:
        batch_id = f"score__{ds}"
        row: dict[str, Any] = {"date": ds}
        if bronze is not None:
            row["batch_rows"] = bronze.where(F.col("_batch_id") == batch_id).count()
        if quarantine is not None:
            row["quarantined"] = quarantine.where(
                (F.col("model_name") == model) & (F.col("batch_id") == batch_id)
            ).count()
        if predictions is not None:
            row["predictions"] = predictions.where(
                (F.col("model_name") == model) & (F.col("score_date") == F.to_date(F.lit(ds)))
            ).count()
        if drift is not None:
            metrics = drift.where(
                (F.col("model_name") == model) & (F.col("score_date") == F.to_date(F.lit(ds)))
            )
            row["drifted_features"] = sorted(
                r["feature"] for r in metrics.where("drifted AND scope = 'input'").collect()
            )
            row["skewed_model_inputs"] = sorted(
                r["feature"] for r in metrics.where("drifted AND scope = 'model_input'").collect()
            )
            pred = metrics.where("scope = 'prediction'").collect()
            row["prediction_psi"] = round(float(pred[0]["psi"]), 4) if pred else None
        if decisions is not None:
            latest = (
                decisions.where(
                    (F.col("model_name") == model) & (F.col("score_date") == F.to_date(F.lit(ds)))
                )
                .orderBy(F.desc("decided_at"))
                .first()
            )
            if latest is not None:
                row["policy"] = latest["reason"]
                row["retrain"] = bool(latest["retrain"])
        if performance is not None:
            perf = performance.where(
                (F.col("model_name") == model) & (F.col("score_date") == F.to_date(F.lit(ds)))
            ).first()
            metric = "rmse" if perf is not None and perf["rmse"] is not None else "auc"
            if perf is not None and perf[metric] is not None:
                row["labelled_metric"] = (metric.upper(), round(float(perf[metric]), 4))
                row["labelled_rows"] = int(perf["labeled_rows"])
        row["drift_report"] = layout.drift_report(model, ds)
        per_date.append(row)
    summary["scoring"] = per_date
    summary["version_history"] = _version_history(
        registry.versions(model), table(layout.platform_table("promotion_decisions")), model
    )
    catalog = table(layout.platform_table("feature_catalog"))
    summary["catalog_features"] = catalog.count() if catalog is not None else 0
    lineage = table(layout.platform_table("lineage"))
    summary["lineage_rows"] = (
        lineage.where(F.col("model_name") == model).count() if lineage is not None else 0
    )
    summary["tables"] = {
        **{name: layout.model_table(model, name) for name in ("bronze", "validated", "features")},
        **{name: layout.platform_table(name) for name in PLATFORM_TABLES},
    }
    docs = f"{layout.data_docs_dir()}/{DATA_DOCS_INDEX}"
    summary["data_docs"] = docs if files.exists(docs) else None
    return summary


def _version_history(registered: list[dict[str, Any]], decisions: Any, model: str) -> list[dict[str, Any]]:
    """Per version: what it trained on (base batch, labelled scoring dates), its booster, and the
    promotion decision with both AUCs on the same holdout rows."""
    from pyspark.sql import functions as F

    latest: dict[int, Any] = {}
    if decisions is not None:
        for d in decisions.where(F.col("model_name") == model).orderBy("decided_at").collect():
            latest[int(d["version"])] = d
    history = []
    for entry in registered:
        version = int(entry["version"])
        inputs = json.loads(entry["training_inputs"] or "{}")
        window = inputs.get("window") or {}
        item: dict[str, Any] = {
            "version": version,
            "booster_sha256": entry["booster_sha256"],
            "window": window.get("reason") if window else "no training window",
            "train_dates": window.get("train_dates", []) if window.get("used") else [],
            "holdout_dates": window.get("holdout_dates", []) if window.get("used") else [],
            "labelled_rows": window.get("labelled_rows", {}),
        }
        decision = latest.get(version)
        if decision is not None:
            item["promoted"] = bool(decision["promoted"])
            item["decision"] = decision["reason"]
            checks = json.loads(decision["checks"] or "[]")
            against = next((c for c in checks if "same_holdout_rows" in c), None)
            if against is not None:
                metric = against.get("metric", "auc")
                item["comparison"] = {
                    "metric": metric.upper(),
                    "challenger": against.get(f"challenger_{metric}"),
                    "champion": against.get(f"champion_{metric}"),
                    **{k: against.get(k) for k in ("champion_version", "same_holdout_rows")},
                    "holdout_dates": (against.get("holdout") or {}).get("dates") or "hash split",
                }
        history.append(item)
    return history


def _format_versions(history: list[dict[str, Any]]) -> list[str]:
    lines = ["", "Versions:"]
    for item in history:
        trained = (
            f"base rows + labelled batches {', '.join(item['train_dates'])}"
            if item["train_dates"]
            else "the base source"
        )
        lines.append(
            f"  v{item['version']}: trained on {trained}; booster sha256 {item['booster_sha256'][:12]}"
        )
        comparison = item.get("comparison")
        if comparison:
            lines.append(
                f"      on the same {comparison['same_holdout_rows']} holdout rows ({comparison['holdout_dates']}): "
                f"{comparison['metric']} v{item['version']} {comparison['challenger']:.4f} vs "
                f"v{comparison['champion_version']} {comparison['champion']:.4f}"
            )
        if "promoted" in item:
            lines.append(f"      {'PROMOTED' if item['promoted'] else 'not promoted'}: {item['decision']}")
    return lines


SUMMARY_METRICS = {
    "auc": "AUC",
    "pr_auc": "PR-AUC",
    "macro_f1": "macro-F1",
    "accuracy": "accuracy",
    "logloss": "logloss",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
}


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        "",
        "=" * 78,
        f"Model lifecycle summary: {summary['model']}",
        "=" * 78,
        f"Registered versions: {summary['versions']}   champion: v{summary['champion_version']}",
    ]
    if "champion_metrics" in summary:
        m = summary["champion_metrics"]
        shown = [(k, m[k]) for k in SUMMARY_METRICS if m.get(k) is not None]
        lines.append(
            "Champion holdout metrics: " + "  ".join(f"{SUMMARY_METRICS[k]} {v:.4f}" for k, v in shown)
        )
    lines.append("")
    lines.append("Scoring batches:")
    for row in summary["scoring"]:
        drifted = ", ".join(row.get("drifted_features") or []) or "none"
        lines.append(
            f"  {row['date']}: {row.get('batch_rows', 0)} rows, {row.get('quarantined', 0)} quarantined, "
            f"{row.get('predictions', 0)} predictions; drifted features: {drifted}; "
            f"prediction PSI {row.get('prediction_psi')}"
        )
        if row.get("labelled_metric") is not None:
            name, value = row["labelled_metric"]
            lines.append(f"      late labels: {name} {value} on {row['labelled_rows']} labelled rows")
        if row.get("policy"):
            lines.append(f"      policy: {'RETRAIN: ' if row.get('retrain') else ''}{row['policy']}")
    lines += _format_versions(summary.get("version_history", []))
    lines.append("")
    lines.append("Reports:")
    if summary.get("shap_report"):
        lines.append(f"  SHAP report:  {summary['shap_report']}")
    for row in summary["scoring"]:
        lines.append(f"  Drift report: {row['drift_report']}")
    if summary.get("data_docs"):
        lines.append(f"  GX Data Docs: {summary['data_docs']}")
    lines.append("")
    lines.append(
        f"Delta tables (lineage rows for this model: {summary['lineage_rows']}; "
        f"feature catalog: {summary['catalog_features']} features):"
    )
    for name, uri in summary["tables"].items():
        lines.append(f"  {name:<20} {uri}")
    lines.append("=" * 78)
    return "\n".join(lines)


def cmd_summary(args: argparse.Namespace) -> int:
    summary = collect_summary(args.model, args.dates)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    print(format_summary(summary))
    return 0 if summary["champion_version"] is not None else 1


def cmd_retire(args: argparse.Namespace) -> int:
    """Retire a model outside Airflow (same step as the retirement DAG, recorded as a CLI run)."""
    from mlplatform.core.context import RunContext
    from mlplatform.lifecycle.runner import run_step

    ctx = RunContext.for_cli("retire", args.model, reason=args.reason)
    result = run_step("retire", args.model, ctx, audit_trigger=True, reason=args.reason)
    print(json.dumps(result, indent=2, default=str))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Retrain a registered version exactly and compare; exit 0 on a match, 1 on a mismatch or a
    spec change, 2 on an error."""
    from mlplatform.core.errors import RegistryError
    from mlplatform.io.spark import get_spark
    from mlplatform.modeling.reproduce import ReproduceError, SpecChangedError, reproduce_version

    settings = get_settings()
    base = {"model": args.model, "version": args.version, "passed": False}
    try:
        report = reproduce_version(
            get_spark(settings), settings, args.model, args.version, tolerance=args.tolerance
        )
    except SpecChangedError as exc:
        print(json.dumps({**base, "error": str(exc), "spec_changes": exc.changes}, indent=2))
        return 1
    except (ReproduceError, RegistryError) as exc:
        print(json.dumps({**base, "error": str(exc)}, indent=2))
        return 2
    print(json.dumps(report, indent=2, sort_keys=True, default=str))
    return 0 if report["passed"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlplatform", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("jars", help="resolve Delta's jars into the local cache").set_defaults(func=cmd_jars)
    sub.add_parser("tables", help="print the table catalog as Markdown (the README's list)").set_defaults(
        func=cmd_tables
    )
    schema = sub.add_parser("spec-schema", help="print (or write) the model spec's JSON Schema")
    schema.add_argument("--output", help="write it to this file instead")
    schema.set_defaults(func=cmd_spec_schema)
    sub.add_parser("catalog", help="sync every spec's features into the feature catalog").set_defaults(
        func=cmd_catalog
    )
    demo = sub.add_parser("demo-data", help="write deterministic demo data to the landing folder")
    demo.add_argument("--model", default="churn_demo")
    demo.add_argument("--train-rows", type=int, default=0, help="0 = MLP_DEMO_ROWS")
    demo.add_argument("--batch-rows", type=int, default=5000)
    demo.add_argument("--clean", nargs="*", default=[])
    demo.add_argument("--drifted", nargs="*", default=[])
    retire = sub.add_parser("retire", help="retire a model: archive its versions, remove the champion alias")
    retire.add_argument("--model", required=True)
    retire.add_argument("--reason", required=True)
    retire.set_defaults(func=cmd_retire)
    demo.set_defaults(func=cmd_demo_data)
    from mlplatform.modeling.reproduce import DEFAULT_TOLERANCE

    again = sub.add_parser("reproduce", help="retrain a registered model version exactly and compare")
    again.add_argument("--model", required=True)
    again.add_argument("--version", required=True, type=int)
    again.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    again.set_defaults(func=cmd_reproduce)
    summary = sub.add_parser("summary", help="print what the lifecycle left in the tables")
    summary.add_argument("--model", default="churn_demo")
    summary.add_argument("--dates", nargs="*", default=[])
    summary.add_argument("--json", help="also write the summary as JSON to this file")
    summary.set_defaults(func=cmd_summary)
    from mlplatform.lifecycle.maintenance import register as register_maintain
    from mlplatform.lineage.commands import register as register_lineage
    from mlplatform.onboarding.commands import register

    register(sub)
    register_lineage(sub)
    register_maintain(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
