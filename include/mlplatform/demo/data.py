"""Deterministic synthetic customer-churn data for the ``churn_demo`` model.

The data carries a real but noisy churn signal (a model reaches AUC around 0.8), a small share of
defective rows for validation to catch, and an optional drift mode that shifts exactly three
features (monthly_charges, contract, support_calls) so drift detection has something to find.
"""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS: tuple[str, ...] = (
    "customer_id",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "age",
    "contract",
    "payment_method",
    "internet_service",
    "region",
    "churned",
)
TARGET = "churned"

CONTRACTS: tuple[str, ...] = ("Month-to-month", "One year", "Two year")
PAYMENT_METHODS: tuple[str, ...] = ("Electronic check", "Mailed check", "Bank transfer", "Credit card")
INTERNET_SERVICES: tuple[str, ...] = ("DSL", "Fiber optic", "None")
REGIONS: tuple[str, ...] = ("north", "south", "east", "west")

BAD_ROW_KINDS: tuple[str, ...] = (
    "non_numeric_monthly_charges",
    "age_out_of_range",
    "invalid_contract",
    "missing_customer_id",
    "missing_tenure_months",
)

_CONTRACT_P = np.array([0.55, 0.24, 0.21])
_CONTRACT_P_DRIFT = np.array([0.82, 0.11, 0.07])
_PAYMENT_P = np.array([0.34, 0.22, 0.22, 0.22])
_INTERNET_P = np.array([0.35, 0.45, 0.20])
_REGION_P = np.array([0.28, 0.27, 0.22, 0.23])
_CHARGE_MEAN = np.array([55.0, 88.0, 22.0])
_CHARGE_SD = np.array([10.0, 12.0, 2.5])
_SUPPORT_LAMBDA = np.array([1.3, 1.8, 0.9])

_MISSING_FRACTION = 0.01
_DRIFT_CHARGE_FACTOR = 1.35
_DRIFT_SUPPORT_FACTOR = 2.0


