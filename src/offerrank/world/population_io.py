"""Saving the population to the store and reading it back, bit for bit.

Contract rows (customers, products) go where any retailer's data would; the latent
tastes go to `sim_*` tables, so a reopened world has exactly the customers it had.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from offerrank.world.population import N_CAT, NEVER, Catalogue, Population
from offerrank.world.presets import BUSINESS_TYPES, CATEGORIES, iso_days
from offerrank.world.storage import fetch_columns, insert_columns


def category_index(names: np.ndarray) -> np.ndarray:
    """Category names to indices into CATEGORIES (a loop over the few distinct names only)."""
    lookup = {name: i for i, name in enumerate(CATEGORIES)}
    uniq, inverse = np.unique(names.astype(str), return_inverse=True)
    return np.array([lookup[u] for u in uniq], dtype=np.int64)[inverse].reshape(-1)


def save_world_population(con: sqlite3.Connection, cat: Catalogue, pop: Population) -> None:
    """Contract rows (products, customers) and latent `sim_*` rows; caller owns the transaction."""
    pid = np.arange(1, cat.size + 1)
    insert_columns(
        con,
        "products",
        {
            "product_id": pid,
            "category": np.array(CATEGORIES)[cat.category],
            "is_fresh": cat.is_fresh,
            "price_tier": cat.tier,
            "is_own_brand": cat.is_own_brand,
            "list_price": cat.list_price,
            "unit_cost": cat.unit_cost,
        },
    )
    insert_columns(con, "sim_products", {"product_id": pid, "popularity": cat.popularity})
    cid = np.arange(1, pop.size + 1)
    signup = np.array(iso_days(pop.signup_day), dtype=object)
    signup[~pop.signup_known] = None
    churn = np.array(iso_days(np.minimum(pop.churn_day, 2_000_000)), dtype=object)
    churn[pop.churn_day >= NEVER] = None
    insert_columns(
        con,
        "customers",
        {
            "customer_id": cid,
            "business_type": np.array(BUSINESS_TYPES)[pop.type_index],
            "signup_date": signup,
        },
    )
    insert_columns(
        con,
        "sim_customers",
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
        },
    )
    insert_columns(
        con,
        "sim_customer_categories",
        {
            "customer_id": np.repeat(cid, N_CAT),
            "category": np.tile(np.array(CATEGORIES), pop.size),
            "preference": pop.category_pref.ravel(),
        },
    )
    slots = pop.favourites.shape[1]
    insert_columns(
        con,
        "sim_customer_favourites",
        {
            "customer_id": np.repeat(cid, slots),
            "slot": np.tile(np.arange(slots), pop.size),
            "product_id": pop.favourites.ravel() + 1,
        },
    )


def load_catalogue(con: sqlite3.Connection) -> Catalogue:
    c = fetch_columns(
        con,
        "SELECT p.category, p.price_tier, p.is_fresh, p.is_own_brand,"
        " p.list_price, p.unit_cost, s.popularity FROM products p"
        " JOIN sim_products s USING (product_id) ORDER BY p.product_id",
    )
    return Catalogue(
        category=category_index(c["category"]),
        tier=c["price_tier"].astype(np.int64),
        is_fresh=c["is_fresh"].astype(np.int64),
        is_own_brand=c["is_own_brand"].astype(np.int64),
        list_price=c["list_price"].astype(float),
        unit_cost=c["unit_cost"].astype(float),
        popularity=c["popularity"].astype(float),
    )


def load_population(con: sqlite3.Connection) -> Population:
    c = fetch_columns(
        con,
        "SELECT s.*, c.signup_date IS NOT NULL AS signup_known,"
        f" COALESCE(julianday(s.churn_date) - 2440587.5, {NEVER}) AS churn FROM sim_customers s"
        " JOIN customers c USING (customer_id) ORDER BY customer_id",
    )
    n = c["customer_id"].size
    prefs = fetch_columns(
        con, "SELECT preference FROM sim_customer_categories ORDER BY customer_id, rowid"
    )["preference"].astype(float)
    favs = fetch_columns(
        con, "SELECT product_id FROM sim_customer_favourites ORDER BY customer_id, slot"
    )["product_id"].astype(np.int64)
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
        category_pref=prefs.reshape(n, N_CAT),
        favourites=favs.reshape(n, -1) - 1,
    )
