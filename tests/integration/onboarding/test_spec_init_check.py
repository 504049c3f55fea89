"""``mlplatform spec init`` then ``spec check`` on real files, through the CLI, on one Spark session.

The demo's training file and (when ``../shared/datasets`` has it) IBM's Telco sample: the draft
loads, names the right task, target, id and column kinds, the dry run accepts it, and the dry run
leaves the storage root exactly as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlplatform.config.specs import load_spec

pytestmark = pytest.mark.spark


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spark):  # type: ignore[no-untyped-def]
    """Settings for the CLI (storage root, spec dir, datasets dir) in a temp folder."""
    from mlplatform.config.settings import get_settings

    paths = {name: tmp_path / name for name in ("lake", "specs", "datasets")}
    for path in paths.values():
        path.mkdir()
    monkeypatch.setenv("MLP_STORAGE_ROOT", str(paths["lake"]))
    monkeypatch.setenv("MLP_SPEC_DIR", str(paths["specs"]))
    monkeypatch.setenv("MLP_DATASETS_DIR", str(paths["datasets"]))
    get_settings.cache_clear()
    yield paths
    get_settings.cache_clear()


def _init_and_check(data: Path, target: str, name: str, env: dict[str, Path], capsys) -> tuple:  # type: ignore[no-untyped-def]
    from mlplatform.cli import main

    rc = main(["spec", "init", str(data), "--target", target, "--name", name, "--sample-rows", "3000"])
    out = capsys.readouterr().out
    assert rc == 0, out
    path = env["specs"] / f"{name}.yaml"
    spec = load_spec(path)
    before = _snapshot(env["lake"])
    rc = main(["spec", "check", str(path), "--sample-rows", "3000"])
    captured = capsys.readouterr()
    report = captured.out + captured.err
    assert _snapshot(env["lake"]) == before, "spec check must write nothing under the storage root"
    return spec, path.read_text(), rc, report


def test_demo_training_data(env, capsys) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.demo.data import write_demo_landing

    written = write_demo_landing(env["datasets"] / "demo", 2000, 100, {}, seed=11)
    spec, text, rc, report = _init_and_check(Path(written["training"]), "churned", "demo_churn", env, capsys)
    cols = spec.columns
    assert (spec.task, cols.target, cols.target_positive, cols.id) == (
        "binary",
        "churned",
        "1",
        "customer_id",
    )
    assert set(cols.numeric) == {"tenure_months", "monthly_charges", "total_charges", "support_calls", "age"}
    assert set(cols.categorical) == {"contract", "payment_method", "internet_service", "region"}
    assert spec.source.training.path == "{datasets_dir}/demo/training.csv"
    assert "# REVIEW" in text
    assert rc == 0, report
    assert "rows read (sample): 2000" in report and "PASS" in report
    assert "expect_column_values_to_match_regex(monthly_charges)" in report  # the demo's bad rows
    assert "class balance" in report and "features (9" in report


def test_telco_data(env, capsys, telco_csv: Path) -> None:  # type: ignore[no-untyped-def]
    data = env["datasets"] / telco_csv.name
    shutil.copy(telco_csv, data)  # a copy: a symlink resolves outside the readable roots
    spec, text, rc, report = _init_and_check(data, "Churn", "telco_onboarded", env, capsys)
    cols = spec.columns
    assert (spec.task, cols.target, cols.target_positive, cols.id) == (
        "binary",
        "churn",
        "Yes",
        "customer_id",
    )
    assert cols.rename["TotalCharges"] == "total_charges" and cols.rename["customerID"] == "customer_id"
    assert {"tenure", "monthly_charges", "total_charges", "senior_citizen"} == set(cols.numeric)
    assert {"contract", "internet_service", "payment_method", "gender"} <= set(cols.categorical)
    assert "total_charges" not in spec.validation.required  # 11 blanks: imputed, not quarantined
    assert rc == 0, report
    assert "PASS" in report and "'No'" in report and "'Yes'" in report


def test_check_fails_a_batch_over_the_bad_row_limit(env, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.cli import main

    data = env["datasets"] / "small.csv"
    rows = ["id,amount,kind,label"] + [f"{i},{i % 7}.5,{'ab'[i % 2]},{i % 2}" for i in range(60)]
    rows += [f"{60 + i},lots,a,1" for i in range(10)]  # not numbers: 1 in 7 rows fail
    data.write_text("\n".join(rows) + "\n")
    spec = env["specs"] / "small.yaml"
    spec.write_text(
        "name: small\n"
        "source:\n"
        "  training: {path: '{datasets_dir}/small.csv', options: {header: 'true'}}\n"
        "  scoring: {path: '{storage_root}/x/{ds}.csv'}\n"
        "columns: {id: id, target: label, numeric: [amount], categorical: [kind]}\n"
        "validation: {max_bad_row_fraction: 0.05}\n"
    )
    before = _snapshot(env["lake"])
    assert main(["spec", "check", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "would be quarantined: 10 rows" in out and "FAIL" in out
    assert "expect_column_values_to_match_regex(amount): 10 rows" in out
    assert "line 62 (id=60)" in out  # the first bad row is the file's line 62
    assert _snapshot(env["lake"]) == before


def test_regression_data_with_a_leaking_column(env, capsys) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.cli import main

    rows = ["Order ID,Basket Size,channel,refund_total,delivery_hours"]
    for i in range(400):
        hours = 5 + (i * 37) % 90 + 0.5
        rows.append(f"{i},{1 + (i * 7) % 11},{'web' if i % 3 else 'shop'},{hours * 3 + 1:.1f},{hours}")
    data = env["datasets"] / "orders.csv"
    data.write_text("\n".join(rows) + "\n")
    assert main(["spec", "init", str(data), "--target", "delivery_hours"]) == 0
    out = capsys.readouterr().out
    spec = load_spec(env["specs"] / "orders.yaml")
    assert (spec.task, spec.columns.id, spec.columns.target) == ("regression", "order_id", "delivery_hours")
    assert spec.columns.rename == {"Order ID": "order_id", "Basket Size": "basket_size"}
    assert spec.columns.numeric == ["basket_size"] and spec.columns.categorical == ["channel"]
    assert "left out: refund_total: single-feature |Spearman| 1.000" in out
    assert spec.promotion.max_rmse is not None and spec.promotion.min_r2 == 0.0


def test_parquet_with_typed_columns_and_missing_codes(env, capsys) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from mlplatform.cli import main

    n = 600
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "pdays": [-1 if i % 4 == 0 else 1 + (i * 11) % 300 for i in range(n)],
            "job": [
                "unknown" if i % 10 == 0 else ["admin", "blue-collar", "services"][i % 3] for i in range(n)
            ],
            "balance": [float((i * 53) % 5000) - 200.0 for i in range(n)],
            "subscribed": ["yes" if (i * 7) % 5 == 0 else "no" for i in range(n)],
        }
    )
    data = env["datasets"] / "bank.parquet"
    frame.to_parquet(data, index=False)
    assert main(["spec", "init", str(data), "--target", "subscribed"]) == 0
    capsys.readouterr()
    spec = load_spec(env["specs"] / "bank.yaml")
    assert (
        spec.source.training.format == "parquet"
        and spec.source.training.path == "{datasets_dir}/bank.parquet"
    )
    assert (spec.columns.id, spec.columns.target_positive) == ("account_id", "yes")
    assert spec.columns.missing_values == {"pdays": ["-1"], "job": ["unknown"]}
    assert set(spec.columns.numeric) == {"pdays", "balance"} and spec.columns.categorical == ["job"]
    assert "unknown" not in spec.validation.allowed_values["job"]
    assert main(["spec", "check", str(env["specs"] / "bank.yaml")]) == 0
    out = capsys.readouterr().out
    assert "missing codes read as null (rows): pdays 150, job 60" in out
