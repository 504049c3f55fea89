"""Test helpers without side effects (``conftest`` sets Airflow's home on import: never import it)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def spec_dir_with_alerts(target: Path, webhook: str, emails: list[str]) -> Path:
    """A copy of the project's specs whose ``churn_demo`` alerts go to the loopback servers."""
    import yaml

    target.mkdir(parents=True, exist_ok=True)
    for path in (PROJECT_ROOT / "include" / "specs").glob("*.yaml"):
        raw = yaml.safe_load(path.read_text())
        if raw["name"] == "churn_demo":
            raw["alerts"] = {**raw.get("alerts", {}), "webhooks": [webhook], "emails": emails}
        (target / path.name).write_text(yaml.safe_dump(raw, sort_keys=False))
    return target
