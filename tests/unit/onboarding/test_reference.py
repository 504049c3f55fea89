"""docs/spec_reference.md is generated from the pydantic models and documents every field."""

from __future__ import annotations

import re
from typing import Any

from mlplatform.config.specs import ModelSpec
from mlplatform.onboarding.reference import render_reference, walk
from tests.support import PROJECT_ROOT

REFERENCE = PROJECT_ROOT / "docs" / "spec_reference.md"


def _schema_paths(schema: dict[str, Any], node: dict[str, Any], prefix: str) -> list[str]:
    """Every field path from the JSON Schema (independent of the generator's own walk)."""

    def resolve(item: dict[str, Any]) -> dict[str, Any] | None:
        if "$ref" in item:
            return schema["$defs"][item["$ref"].split("/")[-1]]
        for key in ("anyOf", "allOf"):
            for option in item.get(key, []):
                found = resolve(option)
                if found is not None:
                    return found
        if item.get("type") == "array" and isinstance(item.get("items"), dict):
            found = resolve(item["items"])
            return {**found, "_shape": "[]"} if found else None
        if item.get("type") == "object" and isinstance(item.get("additionalProperties"), dict):
            found = resolve(item["additionalProperties"])
            return {**found, "_shape": ".<column>"} if found else None
        return None

    paths = []
    for name, item in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        paths.append(path)
        sub = resolve(item)
        if sub is not None and "properties" in sub:
            paths += _schema_paths(schema, sub, path + sub.get("_shape", ""))
    return paths


def test_the_committed_reference_is_current() -> None:
    assert REFERENCE.read_text() == render_reference(), (
        "docs/spec_reference.md is stale: run `mlplatform spec reference`"
    )


def test_every_field_of_the_model_is_documented() -> None:
    text = REFERENCE.read_text()
    paths = _schema_paths(ModelSpec.model_json_schema(), ModelSpec.model_json_schema(), "")
    assert len(paths) > 100
    assert "validation.ranges.<column>.min" in paths and "features.derived[].op" in paths
    missing = [p for p in paths if f"| `{p}` |" not in text]
    assert missing == []


def test_every_field_has_a_meaning() -> None:
    """No field is documented only in code: every row of the page says what its field means."""
    text = REFERENCE.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) > 100
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]
    assert all(len(c) == 5 for c in cells), [c[0] for c in cells if len(c) != 5]
    assert [c[0] for c in cells if not c[3]] == []
    assert [c[0] for c in cells if c[3].startswith("see ")] == [], "a section field needs its own description"


def test_every_model_field_has_a_description() -> None:
    """Meanings live with the code, as ``Field(description=...)``, for the page and the JSON Schema."""
    undescribed = [
        f"{section}.{name}" if section else name
        for section, _, name, field in walk(ModelSpec)
        if not (field.description or "").strip()
    ]
    assert undescribed == []


def test_meanings_come_from_the_field_descriptions() -> None:
    text = REFERENCE.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `columns.missing_values` |"))
    assert "raw values that mean missing" in row
    row = next(line for line in text.splitlines() if line.startswith("| `validation.duplicate_keys` |"))
    assert "`fail` \\| `quarantine` \\| `keep`" in row and "`fail`" in row
