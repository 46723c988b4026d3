"""Saving the population to the store and reading it back, bit for bit.

Contract rows (customers, products) go where any retailer's data would; the latent
tastes go to `sim_*` tables, so a reopened world has exactly the customers it had.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from offerrank.store.db import query_arrow_many
from offerrank.world.domain import Domain
from offerrank.world.population import NEVER, Catalogue, Population
from offerrank.world.presets import iso_days
from offerrank.world.storage import Batch, table_of


def category_index(names: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """Category names to indices into `categories` (a loop over the distinct names only)."""
    lookup = {name: i for i, name in enumerate(categories)}
    uniq, inverse = np.unique(names.astype(str), return_inverse=True)
    return np.array([lookup[u] for u in uniq], dtype=np.int64)[inverse].reshape(-1)


def _names(vocabulary: tuple[str, ...], index: np.ndarray) -> pa.Array:
    """Names of a vocabulary by index, built in Arrow (no NumPy string array per row)."""
    return pa.array(vocabulary, pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))


def population_rows(batch: Batch, cat: Catalogue, pop: Population, facts: Domain) -> Batch:
    """Add the contract rows (products, customers) and the latent `sim_*` rows to `batch`."""
    n_cat = cat.n_categories
    pid = np.arange(1, cat.size + 1)
    batch.rows(
        "products",
        table_of(
            {
                "product_id": pid,
                "category": _names(facts.categories, cat.category),
                "is_fresh": cat.is_fresh,
                "price_tier": cat.tier,
                "is_own_brand": cat.is_own_brand,
                "list_price": cat.list_price,
                "unit_cost": cat.unit_cost,
            }
        ),
    )
    batch.rows("sim_products", table_of({"product_id": pid, "popularity": cat.popularity}))
    cid = np.arange(1, pop.size + 1)
    signup = pa.array(iso_days(pop.signup_day), pa.string(), mask=~pop.signup_known)
    churn = pa.array(
        iso_days(np.minimum(pop.churn_day, 2_000_000)), pa.string(), mask=pop.churn_day >= NEVER
    )
    batch.rows(
        "customers",
        table_of(
            {
                "customer_id": cid,
                "business_type": _names(facts.business_types, pop.type_index),
                "signup_date": signup,
            }
        ),
    )
    batch.rows(
        "sim_customers",
        table_of(
            {
                "customer_id": cid,
                "type_index": pop.type_index,
                "signup_day": pop.signup_day,
                "churn_date": churn,
                "order_rate": pop.order_rate,
                "basket_mean": pop.basket_mean,
                "qty_log_mean": pop.qty_log_mean,
                "business_share": pop.business_share,
                "promo_sensitivity": pop.promo_sensitivity,
                "responsiveness": pop.responsiveness,
                "home_store": pop.home_store,
                "tier1_pref": pop.tier_pref[:, 0],
                "tier2_pref": pop.tier_pref[:, 1],
                "tier3_pref": pop.tier_pref[:, 2],
            }
        ),
    )
    batch.rows(
        "sim_customer_categories",
        table_of(
            {
                "customer_id": np.repeat(cid, n_cat),
                "category": _names(facts.categories, np.tile(np.arange(n_cat), pop.size)),
                "preference": pop.category_pref.ravel(),
            }
        ),
    )
    slots = pop.favourites.shape[1]
    batch.rows(
        "sim_customer_favourites",
        table_of(
            {
                "customer_id": np.repeat(cid, slots),
                "slot": np.tile(np.arange(slots), pop.size),
                "product_id": pop.favourites.ravel() + 1,
            }
        ),
    )
    return batch


def _columns(table: pa.Table) -> dict[str, np.ndarray]:
    return {n: table.column(n).to_numpy(zero_copy_only=False) for n in table.column_names}


def load_catalogue(db_path: Path, facts: Domain) -> Catalogue:
    c = _columns(
        query_arrow_many(
            db_path,
            [
                (
                    "SELECT p.category, p.price_tier, p.is_fresh, p.is_own_brand,"
                    " p.list_price, p.unit_cost, s.popularity FROM products p"
                    " JOIN sim_products s USING (product_id) ORDER BY p.product_id",
                    [],
                )
            ],
        )[0]
    )
    return Catalogue(
        category=category_index(c["category"], facts.categories),
        tier=c["price_tier"].astype(np.int64),
        is_fresh=c["is_fresh"].astype(np.int64),
        is_own_brand=c["is_own_brand"].astype(np.int64),
        list_price=c["list_price"].astype(float),
        unit_cost=c["unit_cost"].astype(float),
        popularity=c["popularity"].astype(float),
        n_categories=facts.n_categories,
    )


def load_population(db_path: Path, facts: Domain) -> Population:
    """The customers as saved: one snapshot of the three tables, read as Arrow."""
    customers, prefs, favs = query_arrow_many(
        db_path,
        [
            (
                "SELECT s.*, c.signup_date IS NOT NULL AS signup_known,"
                f" COALESCE(julianday(s.churn_date) - 2440587.5, {NEVER}) AS churn"
                " FROM sim_customers s JOIN customers c USING (customer_id)"
                " ORDER BY customer_id",
                [],
            ),
            ("SELECT preference FROM sim_customer_categories ORDER BY customer_id, rowid", []),
            ("SELECT product_id FROM sim_customer_favourites ORDER BY customer_id, slot", []),
        ],
    )
    c = _columns(customers)
    n = customers.num_rows
    churn = c["churn"].astype(float)
    return Population(
        type_index=c["type_index"].astype(np.int64),
        signup_day=c["signup_day"].astype(np.int64),
        signup_known=c["signup_known"].astype(bool),
        churn_day=np.rint(churn).astype(np.int64),
        order_rate=c["order_rate"].astype(float),
        basket_mean=c["basket_mean"].astype(float),
        qty_log_mean=c["qty_log_mean"].astype(float),
        business_share=c["business_share"].astype(float),
        promo_sensitivity=c["promo_sensitivity"].astype(float),
        responsiveness=c["responsiveness"].astype(float),
        home_store=c["home_store"].astype(np.int64),
        tier_pref=np.column_stack([c["tier1_pref"], c["tier2_pref"], c["tier3_pref"]]).astype(
            float
        ),
        category_pref=prefs.column("preference")
        .to_numpy()
        .astype(float)
        .reshape(n, facts.n_categories),
        favourites=favs.column("product_id").to_numpy().astype(np.int64).reshape(n, -1) - 1,
    )