def _pick(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Map uniforms to category indices, so a changed mix reuses the same random draws."""
    return np.searchsorted(np.cumsum(probs)[:-1], u, side="right")


def _fmt2(values: np.ndarray) -> np.ndarray:
    return np.array([f"{v:.2f}" for v in values], dtype=object)


def _ints(values: np.ndarray) -> np.ndarray:
    return np.array([str(int(v)) for v in values], dtype=object)


def churn_probability(
    tenure: np.ndarray,
    monthly: np.ndarray,
    support_calls: np.ndarray,
    contract_idx: np.ndarray,
    payment_idx: np.ndarray,
    internet_idx: np.ndarray,
) -> np.ndarray:
    """The true logistic churn model behind the labels (exposed so tests can check its strength)."""
    logit = (
        -1.8
        + 0.9 * (contract_idx == 0)
        - 1.0 * (contract_idx == 2)
        - 0.04 * tenure
        + 0.018 * (monthly - 65.0)
        + 0.35 * support_calls
        + 0.45 * (internet_idx == 1)
        + 0.50 * (payment_idx == 0)
    )
    return 1.0 / (1.0 + np.exp(-logit))


def generate_customers(
    n_rows: int,
    seed: int = 7,
    *,
    drift: bool = False,
    bad_row_fraction: float = 0.01,
    id_offset: int = 0,
    include_target: bool = True,
) -> pd.DataFrame:
    """Generate ``n_rows`` customers as CSV-ready strings ("" = missing), deterministic per seed.

    The same random draws are used with and without ``drift``, so a drifted frame differs from
    the plain one only in monthly_charges, contract, support_calls and (through them) churned.
    """
    if n_rows < 0:
        raise ValueError("n_rows must be >= 0")
    if not 0.0 <= bad_row_fraction <= 1.0:
        raise ValueError("bad_row_fraction must be in [0, 1]")
    rng = np.random.default_rng(seed)
    n = n_rows

    long_stay = rng.random(n) < 0.4
    tenure_raw = np.where(long_stay, rng.uniform(0, 73, n), rng.exponential(14.0, n))
    tenure = np.clip(np.floor(tenure_raw), 0, 72).astype(int)

    internet = _pick(rng.random(n), _INTERNET_P)
    base_monthly = np.clip(_CHARGE_MEAN[internet] + _CHARGE_SD[internet] * rng.standard_normal(n), 18, 120)
    base_monthly = np.round(base_monthly, 2)
    monthly = np.round(base_monthly * _DRIFT_CHARGE_FACTOR, 2) if drift else base_monthly

    # total_charges follows the unshifted charge: it is history, which a price change has not touched yet
    total = np.round(np.maximum(tenure * base_monthly * rng.normal(1.0, 0.05, n), 0.0), 2)
    total_missing = rng.random(n) < _MISSING_FRACTION

    support_lambda = _SUPPORT_LAMBDA[internet] * (_DRIFT_SUPPORT_FACTOR if drift else 1.0)
    support = np.clip(rng.poisson(support_lambda), 0, 10)
    support_missing = rng.random(n) < _MISSING_FRACTION

    age = np.clip(np.round(rng.normal(45.0, 15.0, n)), 18, 90).astype(int)
    contract = _pick(rng.random(n), _CONTRACT_P_DRIFT if drift else _CONTRACT_P)
    payment = _pick(rng.random(n), _PAYMENT_P)
    region = _pick(rng.random(n), _REGION_P)

    p = churn_probability(tenure, monthly, support, contract, payment, internet)
    churned = (rng.random(n) < p).astype(int)

    n_bad = min(n, int(round(n * bad_row_fraction)))
    bad_positions = rng.choice(n, size=n_bad, replace=False) if n_bad else np.array([], dtype=int)

    frame = pd.DataFrame(
        {
            "customer_id": np.array([f"C{id_offset + i + 1:07d}" for i in range(n)], dtype=object),
            "tenure_months": _ints(tenure),
            "monthly_charges": _fmt2(monthly),
            "total_charges": np.where(total_missing, "", _fmt2(total)).astype(object),
            "support_calls": np.where(support_missing, "", _ints(support)).astype(object),
            "age": _ints(age),
            "contract": np.array(CONTRACTS, dtype=object)[contract],
            "payment_method": np.array(PAYMENT_METHODS, dtype=object)[payment],
            "internet_service": np.array(INTERNET_SERVICES, dtype=object)[internet],
            "region": np.array(REGIONS, dtype=object)[region],
            "churned": _ints(churned),
        },
        columns=list(COLUMNS),
    )
    _inject_bad_rows(frame, bad_positions, rng)
    if not include_target:
        frame = frame.drop(columns=[TARGET])
    return frame


def _inject_bad_rows(frame: pd.DataFrame, positions: np.ndarray, rng: np.random.Generator) -> None:
    """Give each row at ``positions`` exactly one defect, cycling through ``BAD_ROW_KINDS``."""
    columns = {name: frame.columns.get_loc(name) for name in frame.columns}
    for i, pos in enumerate(positions):
        kind = BAD_ROW_KINDS[i % len(BAD_ROW_KINDS)]
        if kind == "non_numeric_monthly_charges":
            frame.iat[pos, columns["monthly_charges"]] = str(rng.choice(["abc", "n/a", "12,5O", "free"]))
        elif kind == "age_out_of_range":
            frame.iat[pos, columns["age"]] = str(rng.choice([-5, 0, 150, 999]))
        elif kind == "invalid_contract":
            frame.iat[pos, columns["contract"]] = str(rng.choice(["Weekly", "Lifetime", "monthly"]))
        elif kind == "missing_customer_id":
            frame.iat[pos, columns["customer_id"]] = ""
        else:
            frame.iat[pos, columns["tenure_months"]] = ""


def write_csv(df: pd.DataFrame, path: str | Path) -> int:
    """Write ``df`` as CSV with a header and no index (a local file or an ``s3a://`` object); rows written."""
    from mlplatform.io import files

    text = str(path)
    if "://" in text and not text.startswith("file://"):
        files.write_text(text, df.to_csv(index=False))
        return len(df)
    target = Path(text.removeprefix("file://"))
    target.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(target, index=False)
    return len(df)


def write_demo_landing(
    landing_dir: str | Path,
    n_training_rows: int,
    n_batch_rows: int,
    batch_dates: dict[str, bool],
    seed: int = 7,
) -> dict[str, str]:
    """Write ``training.csv``, ``batches/{ds}.csv`` (True = drifted) and, as late ground truth,
    ``labels/{ds + 1 day}.csv`` with the outcome of each batch's customers under ``landing_dir``.

    Each batch's seed derives from ``seed`` and its date, so a batch's content does not depend on
    which other dates are requested; id ranges follow date order so ids never collide across files.
    Returns ``{"training": path, ds: path, ...}``.
    """
    root = str(landing_dir).rstrip("/")  # a folder or an s3a:// prefix
    paths: dict[str, str] = {}
    training_path = f"{root}/training.csv"
    write_csv(generate_customers(n_training_rows, seed), training_path)
    paths["training"] = str(training_path)
    for index, ds in enumerate(sorted(batch_dates)):
        batch_seed = zlib.crc32(f"{seed}:{ds}".encode())
        frame = generate_customers(
            n_batch_rows,
            batch_seed,
            drift=batch_dates[ds],
            id_offset=n_training_rows + index * n_batch_rows,
        )
        batch_path = f"{root}/batches/{ds}.csv"
        write_csv(frame, batch_path)
        paths[ds] = str(batch_path)
        arrival = (date.fromisoformat(ds) + timedelta(days=1)).isoformat()
        labels = frame[["customer_id", "churned"]].dropna()
        labels = labels[labels["customer_id"].astype(str).str.strip() != ""]
        labels_path = f"{root}/labels/{arrival}.csv"
        write_csv(labels, labels_path)
        paths[f"labels:{arrival}"] = str(labels_path)
    return paths
