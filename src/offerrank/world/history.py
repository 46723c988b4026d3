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
from offerrank.world.columns import Columns, distinct
from offerrank.world.population import Catalogue
from offerrank.world.presets import HISTORY_DAYS, iso_days


@dataclass
class Lines(Columns):
    """Order lines as parallel arrays; per customer, in the order they were written."""

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


def _narrow(values: np.ndarray) -> np.ndarray:
    """int32 when every value fits (the window of a million customers is ~75M lines)."""
    if values.size == 0 or (values.min() >= 0 and values.max() < 2**31):
        return values.astype(np.int32)
    return values.astype(np.int64)


@dataclass
class DayLines:
    """One day's lines grouped by customer (write order kept within a customer): customer
    `customers[i]` owns lines `starts[i]:starts[i + 1]`; per-line columns are narrow."""

    day: int
    customers: np.ndarray  # sorted, unique
    starts: np.ndarray
    product: np.ndarray
    order_offset: np.ndarray  # order_id - first_order
    first_order: int
    unit_price: np.ndarray
    is_promo: np.ndarray

    @classmethod
    def of(cls, day: int, lines: Lines) -> DayLines:
        order = np.argsort(lines.customer, kind="stable")
        customers, starts = np.unique(lines.customer[order], return_index=True)
        first = int(lines.order_id.min()) if len(lines) else 0
        return cls(
            day=day,
            customers=customers.astype(np.int64),
            starts=np.append(starts, order.size).astype(np.int64),
            product=_narrow(lines.product[order]),
            order_offset=_narrow(lines.order_id[order] - first),
            first_order=first,
            unit_price=lines.unit_price[order].astype(float),
            is_promo=lines.is_promo[order].astype(np.int8),
        )

    def __len__(self) -> int:
        return int(self.product.size)

    def take(self, customers: np.ndarray) -> Lines:
        """The lines of the given sorted customers, customer by customer."""
        pos = np.minimum(np.searchsorted(self.customers, customers), self.customers.size - 1)
        pos = pos[self.customers[pos] == customers]
        lo, n = self.starts[pos], self.starts[pos + 1] - self.starts[pos]
        ends = np.cumsum(n)
        rows = np.arange(int(ends[-1]) if ends.size else 0) + np.repeat(lo - ends + n, n)
        return Lines(
            np.repeat(self.customers[pos].astype(np.int64), n),
            self.product[rows].astype(np.int64),
            np.full(rows.size, self.day, dtype=np.int64),
            self.order_offset[rows].astype(np.int64) + self.first_order,
            self.unit_price[rows],
            self.is_promo[rows].astype(np.int64),
        )


class LineBuffer:
    """The recent lines, one `DayLines` per day in day order.

    Selecting a few thousand customers out of 90 days is then a binary search per day
    and a gather of their own lines, not a scan of the whole window; forgetting a day
    drops its chunk. Per customer the lines come back in write order (days ascending,
    the day's own order within a day), which is all that order-dependent sums need.
    """

    def __init__(self) -> None:
        self.days: list[DayLines] = []

    @classmethod
    def of(cls, lines: Lines) -> LineBuffer:
        """A buffer of lines in write order (as read back from the store)."""
        buffer = cls()
        if len(lines) == 0:
            return buffer
        order = np.argsort(lines.day, kind="stable")
        days, starts = np.unique(lines.day[order], return_index=True)
        for day, part in zip(days.tolist(), np.split(order, starts[1:]), strict=True):
            buffer.append(day, lines.where(part))
        return buffer

    def __len__(self) -> int:
        return sum(len(d) for d in self.days)

    def append(self, day: int, lines: Lines) -> None:
        """Add the lines of `day`, a day later than any already held."""
        if self.days and day <= self.days[-1].day:
            raise ValueError(f"day {day} is not after {self.days[-1].day}")
        if len(lines):
            self.days.append(DayLines.of(day, lines))

    def trim(self, first_day: int) -> None:
        """Forget the days before `first_day`."""
        self.days = [d for d in self.days if d.day >= first_day]

    def select(self, customers: np.ndarray, first_day: int, end_day: int) -> Lines:
        """Lines of the given (sorted, unique) customers dated in [first_day, end_day)."""
        parts = [d.take(customers) for d in self.days if first_day <= d.day < end_day]
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
    lines: LineBuffer,
    customers: np.ndarray,
    as_of: int,
    catalogue: Catalogue,
    lookback: int = HISTORY_DAYS,
) -> History:
    """Aggregate the window [as_of - lookback, as_of) of the given customers' lines.

    Sums run over each customer's lines in the order they were written, so the result
    is bit-for-bit the same for a world kept in memory and for one read back from the
    store.
    """
    uniq = distinct(customers)
    n_cat = catalogue.n_categories
    m = uniq.size
    w = lines.select(uniq, as_of - lookback, as_of)
    local = np.searchsorted(uniq, w.customer)
    cat = catalogue.category[w.product]
    tier = catalogue.tier[w.product]
    _, first = np.unique(w.order_id, return_index=True)
    last_day = np.full(m, -1, dtype=np.int64)
    np.maximum.at(last_day, local, w.day)
    cat_last = np.full(m * n_cat, -1, dtype=np.int64)
    np.maximum.at(cat_last, local * n_cat + cat, w.day)
    usual = np.maximum(0.0, 1.0 - w.unit_price / catalogue.list_price[w.product])
    return History(
        customers=uniq,
        as_of=as_of,
        n_lines=np.bincount(local, minlength=m),
        n_orders=np.bincount(local[first], minlength=m),
        last_day=last_day,
        promo_lines=np.bincount(local, weights=w.is_promo, minlength=m),
        discount_sum=np.bincount(local, weights=usual, minlength=m),
        category_lines=np.bincount(local * n_cat + cat, minlength=m * n_cat).reshape(m, n_cat),
        tier_lines=np.bincount(local * 3 + tier - 1, minlength=m * 3).reshape(m, 3),
        category_last_day=cat_last.reshape(m, n_cat),
        bought=distinct(local * catalogue.size + w.product),
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
