"""The grid scorer's inputs on DuckDB, built by the feature SQL itself.

The stages of `features.plans` are run once for a "spec" batch: every customer of the
scope paired with one active offer, and one customer paired with every active offer, all
as of the run date. `pair_features.sql` on those rows gives each customer's eleven
customer features and each offer's five offer features exactly as it gives them to any
pair; the stage tables `customer_window`, `category_window`, `product_window` and
`offer_keys` give what the six pair features look up. Nothing is computed per pair here.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pyarrow as pa

from offerrank.engines import queries
from offerrank.engines.duckdb.features import extra_features, staged
from offerrank.engines.duckdb.sql import read_arrow
from offerrank.engines.grid import GridCustomers, GridDay
from offerrank.engines.grid_tables import customer_table, grain_extras, offer_table
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
    by_offer = grain_extras({k: v[n_c:] for k, v in values.items()}, feature_set, "offer", n_o)
    by_customer = grain_extras(
        {k: v[:n_c] for k, v in values.items()}, feature_set, "customer", n_c
    )
    offer_rows, codes = offer_table(active, offers, rows.slice(n_c), by_offer)
    day = GridDay(as_of, lookback_days, offer_rows, feature_set)
    return day, customer_table(
        day, codes, customers, people, rows.slice(0, n_c), window, category, bought, redeemed,
        by_customer,
    )  # fmt: skip
