"""Recent purchase history and the observable signals it yields for (customer, product) pairs.

Customers react to offers through what they have actually bought lately, measured
exactly as the ranking features measure it (the last 90 days before a date, events on
that date excluded). That is what makes the true redemption probability learnable from
the contract's data: latent tastes reach it only through the purchases they caused.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from offerrank.store.db import query_arrow
from offerrank.world.columns import Columns
from offerrank.world.population import N_CAT, Catalogue
from offerrank.world.presets import HISTORY_DAYS, iso_days


@dataclass
class Lines(Columns):
    """Order lines as parallel arrays, in the order they were written to the store."""

    customer: np.ndarray  # customer index (customer_id - 1)
    product: np.ndarray  # product index (product_id - 1)
    day: np.ndarray
    order_id: np.ndarray
    unit_price: np.ndarray
    is_promo: np.ndarray

    @classmethod
    def empty(cls) -> Lines:
        ints = np.zeros(0, dtype=np.int64)
        return cls(ints, ints, ints, ints, np.zeros(0), ints)

    def select(self, customers: np.ndarray, first_day: int, end_day: int) -> Lines:
        """Lines of the given (sorted, unique) customers dated in [first_day, end_day)."""
        if len(self) == 0 or customers.size == 0:
            return Lines.empty()
        mask = (self.day >= first_day) & (self.day < end_day)
        mask &= np.isin(self.customer, customers, kind="table")
        return self.where(mask)


class LineBuffer:
    """The recent lines as a list of chunks (one per simulated day), so that appending a day
    and forgetting old days never copies the whole window."""

    def __init__(self, first: Lines | None = None) -> None:
        self.chunks: list[Lines] = [first] if first is not None and len(first) else []

    def __len__(self) -> int:
        return sum(len(c) for c in self.chunks)

    def append(self, lines: Lines) -> None:
        if len(lines):
            self.chunks.append(lines)

    def trim(self, first_day: int, max_chunks: int = 16) -> None:
        """Forget lines dated before `first_day`: whole chunks at once, and when chunks
        pile up, merge them into one (keeping write order) so selects stay cheap."""
        self.chunks = [c for c in self.chunks if c.day.max() >= first_day]
        if len(self.chunks) > max_chunks:
            merged = _concat(self.chunks)
            self.chunks = [merged.where(merged.day >= first_day)]

    def select(self, customers: np.ndarray, first_day: int, end_day: int) -> Lines:
        parts = [c.select(customers, first_day, end_day) for c in self.chunks]
        return _concat(parts) if parts else Lines.empty()


def _concat(parts: list[Lines]) -> Lines:
    return Lines(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Lines)))


def load_lines(db_path: Path, first_day: int, end_day: int) -> Lines:
    """Lines of orders dated in [first_day, end_day) read from the store, in write order."""
    first, end = iso_days(np.array([first_day, end_day]))
    table = query_arrow(
        db_path,
        "SELECT o.customer_id - 1 AS customer, oi.product_id - 1 AS product,"
        " CAST(julianday(substr(o.order_date, 1, 10)) - 2440587.5 AS INTEGER) AS day,"
        " oi.order_id, oi.unit_price, oi.is_promo"
        " FROM order_items oi JOIN orders o ON o.order_id = oi.order_id"
        " WHERE o.order_date >= ? AND o.order_date < ? ORDER BY oi.rowid",
        [first, end],
    )
    if table.num_rows == 0:
        return Lines.empty()
    col = {n: table.column(n).to_numpy() for n in table.column_names}
    return Lines(
        col["customer"].astype(np.int64),
        col["product"].astype(np.int64),
        col["day"].astype(np.int64),
        col["order_id"].astype(np.int64),
        col["unit_price"].astype(float),
        col["is_promo"].astype(np.int64),
    )


@dataclass
class History:
    """Per-customer aggregates of the lookback window before `as_of`, for sorted `customers`."""

    customers: np.ndarray
    as_of: int
    n_lines: np.ndarray
    n_orders: np.ndarray
    last_day: np.ndarray
    promo_lines: np.ndarray
    discount_sum: np.ndarray
    category_lines: np.ndarray  # (m, categories)
    tier_lines: np.ndarray  # (m, 3)
    category_last_day: np.ndarray  # (m, categories), -1 when never
    bought: np.ndarray  # sorted keys local * n_products + product


def summarize(
    lines: Lines | LineBuffer,
    customers: np.ndarray,
    as_of: int,
    catalogue: Catalogue,
    lookback: int = HISTORY_DAYS,
) -> History:
    """Aggregate the window [as_of - lookback, as_of) of the given customers' lines.

    Sums run over each customer's lines in the order they were written, whichever
    container holds them, so the result is bit-for-bit the same for a world kept in
    memory and for one read back from the store.
    """
    uniq = np.unique(customers)
    m = uniq.size
    w = lines.select(uniq, as_of - lookback, as_of)
    local = np.searchsorted(uniq, w.customer)
    cat = catalogue.category[w.product]
    tier = catalogue.tier[w.product]
    _, first = np.unique(w.order_id, return_index=True)
    last_day = np.full(m, -1, dtype=np.int64)
    np.maximum.at(last_day, local, w.day)
    cat_last = np.full(m * N_CAT, -1, dtype=np.int64)
    np.maximum.at(cat_last, local * N_CAT + cat, w.day)
    usual = np.maximum(0.0, 1.0 - w.unit_price / catalogue.list_price[w.product])
    return History(
        customers=uniq,
        as_of=as_of,
        n_lines=np.bincount(local, minlength=m),
        n_orders=np.bincount(local[first], minlength=m),
        last_day=last_day,
        promo_lines=np.bincount(local, weights=w.is_promo, minlength=m),
        discount_sum=np.bincount(local, weights=usual, minlength=m),
        category_lines=np.bincount(local * N_CAT + cat, minlength=m * N_CAT).reshape(m, N_CAT),
        tier_lines=np.bincount(local * 3 + tier - 1, minlength=m * 3).reshape(m, 3),
        category_last_day=cat_last.reshape(m, N_CAT),
        bought=np.unique(local * catalogue.size + w.product),
    )


def _share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(num.shape, dtype=float), where=den > 0)


def pair_signals(
    hist: History,
    customer: np.ndarray,
    product: np.ndarray,
    catalogue: Catalogue,
    lookback: int = HISTORY_DAYS,
) -> dict[str, np.ndarray]:
    """What a customer's recent purchases say about one product, per (customer, product) pair."""
    local = np.searchsorted(hist.customers, customer)
    n = hist.n_lines[local].astype(float)
    cat = catalogue.category[product]
    last = hist.last_day[local]
    cat_last = hist.category_last_day[local, cat]
    keys = local * catalogue.size + product
    bought = np.zeros(keys.size, dtype=bool)
    if hist.bought.size:
        pos = np.minimum(np.searchsorted(hist.bought, keys), hist.bought.size - 1)
        bought = hist.bought[pos] == keys
    return {
        "recency_days": np.where(last >= 0, hist.as_of - last, lookback + 1).astype(float),
        "frequency": hist.n_orders[local].astype(float),
        "promo_affinity": _share(hist.promo_lines[local], n),
        "usual_discount": _share(hist.discount_sum[local], n),
        "category_affinity": _share(hist.category_lines[local, cat].astype(float), n),
        "tier_match": _share(hist.tier_lines[local, catalogue.tier[product] - 1].astype(float), n),
        "days_since_cat": np.where(cat_last >= 0, hist.as_of - cat_last, lookback + 1).astype(
            float
        ),
        "bought_before": bought.astype(float),
    }
