"""The grid scorer's inputs on DuckDB, built by the feature SQL itself.

The stages of `features.plans` are run once for a "spec" batch: every customer of the
scope paired with one active offer, and one customer paired with every active offer, all
as of the run date. `pair_features.sql` on those rows gives each customer's eleven
customer features and each offer's five offer features exactly as it gives them to any
pair; the stage tables `customer_window`, `category_window`, `product_window` and
`offer_keys` give what the six pair features look up. Nothing is computed per pair here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.engines import queries
from offerrank.engines.duckdb.features import extra_features, staged
from offerrank.engines.duckdb.sql import read_arrow
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
from offerrank.features.plans import ASSEMBLY, SINGLE_PLAN, check_parameters
from offerrank.features.registry import (
    DEFAULT_FEATURES,
    FeatureSet,
    constant_dates,
    query_pairs,
)


def grid_inputs(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    customer_ids: np.ndarray,
    active: np.ndarray,
    *,
    lookback_days: int,
    label_window_days: int,
    feature_set: FeatureSet = DEFAULT_FEATURES,
) -> tuple[GridDay, GridCustomers]:
    """The day's offers (`active`, sorted ids) and the customers `customer_ids` as the grid
    scorer reads them, as of `as_of`, with the feature set's customer- and offer-grain
    extras: each extra's file runs once on the spec batch, like `pair_features.sql`."""
    params = check_parameters(lookback_days, label_window_days)
    customers = np.unique(np.asarray(customer_ids, dtype=np.int64))
    active = np.unique(np.asarray(active, dtype=np.int64))
    n_c, n_o = customers.size, active.size
    spec = pa.table(
        {
            "customer_id": np.concatenate([customers, np.full(n_o, customers[0])]),
            "offer_id": np.concatenate([np.full(n_c, active[0]), active]),
        }
    )
    spec = spec.append_column("as_of", constant_dates(as_of, spec.num_rows))
    query = query_pairs(spec)
    with staged(con, query, params, SINGLE_PLAN):
        rows = read_arrow(con, ASSEMBLY, params).sort_by("row_id")
        extras = extra_features(con, feature_set, params, spec.num_rows)
        window = con.sql(
            "SELECT customer_id, n_lines, usual_discount, tier1_purchase_ratio,"
            " tier2_purchase_ratio, tier3_purchase_ratio FROM customer_window"
        ).to_arrow_table()
        category = con.sql(
            "SELECT customer_id, category, n_lines, last_day FROM category_window"
            " WHERE n_lines > 0 AND category IS NOT NULL"
        ).to_arrow_table()
        bought = con.sql(
            "SELECT customer_id, product_id FROM product_window WHERE n_lines > 0"
        ).to_arrow_table()
        offers = con.sql(
            "SELECT offer_id, product_id, category, price_tier, target_business_type"
            " FROM offer_keys ORDER BY offer_id"
        ).to_arrow_table()
    scope = pa.table({"customer_id": customers})
    con.register("grid_scope", scope)
    try:
        people = con.sql(queries.GRID_CUSTOMERS, params={"as_of": as_of}).to_arrow_table()
        redeemed = con.sql(queries.GRID_REDEEMED, params={"as_of": as_of}).to_arrow_table()
    finally:
        con.unregister("grid_scope")
    values = {name: column.to_numpy() for name, column in extras.items()}
    by_offer = _stack([values[n][n_c:] for n in extra_names(feature_set, "offer")], n_o)
    by_customer = _stack([values[n][:n_c] for n in extra_names(feature_set, "customer")], n_c)
    offer_table, types = _offers(active, offers, rows.slice(n_c), by_offer)
    day = GridDay(as_of, lookback_days, offer_table, feature_set)
    return day, _customers(
        day, types, customers, people, rows.slice(0, n_c), window, category, bought, redeemed,
        by_customer,
    )  # fmt: skip


def _stack(columns: list[np.ndarray], n: int) -> np.ndarray:
    if not columns:
        return np.zeros((n, 0), dtype=np.float64)
    return np.column_stack(columns).reshape(n, len(columns))


@dataclass(frozen=True)
class _Codes:
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


def _offers(
    active: np.ndarray, keys: pa.Table, rows: pa.Table, extra: np.ndarray
) -> tuple[GridOffers, _Codes]:
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
        category=_Codes.lookup(categories, keys.column("category"), len(categories)),
        product=_Codes.lookup(products, keys.column("product_id"), len(products)),
        tier=tier,
        target=_Codes.lookup(types, keys.column("target_business_type"), UNTARGETED),
        discount=rows.column("discount_depth").to_numpy().astype(np.float64),
        n_categories=len(categories),
        n_products=len(products),
        extra=extra,
    )
    return offers, _Codes(categories, products, types)


def _positions(known: np.ndarray, ids: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each id among the sorted ids `known`, and which ids are there at all."""
    values = ids.to_numpy().astype(np.int64)
    if known.size == 0:
        return np.zeros(values.size, np.int64), np.zeros(values.size, bool)
    pos = np.minimum(np.searchsorted(known, values), known.size - 1)
    return pos, known[pos] == values


def _customers(
    day: GridDay,
    codes: _Codes,
    customers: np.ndarray,
    people: pa.Table,
    rows: pa.Table,
    window: pa.Table,
    category: pa.Table,
    bought: pa.Table,
    redeemed: pa.Table,
    extra: np.ndarray,
) -> GridCustomers:
    n = customers.size
    cats, prods, types = codes.categories, codes.products, codes.types
    if not np.array_equal(rows.column("customer_id").to_numpy(), customers):
        raise ValueError("the customers' feature rows are not in customer order")
    eligible = np.zeros(n, dtype=bool)
    business_type = np.full(n, NO_TYPE, dtype=np.int64)
    pos, found = _positions(customers, people.column("customer_id"))
    eligible[pos[found]] = people.column("eligible").to_numpy(zero_copy_only=False)[found]
    kinds = _Codes.lookup(types, people.column("business_type"), NO_TYPE)
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
    cat_code = _Codes.lookup(cats, category.column("category"), -1)
    pos, found = _positions(customers, category.column("customer_id"))
    keep = found & (cat_code >= 0)
    # offered products bought; redeemed active offers
    prod_code = _Codes.lookup(prods, bought.column("product_id"), -1)
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
