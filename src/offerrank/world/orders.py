"""A day of shopping: organic orders, and the order lines that redemptions put into them.

Customers order at their own rhythm (heavy-tailed intervals, quiet Sundays), mostly
rebuy favourites, otherwise pick by category and tier taste, and the promotion-minded
grab what is on a store-wide promotion. Quantities are heavy-tailed with the odd absurd
line, as in any real till log.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offerrank.world.columns import Appendable, distinct
from offerrank.world.domain import Domain
from offerrank.world.market import Offers, StorePromos
from offerrank.world.population import Catalogue, Population, draw_by_taste
from offerrank.world.presets import Preset, rng_for

STREAM_ORDERS, STREAM_REDEEMED_LINES = 0, 5
FAVOURITE_SHARE = 0.55


@dataclass
class DayOrders(Appendable):
    """Orders of one day and their lines, as parallel arrays."""

    order_id: np.ndarray
    customer: np.ndarray
    is_business: np.ndarray
    store: np.ndarray
    line_order: np.ndarray
    line_customer: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    is_promo: np.ndarray


def weekday(day: int) -> int:
    """Monday = 0 for an integer day (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def quantities(
    rng: np.random.Generator, log_mean: np.ndarray, fresh: np.ndarray, facts: Domain
) -> np.ndarray:
    """Heavy-tailed quantities: whole units, kilos for fresh goods, and rare absurd lines."""
    raw = np.exp(log_mean + 0.8 * rng.standard_normal(log_mean.size))
    qty = np.where(fresh == 1, np.maximum(np.round(raw, 2), 0.1), np.maximum(np.ceil(raw), 1.0))
    absurd = rng.random(log_mean.size) < facts.absurd_share
    low, high = facts.absurd_quantity
    return np.where(absurd, rng.integers(low, high, log_mean.size).astype(float), qty)


def organic_orders(
    preset: Preset,
    seed: int,
    day: int,
    first_order_id: int,
    pop: Population,
    catalogue: Catalogue,
    promos: StorePromos,
) -> DayOrders:
    """Who comes to the store today and what they buy, before any offer is redeemed."""
    rng = rng_for(seed, day, STREAM_ORDERS)
    wd = weekday(day)
    factor = preset.facts.weekday_factor[pop.type_index, wd]
    active = (pop.signup_day <= day) & (pop.churn_day > day)
    cust = np.flatnonzero(
        active & (rng.random(pop.size) < np.minimum(pop.order_rate * factor, 0.95))
    )
    m = cust.size
    order_id = np.arange(first_order_id, first_order_id + m, dtype=np.int64)
    is_business = (rng.random(m) < pop.business_share[cust]).astype(np.int64)
    elsewhere = rng.random(m) < 0.1
    store = np.where(elsewhere, rng.integers(1, preset.stores + 1, m), pop.home_store[cust])
    n_lines = 1 + rng.poisson(np.maximum(pop.basket_mean[cust] - 1.0, 0.0))
    line_cust = np.repeat(cust, n_lines)
    size = line_cust.size

    slots = pop.favourites.shape[1]
    slot_w = 1.0 / (np.arange(slots) + 1.0) ** 0.8
    favourite = pop.favourites[line_cust, rng.choice(slots, size, p=slot_w / slot_w.sum())]
    product = np.where(
        rng.random(size) < FAVOURITE_SHARE, favourite, draw_by_taste(rng, pop, catalogue, line_cust)
    )
    promo_discount = promos.prices_on(day, catalogue)
    on_promo = np.flatnonzero(promo_discount > 0)
    grab = rng.random(size) < 0.5 * pop.promo_sensitivity[line_cust]
    if on_promo.size:
        product = np.where(grab, on_promo[rng.integers(0, on_promo.size, size)], product)
    discount = promo_discount[product]
    return DayOrders(
        order_id=order_id,
        customer=cust,
        is_business=is_business,
        store=store.astype(np.int64),
        line_order=np.repeat(order_id, n_lines),
        line_customer=line_cust,
        product=product,
        quantity=quantities(
            rng, pop.qty_log_mean[line_cust], catalogue.is_fresh[product], preset.facts
        ),
        unit_price=np.round(catalogue.list_price[product] * (1.0 - discount), 2),
        is_promo=(discount > 0).astype(np.int64),
    )


def redeemed_lines(
    preset: Preset,
    seed: int,
    day: int,
    customers: np.ndarray,
    offer_pos: np.ndarray,
    offers: Offers,
    today: DayOrders,
    first_order_id: int,
    pop: Population,
    catalogue: Catalogue,
) -> tuple[DayOrders, np.ndarray]:
    """Put each redemption's discounted product into that customer's order of the day.

    Customers who redeem without an organic order today get one order of their own.
    Returns the extended day (organic + new orders, all lines) and each redemption's order id.
    """
    rng = rng_for(seed, day, STREAM_REDEEMED_LINES)
    order_of = np.full(pop.size, -1, dtype=np.int64)
    order_of[today.customer] = today.order_id
    newcomers = distinct(customers[order_of[customers] < 0])
    new_ids = np.arange(first_order_id, first_order_id + newcomers.size, dtype=np.int64)
    order_of[newcomers] = new_ids
    line_order = order_of[customers]
    product = offers.product[offer_pos]
    k = customers.size
    extra = DayOrders(
        order_id=new_ids,
        customer=newcomers,
        is_business=(rng.random(newcomers.size) < pop.business_share[newcomers]).astype(np.int64),
        store=pop.home_store[newcomers],
        line_order=line_order,
        line_customer=customers,
        product=product,
        quantity=quantities(
            rng, pop.qty_log_mean[customers] - 0.3, catalogue.is_fresh[product], preset.facts
        ),
        unit_price=np.round(catalogue.list_price[product] * (1.0 - offers.discount[offer_pos]), 2),
        is_promo=np.ones(k, dtype=np.int64),
    )
    return today.extend(extra), line_order
