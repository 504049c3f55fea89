"""Deterministic synthetic data for the multiclass and regression demo models.

``ticket_routing_demo`` routes support tickets to one of four teams (multiclass); the team depends
on the ticket's product, channel and content signals through a softmax, so a model learns a real
but imperfect routing (macro AUC around 0.85). ``demand_demo`` predicts a store item's units sold
(regression) from price, discount, promotion, weather and the store; the drift mode raises prices
and temperatures. Both write the same landing layout as the churn demo: ``training.csv``,
``batches/{ds}.csv`` and the late labels ``labels/{ds + 1 day}.csv``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from mlplatform.demo.data import write_csv

TEAMS: tuple[str, ...] = ("billing", "technical", "account", "sales")
CHANNELS: tuple[str, ...] = ("email", "chat", "phone", "web form")
PRODUCTS: tuple[str, ...] = ("basic", "pro", "enterprise")
STORE_SIZES: tuple[str, ...] = ("small", "medium", "large")
CATEGORIES: tuple[str, ...] = ("grocery", "electronics", "apparel", "home")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def generate_tickets(n: int, seed: int, *, drift: bool = False, id_offset: int = 0) -> pd.DataFrame:
    """Support tickets with the team that resolved them (``team``), from a softmax over the signals."""
    rng = np.random.default_rng(seed)
    product = rng.choice(len(PRODUCTS), n, p=[0.5, 0.35, 0.15])
    channel = rng.choice(len(CHANNELS), n, p=[0.4, 0.3, 0.2, 0.1] if not drift else [0.15, 0.55, 0.2, 0.1])
    mentions_invoice = rng.binomial(1, 0.3, n)
    error_codes = rng.poisson(0.8 if not drift else 1.6, n)
    account_age_days = np.round(rng.gamma(2.0, 300.0, n))
    message_words = np.round(rng.lognormal(4.0, 0.6, n))
    attachments = rng.poisson(0.5, n)
    logits = np.column_stack(
        [
            2.2 * mentions_invoice - 0.4 * error_codes + 0.3 * (product == 0),
            0.9 * error_codes + 0.5 * attachments + 0.004 * message_words - 0.8,
            1.4 * (account_age_days < 120) + 0.6 * (channel == 2) - 0.6,
            1.2 * (product == 2) + 0.8 * (channel == 3) - 1.0 * mentions_invoice - 0.5,
        ]
    ) + rng.gumbel(0.0, 0.5, (n, len(TEAMS)))
    team = logits.argmax(axis=1)
    return pd.DataFrame(
        {
            "ticket_id": [f"T{id_offset + i:07d}" for i in range(n)],
            "product": np.array(PRODUCTS)[product],
            "channel": np.array(CHANNELS)[channel],
            "mentions_invoice": mentions_invoice,
            "error_codes": error_codes,
            "attachments": attachments,
            "account_age_days": account_age_days.astype(int),
            "message_words": message_words.astype(int),
            "team": np.array(TEAMS)[team],
        }
    )


def generate_demand(n: int, seed: int, *, drift: bool = False, id_offset: int = 0) -> pd.DataFrame:
    """Store-item days with the units sold (``units_sold``): price elasticity, promotions, weather."""
    rng = np.random.default_rng(seed)
    category = rng.choice(len(CATEGORIES), n, p=[0.4, 0.15, 0.25, 0.2])
    size = rng.choice(len(STORE_SIZES), n, p=[0.4, 0.4, 0.2])
    weekday = rng.integers(0, 7, n)
    base_price = np.array([4.0, 180.0, 35.0, 25.0])[category]
    price = np.round(base_price * rng.lognormal(0.0, 0.15, n) * (1.2 if drift else 1.0), 2)
    discount = np.round(rng.choice([0, 0, 0, 5, 10, 20, 30], n), 0)
    promo = rng.binomial(1, 0.2, n)
    temperature = np.round(rng.normal(24.0 if drift else 15.0, 7.0, n), 1)
    level = np.array([60.0, 4.0, 12.0, 9.0])[category] * np.array([0.6, 1.0, 1.8])[size]
    elasticity = (price / base_price) ** -1.4
    weekend = np.isin(weekday, (5, 6))
    season = 1.0 + 0.02 * (temperature - 15.0) * (category == 0)
    mean = level * elasticity * (1 + discount / 60.0) * (1 + 0.5 * promo) * (1 + 0.3 * weekend) * season
    units = np.round(np.maximum(mean * rng.lognormal(0.0, 0.25, n), 0.0), 1)
    return pd.DataFrame(
        {
            "record_id": [f"D{id_offset + i:07d}" for i in range(n)],
            "category": np.array(CATEGORIES)[category],
            "store_size": np.array(STORE_SIZES)[size],
            "weekday": np.array(WEEKDAYS)[weekday],
            "price": price,
            "discount_pct": discount.astype(int),
            "promo": promo,
            "temperature": temperature,
            "units_sold": units,
        }
    )


TASK_DEMOS: dict[str, tuple[Callable[..., pd.DataFrame], str, str]] = {
    "ticket_routing_demo": (generate_tickets, "ticket_id", "team"),
    "demand_demo": (generate_demand, "record_id", "units_sold"),
}


def write_task_demo_landing(
    model: str,
    landing_dir: str | Path,
    n_training_rows: int,
    n_batch_rows: int,
    batch_dates: dict[str, bool],
    seed: int = 7,
) -> dict[str, str]:
    """Training file, scoring batches (True = drifted) and next-day labels for a task demo model."""
    generate, id_col, target = TASK_DEMOS[model]
    root = str(landing_dir).rstrip("/")  # a folder or an s3a:// prefix
    paths = {"training": f"{root}/training.csv"}
    write_csv(generate(n_training_rows, seed), paths["training"])
    for index, ds in enumerate(sorted(batch_dates)):
        frame = generate(
            n_batch_rows,
            zlib.crc32(f"{seed}:{ds}".encode()),
            drift=batch_dates[ds],
            id_offset=n_training_rows + index * n_batch_rows,
        )
        paths[ds] = f"{root}/batches/{ds}.csv"
        write_csv(frame.drop(columns=[target]), paths[ds])
        arrival = (date.fromisoformat(ds) + timedelta(days=1)).isoformat()
        paths[f"labels:{arrival}"] = f"{root}/labels/{arrival}.csv"
        write_csv(frame[[id_col, target]], paths[f"labels:{arrival}"])
    return paths
