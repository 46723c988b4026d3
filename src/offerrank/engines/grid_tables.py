"""The grid scorer's arrays from Arrow tables, whichever engine computed them.

An engine runs the feature SQL once a day on a spec batch and hands over, as Arrow: the
active offers' keys (`offer_keys`) and feature rows, and for its customers the feature
rows, `customer_window`, `category_window`, `product_window`, the signup rule and the
redeemed active offers. Here they become `GridOffers` and `GridCustomers`: dense codes
for categories, products and business types shared by both sides, sparse lookups by
customer position. DuckDB calls this in-process (`engines.duckdb.grid_inputs`); Spark
on each executor for its partition of customers (`engines.spark.grid`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.engines.grid import (
    CUSTOMER_FEATURES,
    NO_TYPE,
    OFFER_FEATURES,
    UNTARGETED,
    GridCustomers,
    GridDay,
    GridOffers,
    extra_names,
)
from offerrank.features.registry import FeatureSet


def stack_columns(columns: list[np.ndarray], n: int) -> np.ndarray:
    """`n` rows of the given columns side by side (n x 0 when there are none)."""
    if not columns:
        return np.zeros((n, 0), dtype=np.float64)
    return np.column_stack(columns).reshape(n, len(columns))


def grain_extras(
    values: Mapping[str, np.ndarray], feature_set: FeatureSet, grain: str, n: int
) -> np.ndarray:
    """The set's extras of `grain` ("customer" or "offer") as an n x k float64 array, a
    column each in set order, from `values` (each extra's n values by name)."""
    return stack_columns(
        [np.asarray(values[name], dtype=np.float64) for name in extra_names(feature_set, grain)],
        n,
    )


@dataclass(frozen=True)
class Codes:
    """The dense codes the offers' lookups use, for coding the customers' tables alike."""

    categories: dict[object, int]
    products: dict[object, int]
    types: dict[object, int]

    @staticmethod
    def lookup(codes: dict[object, int], values: pa.ChunkedArray, missing: int) -> np.ndarray:
        """The code of each value (`missing` for null or unknown), vectorised: a
        customer table has a row per customer and category."""
        if not codes:
            return np.full(len(values), missing, dtype=np.int64)
        known = pa.array(list(codes), type=values.type)
        found = pc.index_in(values, value_set=known)
        index = np.asarray(list(codes.values()), dtype=np.int64)
        at = pc.fill_null(found, -1).to_numpy().astype(np.int64)
        return np.where(at >= 0, index[np.maximum(at, 0)], missing)


def _codes(values: list[object]) -> dict[object, int]:
    """Dense codes 0.. for the distinct non-null values, in sorted order."""
    distinct = sorted({v for v in values if v is not None}, key=repr)
    return {v: i for i, v in enumerate(distinct)}


def offer_table(
    active: np.ndarray, keys: pa.Table, rows: pa.Table, extra: np.ndarray
) -> tuple[GridOffers, Codes]:
    """The day's offers from `offer_keys` (`keys`, by offer id) and their feature rows
    (`rows`, by offer id), with the codes the customers' tables must share."""
    if not np.array_equal(keys.column("offer_id").to_numpy(), active):
        raise ValueError("offer_keys does not hold exactly the active offers")
    if not np.array_equal(rows.column("offer_id").to_numpy(), active):
        raise ValueError("the offers' feature rows are not in offer order")
    categories = _codes(keys.column("category").to_pylist())
    products = _codes(keys.column("product_id").to_pylist())
    types = _codes(keys.column("target_business_type").to_pylist())
    tier = np.array(
        [t if t in (1, 2, 3) else 0 for t in keys.column("price_tier").to_pylist()], np.int64
    )
    offers = GridOffers(
        offer_id=active,
        features=np.column_stack(
            [rows.column(f).to_numpy().astype(np.float64) for f in OFFER_FEATURES]
        ).reshape(active.size, len(OFFER_FEATURES)),
        # a null category or product looks up the last column, which nobody bought in
        category=Codes.lookup(categories, keys.column("category"), len(categories)),
        product=Codes.lookup(products, keys.column("product_id"), len(products)),
        tier=tier,
        target=Codes.lookup(types, keys.column("target_business_type"), UNTARGETED),
        discount=rows.column("discount_depth").to_numpy().astype(np.float64),
        n_categories=len(categories),
        n_products=len(products),
        extra=extra,
    )
    return offers, Codes(categories, products, types)


def _positions(known: np.ndarray, ids: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each id among the sorted ids `known`, and which ids are there at all."""
    values = ids.to_numpy().astype(np.int64)
    if known.size == 0:
        return np.zeros(values.size, np.int64), np.zeros(values.size, bool)
    pos = np.minimum(np.searchsorted(known, values), known.size - 1)
    return pos, known[pos] == values


def customer_table(
    day: GridDay,
    codes: Codes,
    customers: np.ndarray,
    people: pa.Table,
    rows: pa.Table,
    window: pa.Table,
    category: pa.Table,
    bought: pa.Table,
    redeemed: pa.Table,
    extra: np.ndarray,
) -> GridCustomers:
    """`customers` (sorted ids) from their feature rows (`rows`, in that order) and the
    tables the grid looks up, each a row per customer (and category, product or offer)
    as `grid_inputs` reads them; a customer without a row in a table has none there."""
    n = customers.size
    cats, prods, types = codes.categories, codes.products, codes.types
    if not np.array_equal(rows.column("customer_id").to_numpy(), customers):
        raise ValueError("the customers' feature rows are not in customer order")
    eligible = np.zeros(n, dtype=bool)
    business_type = np.full(n, NO_TYPE, dtype=np.int64)
    pos, found = _positions(customers, people.column("customer_id"))
    eligible[pos[found]] = people.column("eligible").to_numpy(zero_copy_only=False)[found]
    kinds = Codes.lookup(types, people.column("business_type"), NO_TYPE)
    business_type[pos[found]] = kinds[found]
    n_lines = np.zeros(n, dtype=np.int64)
    usual = np.zeros(n, dtype=np.float64)
    tiers = np.zeros((n, 4), dtype=np.float64)
    pos, found = _positions(customers, window.column("customer_id"))
    p = pos[found]
    n_lines[p] = window.column("n_lines").to_numpy()[found]
    usual[p] = window.column("usual_discount").to_numpy()[found]
    for t in (1, 2, 3):
        tiers[p, t] = window.column(f"tier{t}_purchase_ratio").to_numpy()[found]
    # lines per offered category (a category no active offer has cannot be looked up)
    cat_code = Codes.lookup(cats, category.column("category"), -1)
    pos, found = _positions(customers, category.column("customer_id"))
    keep = found & (cat_code >= 0)
    # offered products bought; redeemed active offers
    prod_code = Codes.lookup(prods, bought.column("product_id"), -1)
    ppos, pfound = _positions(customers, bought.column("customer_id"))
    pkeep = pfound & (prod_code >= 0)
    rpos, rfound = _positions(customers, redeemed.column("customer_id"))
    col, cfound = _positions(day.offers.offer_id, redeemed.column("offer_id"))
    rkeep = rfound & cfound
    return GridCustomers(
        customer_id=customers,
        eligible=eligible,
        business_type=business_type,
        features=np.column_stack(
            [rows.column(f).to_numpy().astype(np.float64) for f in CUSTOMER_FEATURES]
        ).reshape(n, len(CUSTOMER_FEATURES)),
        n_lines=n_lines,
        usual_discount=usual,
        tier_share=tiers,
        cat_row=pos[keep],
        cat_col=cat_code[keep].astype(np.int64),
        cat_lines=category.column("n_lines").to_numpy()[keep].astype(np.int64),
        cat_last_day=pc.fill_null(category.column("last_day"), -1)
        .to_numpy()[keep]
        .astype(np.int64),
        prod_row=ppos[pkeep],
        prod_col=prod_code[pkeep].astype(np.int64),
        red_row=rpos[rkeep],
        red_col=col[rkeep].astype(np.int64),
        extra=extra,
    )
