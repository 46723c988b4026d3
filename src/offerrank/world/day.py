"""One simulated day, computed in memory and written in one go.

Order of events on day D: new offers and store promotions start; impressions are
shown (by the logging policy or from outside) and each is given its true redemption
probability from the history *before* D; redemptions are drawn and scheduled within
[D, D + 7] (never after the offer ends); customers shop; redemptions due on D are put
into that day's orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from offerrank.errors import OfferrankError
from offerrank.world.campaigns import Launch, deliver_books, launch
from offerrank.world.history import History, Lines, summarize
from offerrank.world.market import Offers, StorePromos, draw_offers, draw_store_promos
from offerrank.world.orders import DayOrders, organic_orders, redeemed_lines
from offerrank.world.policy import choose_impressions
from offerrank.world.presets import HISTORY_DAYS, LABEL_DAYS, iso_days, rng_for
from offerrank.world.state import Pending, StepResult, WorldState
from offerrank.world.storage import Batch, meta_statement, table_of
from offerrank.world.truth import probability_from_history

STREAM_REDEEM = 4
DELAY_SHARE = np.array([0.30, 0.20, 0.14, 0.10, 0.08, 0.07, 0.06, 0.05])  # days after shown
assert DELAY_SHARE.size == LABEL_DAYS + 1
# Days 1..7 after a weekly coupon book: a redemption on the day of the next book would
# make both books' impressions positive, the earlier one without its own draw.
BOOK_DELAY_SHARE = DELAY_SHARE[:LABEL_DAYS] / DELAY_SHARE[:LABEL_DAYS].sum()


@dataclass
class DayResult:
    """Everything a day adds, plus the world state that follows from it."""

    day: int
    business_types: tuple[str, ...]
    new_offers: Offers
    launched: Launch
    new_promos: StorePromos
    impressions: dict[str, np.ndarray]
    orders: DayOrders
    redemptions: dict[str, np.ndarray]
    new_pending: Pending
    pending: Pending
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

    def tables(self) -> dict[str, pa.Table]:
        """Contract-shaped rows of the day, keyed by table name, in dependency order."""
        today = iso_days(np.array([self.day]))[0]
        imp, red, o = self.impressions, self.redemptions, self.orders
        on_day = pa.string()
        return {
            "offers": table_of(self.new_offers.columns(self.business_types)),
            "impressions": table_of(
                {
                    "impression_id": imp["impression_id"],
                    "customer_id": imp["customer"] + 1,
                    "offer_id": imp["offer_id"],
                    "shown_date": pa.repeat(pa.scalar(today, on_day), imp["customer"].size),
                    "channel": pa.array(imp["channel"], pa.string()),
                    "propensity": pa.array(imp["propensity"], pa.float64()),
                }
            ),
            "orders": table_of(
                {
                    "order_id": o.order_id,
                    "customer_id": o.customer + 1,
                    "order_date": pa.repeat(pa.scalar(today, on_day), o.order_id.size),
                    "is_business": o.is_business,
                    "store_id": o.store,
                }
            ),
            "order_items": table_of(
                {
                    "order_id": o.line_order,
                    "product_id": o.product + 1,
                    "quantity": o.quantity,
                    "unit_price": o.unit_price,
                    "is_promo": o.is_promo,
                }
            ),
            "redemptions": table_of(
                {
                    "redemption_id": red["redemption_id"],
                    "customer_id": red["customer"] + 1,
                    "offer_id": red["offer_id"],
                    "redeemed_date": pa.repeat(pa.scalar(today, on_day), red["customer"].size),
                    "order_id": red["order_id"],
                }
            ),
        }

    def batch(self) -> Batch:
        """The day's writes, to be applied in one transaction: contract rows, the world's
        own rows (promotions, true probabilities, redemptions still to come) and its
        next day."""
        today, tomorrow = iso_days(np.array([self.day, self.day + 1]))
        later = self.new_pending.due > self.day
        batch = Batch()
        for name, table in self.tables().items():
            batch.rows(name, table)
        self.launched.rows(batch)
        batch.rows("sim_store_promos", table_of(self.new_promos.columns()))
        batch.rows(
            "sim_impression_truth",
            table_of(
                {
                    "impression_id": self.impressions["impression_id"],
                    "p_true": self.impressions["p_true"],
                }
            ),
        )
        batch.sql("DELETE FROM sim_pending_redemptions WHERE due_date <= ?", (today,))
        batch.rows(
            "sim_pending_redemptions",
            table_of(
                {
                    "impression_id": self.new_pending.impression_id[later],
                    "customer_id": self.new_pending.customer[later] + 1,
                    "offer_id": self.new_pending.offer_id[later],
                    "due_date": iso_days(self.new_pending.due[later]),
                }
            ),
        )
        batch.sql(*meta_statement({"next_day": tomorrow}))
        return batch

    def as_step_result(self) -> StepResult:
        t = self.tables()
        return StepResult(
            date.fromisoformat(iso_days(np.array([self.day]))[0]),
            t["offers"],
            t["impressions"],
            t["orders"],
            t["order_items"],
            t["redemptions"],
        )

    def advance(self, state: WorldState) -> None:
        """Move `state` to the day after this one."""
        state.next_day = self.day + 1
        state.offers = state.offers.extend(self.new_offers)
        state.campaigns = state.campaigns.extend(self.launched.campaigns)
        state.targets = state.targets.extend(self.launched.targets)
        state.promos = state.promos.extend(self.new_promos).since(state.next_day)
        state.lines.append(self.day, self.lines)
        state.lines.trim(state.next_day - HISTORY_DAYS)
        state.pending = self.pending
        # pairs of offers that have ended can be neither shown nor redeemed again
        imp, drawn, offers = self.impressions, self.new_pending, state.offers
        state.shown = state.shown.add(
            imp["customer"], imp["offer_id"], offers.end[offers.positions(imp["offer_id"])]
        ).running_on(state.next_day)
        state.redeemed = state.redeemed.add(
            drawn.customer, drawn.offer_id, offers.end[offers.positions(drawn.offer_id)]
        ).running_on(state.next_day)
        state.ids.update(self.next_ids)


def external_impressions(
    table: pa.Table, customers: int, offers: Offers, first_id: int
) -> tuple[np.ndarray, ...]:
    """Columns of impressions chosen outside the world, checked against its ids."""
    names = set(table.column_names)
    if not {"customer_id", "offer_id"} <= names:
        raise OfferrankError("impressions need columns customer_id and offer_id")
    n = table.num_rows
    cust = table.column("customer_id").to_numpy(zero_copy_only=False).astype(np.int64) - 1
    offer_ids = table.column("offer_id").to_numpy(zero_copy_only=False).astype(np.int64)
    if n and (cust.min() < 0 or cust.max() >= customers):
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


def simulate_day(world: WorldState, day: int, external: pa.Table | None) -> DayResult:
    """Compute day `day` from the state before it, without touching the store."""
    preset, seed, cat, pop, ids = (
        world.preset,
        world.seed,
        world.catalogue,
        world.population,
        world.ids,
    )
    if preset.campaigns is None:
        launched = Launch.none()
        new_offers = draw_offers(preset, seed, day, ids["offer"], cat)
    else:
        launched = launch(preset, seed, day, ids["offer"], pop, cat)
        new_offers = launched.offers
    offers = world.offers.extend(new_offers)
    campaigns = world.campaigns.extend(launched.campaigns)
    new_promos = draw_store_promos(preset, seed, day, cat)
    hist: History
    if external is not None:
        cust, pos, imp_ids, channel, propensity = external_impressions(
            external, pop.size, offers, ids["impression"]
        )
        hist = summarize(world.lines, cust, day, cat)
    else:
        if preset.campaigns is None:
            shown = choose_impressions(
                preset, seed, day, pop, cat, offers, world.lines, world.shown.keys
            )
        else:
            shown = deliver_books(
                preset,
                seed,
                day,
                pop,
                cat,
                offers,
                campaigns,
                world.targets.extend(launched.targets),
                world.lines,
                world.redeemed,
            )
        cust, pos, hist = shown.customer, shown.offer_pos, shown.history
        imp_ids = np.arange(ids["impression"], ids["impression"] + cust.size, dtype=np.int64)
        channel, propensity = shown.channel, shown.propensity
    rates = campaigns.rates(offers.campaign[pos])
    p_true = probability_from_history(
        hist, cust, pos, offers, cat, pop, preset.base_rate, rates, preset.facts
    )

    rng = rng_for(seed, day, STREAM_REDEEM)
    redeem = rng.random(cust.size) < p_true
    if preset.campaigns is None:
        delay = rng.choice(DELAY_SHARE.size, cust.size, p=DELAY_SHARE)
    else:  # a book is used from the next trip on, never on the day the next one comes
        delay = 1 + rng.choice(BOOK_DELAY_SHARE.size, cust.size, p=BOOK_DELAY_SHARE)
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
        preset,
        seed,
        day,
        red_cust,
        offers.positions(red_offer),
        offers,
        today,
        first_extra,
        pop,
        cat,
    )
    n_red = red_cust.size
    return DayResult(
        day=day,
        business_types=preset.facts.business_types,
        new_offers=new_offers,
        launched=launched,
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
        next_ids={
            "order": int(ids["order"] + orders.order_id.size),
            "impression": int(max(ids["impression"], imp_ids.max(initial=0) + 1)),
            "redemption": int(ids["redemption"] + n_red),
            "offer": int(ids["offer"] + len(new_offers)),
        },
    )
