"""The closing block of a task log: the step's XCom, one readable line per field."""

from __future__ import annotations

from mlplatform.lifecycle.runner import summary_block


def test_summary_block_shows_every_field_of_the_result() -> None:
    result = {
        "batch_id": "b1",
        "rows": 500,
        "quarantined_rows": 5,
        "auc": 0.8123,
        "promoted": False,
        "features_drifted": ["a", "b"],
        "none_drifted": [],
        "metrics": {"auc": 0.81, "auc_ci": [0.79, 0.83]},
        "long": "x" * 500,
    }
    lines = summary_block(result).splitlines()
    assert lines[:5] == [
        "  batch_id: b1",
        "  rows: 500",
        "  quarantined_rows: 5",
        "  auc: 0.8123",
        "  promoted: False",
    ]
    assert "  features_drifted: a, b" in lines and "  none_drifted: (none)" in lines
    assert '  metrics: {"auc":0.81,"auc_ci":[0.79,0.83]}' in lines
    long = next(line for line in lines if line.startswith("  long: "))
    assert len(long) <= 170 and long.endswith("...")
    assert len(lines) == len(result)
