"""The demo churn generator: deterministic, labelled with a real signal, defective and drifted on demand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlplatform.demo.data import (
    BAD_ROW_KINDS,
    COLUMNS,
    CONTRACTS,
    INTERNET_SERVICES,
    PAYMENT_METHODS,
    churn_probability,
    generate_customers,
    write_csv,
    write_demo_landing,
)

N = 20_000


@pytest.fixture(scope="module")
def plain() -> pd.DataFrame:
    return generate_customers(N, seed=7)


@pytest.fixture(scope="module")
def drifted() -> pd.DataFrame:
    return generate_customers(N, seed=7, drift=True)


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _defects(df: pd.DataFrame) -> dict[str, pd.Series]:
    age = _num(df["age"])
    return {
        "non_numeric_monthly_charges": _num(df["monthly_charges"]).isna() & (df["monthly_charges"] != ""),
        "age_out_of_range": (age < 18) | (age > 110),
        "invalid_contract": ~df["contract"].isin(CONTRACTS),
        "missing_customer_id": df["customer_id"] == "",
        "missing_tenure_months": df["tenure_months"] == "",
    }


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    bad = pd.concat(_defects(df), axis=1).any(axis=1)
    return df[~bad]


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    ranks = pd.Series(score).rank().to_numpy()
    pos = label == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_same_seed_is_identical_and_other_seed_differs(plain: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(plain, generate_customers(N, seed=7))
    assert not plain.equals(generate_customers(N, seed=8))


def test_shape_columns_and_ids(plain: pd.DataFrame) -> None:
    assert list(plain.columns) == list(COLUMNS)
    assert len(plain) == N
    ids = plain["customer_id"][plain["customer_id"] != ""]
    assert ids.is_unique
    assert ids.str.fullmatch(r"C\d{7}").all()
    assert "churned" not in generate_customers(100, include_target=False).columns


def test_id_offset_shifts_the_id_range() -> None:
    first = generate_customers(50, seed=1, bad_row_fraction=0.0)
    second = generate_customers(50, seed=1, bad_row_fraction=0.0, id_offset=50)
    assert first["customer_id"].iloc[0] == "C0000001"
    assert second["customer_id"].iloc[0] == "C0000051"
    assert set(first["customer_id"]).isdisjoint(second["customer_id"])


def test_valid_rows_are_in_range(plain: pd.DataFrame) -> None:
    clean = _clean(plain)
    assert _num(clean["tenure_months"]).between(0, 72).all()
    assert _num(clean["monthly_charges"]).between(18, 120).all()
    assert _num(clean["age"]).between(18, 90).all()
    assert _num(clean["support_calls"]).dropna().between(0, 10).all()
    assert (_num(clean["total_charges"]).dropna() >= 0).all()
    assert clean["payment_method"].isin(PAYMENT_METHODS).all()
    assert clean["internet_service"].isin(INTERNET_SERVICES).all()
    for column in ("total_charges", "support_calls"):
        assert 0.005 < (plain[column] == "").mean() < 0.02


def test_bad_rows_have_one_defect_each_and_every_kind_appears(plain: pd.DataFrame) -> None:
    defects = pd.DataFrame(_defects(plain))
    per_row = defects.sum(axis=1)
    assert (per_row <= 1).all()
    assert 0.008 <= (per_row == 1).mean() <= 0.012
    assert set(defects.columns) == set(BAD_ROW_KINDS)
    assert (defects.sum() > 0).all()
    assert not pd.DataFrame(_defects(generate_customers(2000, bad_row_fraction=0.0))).any().any()


def test_churn_base_rate_and_signal(plain: pd.DataFrame) -> None:
    clean = _clean(plain)
    churned = _num(clean["churned"])
    assert 0.15 <= churned.mean() <= 0.35
    by_contract = churned.groupby(clean["contract"]).mean()
    assert by_contract["Month-to-month"] > 2 * by_contract["Two year"]
    short = _num(clean["tenure_months"]) < 12
    assert churned[short].mean() > churned[~short].mean()

    index = {name: i for i, name in enumerate(CONTRACTS)}
    p = churn_probability(
        _num(clean["tenure_months"]).to_numpy(),
        _num(clean["monthly_charges"]).to_numpy(),
        _num(clean["support_calls"]).fillna(1).to_numpy(),
        clean["contract"].map(index).to_numpy(),
        clean["payment_method"].map({n: i for i, n in enumerate(PAYMENT_METHODS)}).to_numpy(),
        clean["internet_service"].map({n: i for i, n in enumerate(INTERNET_SERVICES)}).to_numpy(),
    )
    assert 0.74 < _auc(p, churned.to_numpy()) < 0.88


def test_drift_shifts_only_the_drifted_features(plain: pd.DataFrame, drifted: pd.DataFrame) -> None:
    base, shifted = _clean(plain), _clean(drifted)

    def mean(df: pd.DataFrame, column: str) -> float:
        return float(_num(df[column]).mean())

    assert mean(shifted, "monthly_charges") > 1.2 * mean(base, "monthly_charges")
    assert _num(shifted["monthly_charges"]).max() <= 500
    assert (shifted["contract"] == "Month-to-month").mean() > 0.7
    assert (base["contract"] == "Month-to-month").mean() < 0.6
    assert mean(shifted, "support_calls") > 1.6 * mean(base, "support_calls")
    for column in ("tenure_months", "age", "total_charges"):
        assert abs(mean(shifted, column) / mean(base, column) - 1) < 0.05
    for column in ("payment_method", "internet_service", "region"):
        share = base[column].value_counts(normalize=True)
        other = shifted[column].value_counts(normalize=True).reindex(share.index)
        assert (share - other).abs().max() < 0.02


def test_write_csv_and_landing(tmp_path: Path) -> None:
    frame = generate_customers(30, seed=3)
    path = tmp_path / "nested" / "out.csv"
    assert write_csv(frame, path) == 30
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)

    paths = write_demo_landing(
        tmp_path / "landing", 200, 100, {"2024-01-02": True, "2024-01-01": False}, seed=7
    )
    assert set(paths) == {"training", "2024-01-01", "2024-01-02", "labels:2024-01-02", "labels:2024-01-03"}
    assert Path(paths["2024-01-02"]) == tmp_path / "landing" / "batches" / "2024-01-02.csv"
    assert Path(paths["labels:2024-01-03"]) == tmp_path / "landing" / "labels" / "2024-01-03.csv"
    everything = {key: pd.read_csv(p, dtype=str, keep_default_na=False) for key, p in paths.items()}
    labels = {k: f for k, f in everything.items() if k.startswith("labels:")}
    frames = {k: f for k, f in everything.items() if not k.startswith("labels:")}
    # the labels arriving the next day are the batch's own outcomes, without blank ids
    batch = frames["2024-01-02"]
    arrived = labels["labels:2024-01-03"]
    assert list(arrived.columns) == ["customer_id", "churned"]
    assert set(arrived["customer_id"]) == set(batch.loc[batch["customer_id"] != "", "customer_id"])
    assert len(frames["training"]) == 200
    assert all("churned" in f.columns for f in frames.values())
    ids = pd.concat([f["customer_id"] for f in frames.values()])
    ids = ids[ids != ""]
    assert ids.is_unique
    assert not frames["2024-01-01"].equals(frames["2024-01-02"])
