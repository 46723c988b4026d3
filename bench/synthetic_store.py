"""A synthetic contract store of realistic size, built with NumPy, for feature benchmarks.

It is not the simulated world (no latent tastes, no ground truth): only volumes and
shapes that matter for speed (skewed customer activity, popular products, offers of a
few weeks, impressions and redemptions near the end). Default: 50k customers, 10M lines.

Example:
    .venv/bin/python bench/synthetic_store.py --db /tmp/bench.db --lines 10000000
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from datetime import date
from pathlib import Path

import numpy as np

from offerrank.store.contract import INPUT_TABLES, create_table_sql

BUSINESS_TYPES = np.array(["restaurant", "hotel", "catering", "trader", "office", "private"])
EPOCH = date(1970, 1, 1)


def _iso(days: np.ndarray) -> list[str]:
    """Epoch days to ISO text, vectorised through numpy datetime64."""
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D").tolist()


def _insert(con: sqlite3.Connection, table: str, columns: dict[str, list]) -> None:
    names = list(columns)
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    con.executemany(sql, zip(*columns.values(), strict=True))


def _customers(rng: np.random.Generator, n: int) -> dict[str, list]:
    return {
        "customer_id": np.arange(1, n + 1).tolist(),
        "business_type": rng.choice(BUSINESS_TYPES, n).tolist(),
        "signup_date": [None] * n,
    }


def _products(rng: np.random.Generator, n: int, n_categories: int = 25) -> dict[str, list]:
    category = rng.integers(0, n_categories, n)
    list_price = np.round(rng.lognormal(1.5, 0.8, n), 2) + 0.1
    return {
        "product_id": np.arange(1, n + 1).tolist(),
        "category": [f"cat{c:02d}" for c in category.tolist()],
        "is_fresh": (category < 6).astype(int).tolist(),
        "price_tier": rng.integers(1, 4, n).tolist(),
        "is_own_brand": (rng.random(n) < 0.3).astype(int).tolist(),
        "list_price": list_price.tolist(),
        "unit_cost": np.round(list_price * rng.uniform(0.5, 0.95, n), 2).tolist(),
    }


def _orders_and_items(
    rng: np.random.Generator, customers: int, products: int, lines: int, first: int, last: int
) -> tuple[dict[str, list], dict[str, list]]:
    n_orders = max(1, lines // 8)
    activity = rng.gamma(0.8, 1.0, customers)
    customer = rng.choice(np.arange(1, customers + 1), n_orders, p=activity / activity.sum())
    day = rng.integers(first, last, n_orders)
    orders = {
        "order_id": np.arange(1, n_orders + 1).tolist(),
        "customer_id": customer.tolist(),
        "order_date": _iso(day),
        "is_business": (rng.random(n_orders) < 0.6).astype(int).tolist(),
        "store_id": rng.integers(1, 40, n_orders).tolist(),
    }
    order_of_line = np.sort(rng.integers(1, n_orders + 1, lines))
    popularity = 1.0 / np.arange(1, products + 1) ** 0.9
    product = rng.choice(np.arange(1, products + 1), lines, p=popularity / popularity.sum())
    items = {
        "order_id": order_of_line.tolist(),
        "product_id": product.tolist(),
        "quantity": rng.integers(1, 12, lines).astype(float).tolist(),
        "unit_price": np.round(rng.lognormal(1.4, 0.8, lines), 2).tolist(),
        "is_promo": (rng.random(lines) < 0.15).astype(int).tolist(),
    }
    return orders, items


def _offers(rng: np.random.Generator, n: int, products: int, first: int, last: int) -> tuple:
    start = rng.integers(first, last, n)
    end = start + rng.integers(7, 29, n)
    targeted = rng.random(n) < 0.3
    target = np.where(targeted, rng.choice(BUSINESS_TYPES, n), np.array(None, dtype=object))
    offers = {
        "offer_id": np.arange(1, n + 1).tolist(),
        "product_id": rng.integers(1, products + 1, n).tolist(),
        "start_date": _iso(start),
        "end_date": _iso(end),
        "discount_pct": np.round(rng.uniform(0.05, 0.5, n), 3).tolist(),
        "target_business_type": target.tolist(),
    }
    return offers, start, end


def _impressions(
    rng: np.random.Generator, n: int, customers: int, start: np.ndarray, end: np.ndarray, last: int
) -> tuple[dict[str, list], dict[str, list]]:
    offer = rng.integers(0, len(start), n)
    shown = start[offer] + (rng.random(n) * (end[offer] - start[offer] + 1)).astype(int)
    keep = shown < last
    offer, shown = offer[keep], shown[keep]
    customer = rng.integers(1, customers + 1, len(offer))
    impressions = {
        "impression_id": np.arange(1, len(offer) + 1).tolist(),
        "customer_id": customer.tolist(),
        "offer_id": (offer + 1).tolist(),
        "shown_date": _iso(shown),
        "channel": rng.choice(np.array(["app", "email", "print"]), len(offer)).tolist(),
        "propensity": np.round(rng.uniform(0.05, 1.0, len(offer)), 3).tolist(),
    }
    hit = rng.random(len(offer)) < 0.06
    redeemed = shown[hit] + rng.integers(0, 11, hit.sum())
    ok = redeemed < last
    redemptions = {
        "redemption_id": np.arange(1, ok.sum() + 1).tolist(),
        "customer_id": customer[hit][ok].tolist(),
        "offer_id": (offer[hit][ok] + 1).tolist(),
        "redeemed_date": _iso(redeemed[ok]),
        "order_id": [None] * int(ok.sum()),
    }
    return impressions, redemptions


def build_synthetic_store(
    path: Path,
    *,
    customers: int = 50_000,
    products: int = 2_000,
    lines: int = 10_000_000,
    offers: int = 3_000,
    impressions: int = 1_500_000,
    end: date = date(2026, 2, 16),
    history_days: int = 400,
    seed: int = 7,
) -> Path:
    """Write a fresh store at `path`: events dated in [end - history_days, end)."""
    rng = np.random.default_rng(seed)
    last = (end - EPOCH).days
    first = last - history_days
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    for table in INPUT_TABLES:
        con.execute(create_table_sql(table))
    _insert(con, "customers", _customers(rng, customers))
    _insert(con, "products", _products(rng, products))
    orders, items = _orders_and_items(rng, customers, products, lines, first, last)
    _insert(con, "orders", orders)
    del orders
    _insert(con, "order_items", items)
    del items
    offer_rows, start, stop = _offers(rng, offers, products, first, last + 30)
    _insert(con, "offers", offer_rows)
    shown, redeemed = _impressions(rng, impressions, customers, start, stop, last)
    _insert(con, "impressions", shown)
    _insert(con, "redemptions", redeemed)
    con.commit()
    con.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 2, 16))
    args = parser.parse_args()
    t0 = time.perf_counter()
    build_synthetic_store(args.db, customers=args.customers, lines=args.lines, end=args.end)
    print(f"built {args.db} in {time.perf_counter() - t0:.1f}s (events before {args.end})")


if __name__ == "__main__":
    main()
