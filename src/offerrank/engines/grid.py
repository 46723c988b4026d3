"""The grid scorer: a day's retrieval over customers x active offers, in NumPy.

Of the 22 contract features, eleven are a vector of the customer, five a vector of the
offer, and six a lookup of the pair: the customer's lines in the offer's category (count
and last day), whether the customer bought the offer's product, the customer's usual
discount and share of the offer's price tier, and the business-type match. So a day's
work splits in two: the vectors and lookup tables, built once per day (`GridDay`) by the
feature SQL, which stays the one definition; and, per chunk of customers, a dense grid
over every active offer on which the eligibility rules, the linear first stage and the
top-n choice are array operations. Only the kept pairs' features are gathered.

Exactness: the first stage is summed term by term in the order of the SQL expression
(`engines.queries.first_stage_score`: bias, then weight x feature for each feature in
order), every term in float64, so each pair's score is the same double as SQL's. Each
customer keeps the `per_customer` best pairs by (score descending, offer id ascending),
as SQL's ROW_NUMBER does. `tests/test_grid.py` proves pool, scores, features and lists
equal to the SQL path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from offerrank.engines.base import FirstStage
from offerrank.features.registry import (
    CONTRACT_FEATURES,
    DEFAULT_FEATURES,
    FeatureSet,
    constant_dates,
    feature_schema,
)

CUSTOMER_FEATURES: tuple[str, ...] = CONTRACT_FEATURES[:11]
OFFER_FEATURES: tuple[str, ...] = CONTRACT_FEATURES[11:16]
PAIR_FEATURES: tuple[str, ...] = CONTRACT_FEATURES[16:]
# Grid cells one block of customers may span (a block's temporary arrays stay a few MB).
BLOCK_CELLS = 1 << 18
NO_TYPE = -2  # a customer without business type: matches no targeted offer
UNTARGETED = -1


@dataclass(frozen=True)
class GridOffers:
    """The day's active offers, sorted by id, with their five offer features (as the SQL
    computes them) and what the pair features look up: the offer's column in the category
    table and the product table (the last column of each is the 'none' column that
    nobody bought), its price tier (0: none), business-type target (-1: none) and
    discount (0 when unknown)."""

    offer_id: np.ndarray
    features: np.ndarray  # (offers, 5), OFFER_FEATURES in order
    category: np.ndarray
    product: np.ndarray
    tier: np.ndarray
    target: np.ndarray
    discount: np.ndarray
    n_categories: int
    n_products: int
    extra: np.ndarray  # (offers, k): the feature set's offer-grain extras, in set order


@dataclass(frozen=True)
class GridCustomers:
    """Customers sorted by id with their eleven customer features and what the pair
    features read of them, and the sparse tables the grid looks up (rows index the
    customers): lines per offered category in the window, offered products bought in it,
    and the active offers already redeemed."""

    customer_id: np.ndarray
    eligible: np.ndarray  # signed up by the run date
    business_type: np.ndarray  # code shared with GridOffers.target; NO_TYPE for none
    features: np.ndarray  # (customers, 11), CUSTOMER_FEATURES in order
    n_lines: np.ndarray  # lines in the window
    usual_discount: np.ndarray
    tier_share: np.ndarray  # (customers, 4): column t = share of lines of price tier t; 0 = none
    cat_row: np.ndarray
    cat_col: np.ndarray
    cat_lines: np.ndarray
    cat_last_day: np.ndarray
    prod_row: np.ndarray
    prod_col: np.ndarray
    red_row: np.ndarray
    red_col: np.ndarray  # the offer's position in GridOffers
    extra: np.ndarray  # (customers, k): the feature set's customer-grain extras, in set order

    def subset(self, keep: np.ndarray) -> GridCustomers:
        """The customers where `keep` (a boolean mask) is true, their tables re-indexed."""
        new_index = np.cumsum(keep) - 1

        def rows(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            inside = keep[r]
            return inside, new_index[r[inside]]

        cat_in, cat_row = rows(self.cat_row)
        prod_in, prod_row = rows(self.prod_row)
        red_in, red_row = rows(self.red_row)
        return GridCustomers(
            self.customer_id[keep], self.eligible[keep], self.business_type[keep],
            self.features[keep], self.n_lines[keep], self.usual_discount[keep],
            self.tier_share[keep],
            cat_row, self.cat_col[cat_in], self.cat_lines[cat_in], self.cat_last_day[cat_in],
            prod_row, self.prod_col[prod_in], red_row, self.red_col[red_in], self.extra[keep],
        )  # fmt: skip

    def block(self, lo: int, hi: int) -> GridCustomers:
        keep = np.zeros(self.customer_id.size, dtype=bool)
        keep[lo:hi] = True
        return self.subset(keep)


@dataclass(frozen=True)
class GridDay:
    as_of: date
    lookback_days: int
    offers: GridOffers
    feature_set: FeatureSet = DEFAULT_FEATURES


def grid_supports(feature_set: FeatureSet) -> bool:
    """Whether the grid computes every feature of the set: the contract's 22 first, then
    extras of customer or offer grain (a pair-grain extra needs the SQL path)."""
    return feature_set.columns[: len(CONTRACT_FEATURES)] == CONTRACT_FEATURES and all(
        f.grain in ("customer", "offer") for f in feature_set.extras
    )


def extra_names(feature_set: FeatureSet, grain: str) -> tuple[str, ...]:
    return tuple(f.name for f in feature_set.extras if f.grain == grain)


def pool_schema(feature_set: FeatureSet = DEFAULT_FEATURES) -> pa.Schema:
    """The retrieved pool: keys, the set's features, the first stage's score and the
    pair's rank by it within the customer (the columns the SQL path's pool has)."""
    return pa.schema(
        [
            *feature_schema(feature_set),
            ("first_stage", pa.float64()),
            ("retrieval_rank", pa.int64()),
        ]
    )


def grid_pool(
    day: GridDay, customers: GridCustomers, first_stage: FirstStage, per_customer: int
) -> pa.Table:
    """The best `per_customer` eligible pairs of each customer by the first stage (over
    the contract's 22), with the day's feature set, ordered by customer then retrieval
    rank (`pool_schema`)."""
    if len(first_stage.weights) != len(CONTRACT_FEATURES):
        raise ValueError(
            f"the first stage has {len(first_stage.weights)} weights for"
            f" {len(CONTRACT_FEATURES)} features"
        )
    n_offers = day.offers.offer_id.size
    step = max(1, BLOCK_CELLS // max(n_offers, 1))
    parts = [
        _block_pool(day, customers.block(lo, lo + step), first_stage, per_customer)
        for lo in range(0, customers.customer_id.size, step)
    ]
    if not parts:
        return pool_schema(day.feature_set).empty_table()
    return pa.concat_tables(parts)


@dataclass
class _Lookups:
    """A block's pair lookups as grids (customers x offers)."""

    bought: np.ndarray
    cat_lines: np.ndarray
    cat_last: np.ndarray  # the latest day with a line in the category (where cat_lines > 0)


def _lookups(day: GridDay, c: GridCustomers) -> _Lookups:
    o, n = day.offers, c.customer_id.size
    cat_lines = np.zeros((n, o.n_categories + 1), dtype=np.int64)
    cat_last = np.full((n, o.n_categories + 1), -1, dtype=np.int64)
    cat_lines[c.cat_row, c.cat_col] = c.cat_lines
    cat_last[c.cat_row, c.cat_col] = c.cat_last_day
    bought = np.zeros((n, o.n_products + 1), dtype=bool)
    bought[c.prod_row, c.prod_col] = True
    return _Lookups(bought[:, o.product], cat_lines[:, o.category], cat_last[:, o.category])


def _pair_feature(
    name: str,
    day: GridDay,
    c: GridCustomers,
    look: _Lookups,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
) -> np.ndarray:
    """One pair feature, on the whole grid (rows, cols None) or on the cells (rows, cols),
    by the definitions of `pair_features.sql`."""
    o = day.offers

    def cell(grid: np.ndarray) -> np.ndarray:
        return grid if rows is None else grid[rows, cols]

    def cust(v: np.ndarray) -> np.ndarray:
        return v[:, None] if rows is None else v[rows]

    def offer(v: np.ndarray) -> np.ndarray:
        return v[None, :] if cols is None else v[cols]

    if name == "bought_product_before":
        return cell(look.bought).astype(np.float64)
    if name == "days_since_last_cat_purchase":
        last, bought_in = cell(look.cat_last), cell(look.cat_lines) > 0
        as_of_day = (day.as_of - date(1970, 1, 1)).days
        return np.where(bought_in, as_of_day - last, day.lookback_days + 1).astype(np.float64)
    if name == "category_affinity_score":
        lines, total = cell(look.cat_lines), cust(c.n_lines)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = lines.astype(np.float64) / total.astype(np.float64)
        return np.where(total > 0, share, 0.0)
    if name == "discount_depth_vs_usual":
        return offer(o.discount) - cust(c.usual_discount)
    if name == "price_sensitivity_match":
        if rows is None:
            return c.tier_share[:, o.tier]
        return c.tier_share[rows, o.tier[cols]]
    if name == "business_type_match":
        target, kind = offer(o.target), cust(c.business_type)
        return ((target == UNTARGETED) | (target == kind)).astype(np.float64)
    raise KeyError(name)


def _block_pool(
    day: GridDay, c: GridCustomers, first_stage: FirstStage, per_customer: int
) -> pa.Table:
    o = day.offers
    n, m = c.customer_id.size, o.offer_id.size
    look = _lookups(day, c)
    # The first stage, term by term in the SQL expression's order.
    score = np.full((n, m), first_stage.bias, dtype=np.float64)
    for j, name in enumerate(CONTRACT_FEATURES):
        w = first_stage.weights[j]
        if name in CUSTOMER_FEATURES:
            score += (w * c.features[:, CUSTOMER_FEATURES.index(name)])[:, None]
        elif name in OFFER_FEATURES:
            score += (w * o.features[:, OFFER_FEATURES.index(name)])[None, :]
        else:
            score += w * _pair_feature(name, day, c, look)
    # The rules of eligible_pairs.sql.
    eligible = (o.target[None, :] == UNTARGETED) | (o.target[None, :] == c.business_type[:, None])
    eligible &= c.eligible[:, None]
    eligible[c.red_row, c.red_col] = False
    rows, cols, rank = _top_n(score, eligible, per_customer)
    kept_score = score[rows, cols]
    columns = day.feature_set.columns
    by_customer, by_offer = (extra_names(day.feature_set, g) for g in ("customer", "offer"))
    X = np.empty((rows.size, len(columns)), dtype=np.float64, order="F")
    for j, name in enumerate(columns):
        if name in CUSTOMER_FEATURES:
            X[:, j] = c.features[rows, CUSTOMER_FEATURES.index(name)]
        elif name in OFFER_FEATURES:
            X[:, j] = o.features[cols, OFFER_FEATURES.index(name)]
        elif name in by_customer:
            X[:, j] = c.extra[rows, by_customer.index(name)]
        elif name in by_offer:
            X[:, j] = o.extra[cols, by_offer.index(name)]
        else:
            X[:, j] = _pair_feature(name, day, c, look, rows, cols)
    return _pool_table(day, c.customer_id[rows], o.offer_id[cols], X, kept_score, rank)


def _top_n(
    score: np.ndarray, eligible: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, rank) of each row's `n` best eligible cells by score, ties to the lower
    column (every eligible cell of a row with `n` or fewer), in (row, rank) order."""
    m = score.shape[1]
    if m == 0 or score.shape[0] == 0 or n <= 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    neg = np.where(eligible, -score, np.inf)
    k = min(n, m)
    cut = np.partition(neg, k - 1, axis=1)[:, k - 1 : k]  # the k-th best per row
    better = neg < cut
    tied = neg == cut
    room = k - better.sum(axis=1, keepdims=True)
    keep = better | (tied & (np.cumsum(tied, axis=1) <= room))
    keep &= eligible
    rows, cols = np.nonzero(keep)  # row-major: columns ascending within a row
    # Each row's kept cells side by side (at most k), sorted by score descending; a
    # stable sort keeps tied cells in column order, i.e. by offer id.
    per_row = keep.sum(axis=1)
    slot = np.arange(rows.size) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    padded = np.full((score.shape[0], k), np.inf)
    padded[rows, slot] = neg[rows, cols]
    order = np.argsort(padded, axis=1, kind="stable")
    at = np.full((score.shape[0], k), -1, dtype=np.int64)
    at[rows, slot] = cols
    ranked_cols = np.take_along_axis(at, order, axis=1)
    filled = ranked_cols >= 0
    out_rows, out_slot = np.nonzero(filled)
    return (
        out_rows.astype(np.int64),
        ranked_cols[filled].astype(np.int64),
        (out_slot + 1).astype(np.int64),
    )


def _pool_table(
    day: GridDay,
    customer_id: np.ndarray,
    offer_id: np.ndarray,
    X: np.ndarray,
    first_stage: np.ndarray,
    rank: np.ndarray,
) -> pa.Table:
    schema = pool_schema(day.feature_set)
    arrays: list[pa.Array] = [
        pa.array(customer_id.astype(np.int64)),
        pa.array(offer_id.astype(np.int64)),
        constant_dates(day.as_of, customer_id.size),
        *[pa.array(X[:, j]) for j in range(X.shape[1])],
        pa.array(first_stage),
        pa.array(rank),
    ]
    return pa.Table.from_arrays(arrays, schema=schema)
