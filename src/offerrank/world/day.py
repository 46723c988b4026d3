"""One simulated day, computed in memory and written in one go.

Order of events on day D: new offers and store promotions start; impressions are
shown (by the logging policy or from outside) and each is given its true redemption
probability from the history *before* D; redemptions are drawn and scheduled within
[D, D + 7] (never after the offer ends); customers shop; redemptions due on D are put
into that day's orders.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from offerrank.errors import OfferrankError
from offerrank.world.history import History, Lines, summarize
from offerrank.world.market import Offers, StorePromos, draw_offers, draw_store_promos
from offerrank.world.orders import DayOrders, organic_orders, redeemed_lines
from offerrank.world.policy import choose_impressions, pair_keys
from offerrank.world.presets import LABEL_DAYS, iso_days, rng_for
from offerrank.world.storage import insert_columns, write_meta
from offerrank.world.truth import probability_from_history

if TYPE_CHECKING:
    from offerrank.world.world import Pending, StepResult, World

STREAM_REDEEM = 4
DELAY_SHARE = np.array([0.30, 0.20, 0.14, 0.10, 0.08, 0.07, 0.06, 0.05])  # days after shown
assert DELAY_SHARE.size == LABEL_DAYS + 1


@dataclass
class DayResult:
    """Everything a day adds, plus the world state that follows from it."""

    day: int
    new_offers: Offers
    new_promos: StorePromos
    impressions: dict[str, np.ndarray]
    orders: DayOrders
    redemptions: dict[str, np.ndarray]
    new_pending: Pending
    pending: Pending
    shown_keys: np.ndarray
    next_ids: dict[str, int]

    @property
    def lines(self) -> Lines:
        o = self.orders
        return Lines(
            o.line_customer,
            o.product,
            np.full(o.product.size, self.day, dtype=np.int64),
            o.line_order,
            o.unit_price,
            o.is_promo,
        )

    def tables(self) -> dict[str, dict[str, object]]:
        """Contract-shaped columns of the day, keyed by table name, in dependency order."""
        today = iso_days(np.array([self.day]))[0]
        imp, red, o = self.impressions, self.redemptions, self.orders
        return {
            "offers": self.new_offers.columns(),
            "impressions": {
                "impression_id": imp["impression_id"],
                "customer_id": imp["customer"] + 1,
                "offer_id": imp["offer_id"],
                "shown_date": [today] * imp["customer"].size,
                "channel": imp["channel"],
                "propensity": imp["propensity"],
            },
            "orders": {
                "order_id": o.order_id,
                "customer_id": o.customer + 1,
                "order_date": [today] * o.order_id.size,
                "is_business": o.is_business,
                "store_id": o.store,
            },
            "order_items": {
                "order_id": o.line_order,
                "product_id": o.product + 1,
                "quantity": o.quantity,
                "unit_price": o.unit_price,
                "is_promo": o.is_promo,
            },
            "redemptions": {
                "redemption_id": red["redemption_id"],
                "customer_id": red["customer"] + 1,
                "offer_id": red["offer_id"],
                "redeemed_date": [today] * red["customer"].size,
                "order_id": red["order_id"],
            },
        }

    def write(self, con: sqlite3.Connection, day: int) -> None:
        """Append the day to the store; the caller holds the transaction."""
        for table, columns in self.tables().items():
            insert_columns(con, table, columns)
        insert_columns(con, "sim_store_promos", self.new_promos.columns())
        insert_columns(
            con,
            "sim_impression_truth",
            {
                "impression_id": self.impressions["impression_id"],
                "p_true": self.impressions["p_true"],
            },
        )
        today, tomorrow = iso_days(np.array([day, day + 1]))
        con.execute("DELETE FROM sim_pending_redemptions WHERE due_date <= ?", (today,))
        later = self.new_pending.due > day
        insert_columns(
            con,
            "sim_pending_redemptions",
            {
                "impression_id": self.new_pending.impression_id[later],
                "customer_id": self.new_pending.customer[later] + 1,
                "offer_id": self.new_pending.offer_id[later],
                "due_date": iso_days(self.new_pending.due[later]),
            },
        )
        write_meta(con, {"next_day": tomorrow})

    def as_step_result(self, day: date) -> StepResult:
        from offerrank.world.world import StepResult

        t = {name: pa.table(cols) for name, cols in self.tables().items()}
        return StepResult(
            day, t["offers"], t["impressions"], t["orders"], t["order_items"], t["redemptions"]
        )


def external_impressions(
    table: pa.Table, world: World, offers: Offers, first_id: int
) -> tuple[np.ndarray, ...]:
    """Columns of impressions chosen outside the world, checked against its ids."""
    names = set(table.column_names)
    if not {"customer_id", "offer_id"} <= names:
        raise OfferrankError("impressions need columns customer_id and offer_id")
    n = table.num_rows
    cust = table.column("customer_id").to_numpy(zero_copy_only=False).astype(np.int64) - 1
    offer_ids = table.column("offer_id").to_numpy(zero_copy_only=False).astype(np.int64)
    if n and (cust.min() < 0 or cust.max() >= world.population.size):
        raise OfferrankError("impressions reference unknown customer ids")
    try:
        pos = offers.positions(offer_ids) if n else np.zeros(0, dtype=np.int64)
    except KeyError as exc:
        raise OfferrankError(f"impressions reference {exc.args[0]}") from None

    def column(name: str, default: np.ndarray) -> np.ndarray:
        if name not in names:
            return default
        return np.array(table.column(name).to_pylist(), dtype=default.dtype)

    ids = column("impression_id", np.arange(first_id, first_id + n, dtype=np.int64))
    channel = column("channel", np.full(n, None, dtype=object))
    propensity = column("propensity", np.full(n, None, dtype=object))
    return cust, pos, ids, channel, propensity


def simulate_day(world: World, day: int, external: pa.Table | None) -> DayResult:
    """Compute day `day` of `world` without touching the store."""
    from offerrank.world.world import Pending

    preset, seed, cat, pop, ids = (
        world.preset,
        world.seed,
        world.catalogue,
        world.population,
        world.ids,
    )
    new_offers = draw_offers(preset, seed, day, ids["offer"], cat)
    offers = world.offers.extend(new_offers)
    new_promos = draw_store_promos(preset, seed, day, cat)
    hist: History
    if external is None:
        shown = choose_impressions(
            preset, seed, day, pop, cat, offers, world.lines, world.shown_keys
        )
        cust, pos, hist = shown.customer, shown.offer_pos, shown.history
        imp_ids = np.arange(ids["impression"], ids["impression"] + cust.size, dtype=np.int64)
        channel, propensity = shown.channel, shown.propensity
    else:
        cust, pos, imp_ids, channel, propensity = external_impressions(
            external, world, offers, ids["impression"]
        )
        hist = summarize(world.lines, cust, day, cat)
    p_true = probability_from_history(hist, cust, pos, offers, cat, pop, preset.base_rate)

    rng = rng_for(seed, day, STREAM_REDEEM)
    redeem = rng.random(cust.size) < p_true
    delay = rng.choice(DELAY_SHARE.size, cust.size, p=DELAY_SHARE)
    due = np.minimum(day + delay, offers.end[pos])
    new_pending = Pending(imp_ids[redeem], cust[redeem], offers.offer_id[pos[redeem]], due[redeem])
    merged = [
        np.concatenate([getattr(world.pending, k), getattr(new_pending, k)])
        for k in ("impression_id", "customer", "offer_id", "due")
    ]
    order = np.argsort(merged[0], kind="stable")
    all_pending = Pending(*(a[order] for a in merged))
    now = all_pending.due <= day

    today = organic_orders(
        preset, seed, day, ids["order"], pop, cat, world.promos.extend(new_promos)
    )
    first_extra = ids["order"] + today.order_id.size
    red_cust = all_pending.customer[now]
    red_offer = all_pending.offer_id[now]
    orders, red_order = redeemed_lines(
        seed, day, red_cust, offers.positions(red_offer), offers, today, first_extra, pop, cat
    )
    n_red = red_cust.size
    return DayResult(
        day=day,
        new_offers=new_offers,
        new_promos=new_promos,
        impressions={
            "impression_id": imp_ids,
            "customer": cust,
            "offer_id": offers.offer_id[pos],
            "channel": channel,
            "propensity": propensity,
            "p_true": p_true,
        },
        orders=orders,
        redemptions={
            "redemption_id": np.arange(
                ids["redemption"], ids["redemption"] + n_red, dtype=np.int64
            ),
            "customer": red_cust,
            "offer_id": red_offer,
            "order_id": red_order,
        },
        new_pending=new_pending,
        pending=Pending(
            *(
                getattr(all_pending, k)[~now]
                for k in ("impression_id", "customer", "offer_id", "due")
            )
        ),
        shown_keys=pair_keys(cust, offers.offer_id[pos]),
        next_ids={
            "order": int(ids["order"] + orders.order_id.size),
            "impression": int(max(ids["impression"], imp_ids.max(initial=0) + 1)),
            "redemption": int(ids["redemption"] + n_red),
            "offer": int(ids["offer"] + len(new_offers)),
        },
    )
