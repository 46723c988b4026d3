"""The true redemption probability: the ground truth every model is measured against.

`p_true` is the probability that a customer redeems an offer within [shown, shown + 7].
It is non-linear on purpose (thresholds, saturation, interactions), so that a tree
model has structure to find that a linear one cannot, and it is driven almost entirely
by quantities the ranking features observe (90-day purchase history and offer
attributes). Only a small customer-level `responsiveness` term is hidden.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import numpy as np

from offerrank.errors import OfferrankError
from offerrank.world.campaigns import load_campaigns
from offerrank.world.domain import WHOLESALE, Domain
from offerrank.world.history import History, LineBuffer, load_lines, pair_signals, summarize
from offerrank.world.market import Offers, load_offers
from offerrank.world.population import Catalogue, Population
from offerrank.world.population_io import load_catalogue, load_population
from offerrank.world.presets import HISTORY_DAYS, Preset, parse_days
from offerrank.world.storage import read_meta

INTERCEPT = -7.3  # calibrated so that the mean rate among logged impressions is ~base_rate


def redemption_logit(
    sig: dict[str, np.ndarray],
    discount: np.ndarray,
    own_brand: np.ndarray,
    type_match: np.ndarray,
    responsiveness: np.ndarray,
    base_rate: float,
    facts: Domain = WHOLESALE,
) -> np.ndarray:
    """Log-odds of redeeming; every term is a behaviour a category manager would recognise.

    `facts` weighs the category and product terms per kind of retailer (a household
    redeems across categories more readily than a restaurant buys outside its menu).
    """
    aff = sig["category_affinity"]
    promo = sig["promo_affinity"]
    depth = 1.6 * (1.0 - np.exp(-discount / 0.12))  # deeper helps, with diminishing returns
    beats_usual = 0.7 * np.tanh((discount - sig["usual_discount"]) / 0.08)
    affinity = (
        1.0 * (aff >= 0.04) + 0.7 * (aff >= 0.15) + 0.3 * (aff >= 0.30)
    ) * facts.affinity_weight
    # known product, real deal
    repeat = sig["bought_before"] * (0.7 + 0.6 * (discount >= 0.20) + facts.repeat_bonus)
    in_stock_cycle = 0.5 * (sig["days_since_cat"] <= 10)
    dormant = -1.5 * (sig["recency_days"] > 35)  # people who stopped coming do not redeem
    tier_fit = 1.0 * (sig["tier_match"] - 0.33)
    deal_hunter = 1.8 * promo * (discount >= 0.15)
    own = own_brand * np.where(promo > 0.12, 0.4, -0.2)
    wrong_type = -2.0 * (1.0 - type_match)
    return (
        INTERCEPT
        + np.log(base_rate / 0.04)
        + depth
        + beats_usual
        + affinity
        + repeat
        + in_stock_cycle
        + dormant
        + tier_fit
        + deal_hunter
        + own
        + wrong_type
        + responsiveness
    )


def probability_from_history(
    hist: History,
    customers: np.ndarray,
    offer_pos: np.ndarray,
    offers: Offers,
    catalogue: Catalogue,
    pop: Population,
    base_rate: float,
    campaign_rate: np.ndarray | None = None,
    facts: Domain = WHOLESALE,
) -> np.ndarray:
    """p_true for (customer index, offer row) pairs, given the customers' summarised history;
    `campaign_rate` (per pair) multiplies the odds for coupons of a campaign."""
    product = offers.product[offer_pos]
    sig = pair_signals(hist, customers, product, catalogue)
    target = offers.target[offer_pos]
    match = ((target == -1) | (target == pop.type_index[customers])).astype(float)
    logit = redemption_logit(
        sig,
        offers.discount[offer_pos],
        catalogue.is_own_brand[product],
        match,
        pop.responsiveness[customers],
        base_rate,
        facts,
    )
    if facts.appeal_weight:  # some products' coupons draw everyone: a product-level signal
        logit = logit + facts.appeal_weight * np.log(catalogue.popularity[product])
    if campaign_rate is not None:
        logit = logit + np.log(campaign_rate)
    return 1.0 / (1.0 + np.exp(-logit))


def true_probability(
    db_path: Path, customer_ids: np.ndarray, offer_ids: np.ndarray, on: np.ndarray | date
) -> np.ndarray:
    """Ground-truth p_true for any (customer, offer, date) triples of a generated world.

    `on` is one date for all pairs or one per pair (ISO strings, dates or datetime64).
    History is read from the store as of each date, so for a logged impression this
    reproduces `sim_impression_truth` exactly.
    """
    customers = np.asarray(customer_ids, dtype=np.int64) - 1
    ids = np.asarray(offer_ids, dtype=np.int64)
    days = np.broadcast_to(parse_days([on] if isinstance(on, date) else on), customers.shape)
    out = np.zeros(customers.size)
    if customers.size == 0:
        return out
    con = sqlite3.connect(Path(db_path))
    try:
        meta = read_meta(con)
        if "preset" not in meta:
            raise OfferrankError(f"{db_path} is not a generated world (no sim_world table rows)")
        preset = Preset.from_json(meta["preset"])
        offers = load_offers(con, preset.facts.business_types)
        campaigns, _ = load_campaigns(con)
        catalogue = load_catalogue(Path(db_path), preset.facts)
        pop = load_population(Path(db_path), preset.facts)
    except sqlite3.OperationalError as exc:
        raise OfferrankError(f"{db_path} is not a generated world: {exc}") from None
    finally:
        con.close()
    if customers.min() < 0 or customers.max() >= pop.size:
        raise OfferrankError("true_probability: unknown customer ids")
    try:
        offer_pos = offers.positions(ids)
    except KeyError as exc:
        raise OfferrankError(f"true_probability: {exc.args[0]}") from None
    lines = LineBuffer.of(
        load_lines(Path(db_path), int(days.min()) - HISTORY_DAYS, int(days.max()))
    )
    for day in np.unique(days):  # one pass per distinct date, vectorised within it
        sel = np.flatnonzero(days == day)
        hist = summarize(lines, customers[sel], int(day), catalogue)
        out[sel] = probability_from_history(
            hist,
            customers[sel],
            offer_pos[sel],
            offers,
            catalogue,
            pop,
            preset.base_rate,
            campaigns.rates(offers.campaign[offer_pos[sel]]),
            preset.facts,
        )
    return out
