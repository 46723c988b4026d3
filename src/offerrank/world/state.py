"""What the simulator carries from one day to the next, and what a day hands back.

`day.py` computes a day from a `WorldState` and `world.py` creates, reopens and
advances one; both need these types, so they live here and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from offerrank.world.campaigns import Campaigns, Targets
from offerrank.world.history import LineBuffer
from offerrank.world.market import Offers, StorePromos
from offerrank.world.policy import PairSet
from offerrank.world.population import Catalogue, Population
from offerrank.world.presets import Preset


@dataclass
class Pending:
    """Redemptions decided at impression time, due on a later day (sorted by impression id)."""

    impression_id: np.ndarray
    customer: np.ndarray
    offer_id: np.ndarray
    due: np.ndarray

    @classmethod
    def empty(cls) -> Pending:
        ints = np.zeros(0, dtype=np.int64)
        return cls(ints, ints, ints, ints)


@dataclass
class StepResult:
    """What one day produced, as Arrow tables shaped like the contract tables."""

    day: date
    offers: pa.Table
    impressions: pa.Table
    orders: pa.Table
    order_items: pa.Table
    redemptions: pa.Table


@dataclass
class WorldState:
    """Everything a day needs besides its own random draws.

    `shown` holds the (customer, offer) pairs already shown of offers still running
    (never shown twice by the daily policy), `redeemed` those with a redemption drawn
    (a coupon book never offers them again); `ids` the next free id per table.
    """

    preset: Preset
    seed: int
    next_day: int
    catalogue: Catalogue
    population: Population
    offers: Offers
    promos: StorePromos
    lines: LineBuffer
    pending: Pending
    shown: PairSet
    redeemed: PairSet
    campaigns: Campaigns
    targets: Targets
    ids: dict[str, int]
