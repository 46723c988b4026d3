"""A world that advances one day at a time from the state saved in its store.

Everything a day needs is either persisted (latent tastes, offers, pending
redemptions in `sim_*` tables) or read back from the contract tables (the last 90
days of order lines), and every random draw comes from `rng_for(seed, day, stream)`.
So a world closed after any day and reopened continues exactly as if it had never
stopped, and the impressions of a day may come from an outside policy.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from offerrank.errors import OfferrankError
from offerrank.progress import track
from offerrank.store.db import connect, transaction
from offerrank.world import population as popmod
from offerrank.world import population_io
from offerrank.world.day import DayResult, simulate_day
from offerrank.world.history import LineBuffer, load_lines
from offerrank.world.market import (
    Offers,
    StorePromos,
    draw_offers,
    draw_store_promos,
    load_offers,
    load_store_promos,
)
from offerrank.world.policy import pair_keys
from offerrank.world.presets import HISTORY_DAYS, Preset, day_date, day_number, iso_days
from offerrank.world.storage import (
    create_indexes,
    create_schema,
    fetch_columns,
    insert_columns,
    next_id,
    read_meta,
    write_meta,
)

WARMUP_DAYS = 28  # offers and promotions already running on the first day


@dataclass
class Pending:
    """Redemptions decided at impression time, due on a later day (sorted by impression id)."""

    impression_id: np.ndarray
    customer: np.ndarray
    offer_id: np.ndarray
    due: np.ndarray


@dataclass
class StepResult:
    """What one day produced, as Arrow tables shaped like the contract tables."""

    day: date
    offers: pa.Table
    impressions: pa.Table
    orders: pa.Table
    order_items: pa.Table
    redemptions: pa.Table


class World:
    """The simulator's state between days; `step` advances it and writes the day atomically."""

    def __init__(
        self,
        db_path: Path,
        con: sqlite3.Connection,
        preset: Preset,
        seed: int,
        end_day: int,
        next_day: int,
    ) -> None:
        self.db_path, self.con, self.preset, self.seed = db_path, con, preset, seed
        self.end_day, self.next_day = end_day, next_day
        self.catalogue = population_io.load_catalogue(con)
        self.population = population_io.load_population(con)
        self.offers = load_offers(con)
        self.promos = load_store_promos(con, next_day)
        self.lines = LineBuffer(load_lines(db_path, next_day - HISTORY_DAYS, next_day))
        p = fetch_columns(
            con,
            "SELECT impression_id, customer_id - 1 AS customer, offer_id,"
            " CAST(julianday(due_date) - 2440587.5 AS INTEGER) AS due"
            " FROM sim_pending_redemptions ORDER BY impression_id",
        )
        self.pending = Pending(
            *(p[k].astype(np.int64) for k in ("impression_id", "customer", "offer_id", "due"))
        )
        s = fetch_columns(
            con,
            "SELECT i.customer_id - 1 AS customer, i.offer_id FROM impressions i"
            " JOIN offers o ON o.offer_id = i.offer_id WHERE o.end_date >= ?",
            [iso_days(np.array([next_day]))[0]],
        )
        self.shown_keys = np.unique(
            pair_keys(s["customer"].astype(np.int64), s["offer_id"].astype(np.int64))
        )
        self.ids = {
            "order": next_id(con, "orders", "order_id"),
            "impression": next_id(con, "impressions", "impression_id"),
            "redemption": next_id(con, "redemptions", "redemption_id"),
            "offer": next_id(con, "offers", "offer_id"),
        }

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    def create(cls, db_path: Path, preset: Preset, seed: int, start: date, end: date) -> World:
        """Draw the population and the warm-up market into an empty store; no day is run yet."""
        db_path = Path(db_path)
        con = connect(db_path, create=True)
        create_schema(con)
        if con.execute("SELECT 1 FROM sim_world UNION ALL SELECT 1 FROM customers").fetchone():
            con.close()
            raise OfferrankError(f"{db_path} already holds data; a world needs an empty store")
        start_day, end_day = day_number(start), day_number(end)
        catalogue = popmod.build_catalogue(preset, seed)
        population = popmod.build_population(preset, seed, start_day, end_day, catalogue)
        offers, promos = Offers.empty(), StorePromos.empty()
        for day in range(start_day - WARMUP_DAYS, start_day):  # a loop over days, not rows
            drawn = draw_offers(preset, seed, day, 1, catalogue)
            offers = offers.extend(drawn.where(drawn.end >= start_day))
            promos = promos.extend(draw_store_promos(preset, seed, day, catalogue).since(start_day))
        offers.offer_id = np.arange(1, len(offers) + 1, dtype=np.int64)
        with transaction(con):
            population_io.save_world_population(con, catalogue, population)
            insert_columns(con, "offers", offers.columns())
            insert_columns(con, "sim_store_promos", promos.columns())
            write_meta(
                con,
                {
                    "preset": preset.to_json(),
                    "seed": str(seed),
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "next_day": start.isoformat(),
                },
            )
        return cls(db_path, con, preset, seed, end_day, start_day)

    @classmethod
    def open(cls, db_path: Path) -> World:
        """Reopen a generated world where it stopped."""
        con = connect(Path(db_path))
        try:
            meta = read_meta(con)
            create_indexes(con)
        except sqlite3.OperationalError:
            meta = {}
        if "preset" not in meta:
            con.close()
            raise OfferrankError(f"{db_path} holds no generated world (no sim_world rows)")
        return cls(
            Path(db_path),
            con,
            Preset.from_json(meta["preset"]),
            int(meta["seed"]),
            day_number(date.fromisoformat(meta["end"])),
            day_number(date.fromisoformat(meta["next_day"])),
        )

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def next_date(self) -> date:
        return day_date(self.next_day)

    @property
    def end_date(self) -> date:
        return day_date(self.end_day)

    # -- stepping --------------------------------------------------------------------------
    def step(self, day: date | None = None, impressions: pa.Table | None = None) -> StepResult:
        """Simulate `day` (default: the next one) and write it in one transaction.

        `impressions` (columns customer_id, offer_id; optional impression_id, channel,
        propensity) replaces the built-in logging policy for that day. The result holds
        the day's new offers, impressions, orders with their lines, and the redemptions
        that happened on the day (of offers shown on this or one of the 7 previous days).
        """
        if day is not None and day_number(day) != self.next_day:
            raise OfferrankError(f"the world is at {self.next_date}; cannot step {day}")
        result = simulate_day(self, self.next_day, impressions)
        try:
            with transaction(self.con):
                result.write(self.con, self.next_day)
        except sqlite3.IntegrityError as exc:
            raise OfferrankError(f"cannot write {self.next_date}: {exc}") from None
        self._advance(result)
        return result.as_step_result(day_date(self.next_day - 1))

    def run(self, until: date | None = None) -> int:
        """Step every day up to `until` (default: the planned end); return the days run.

        Reports one tick per day to the progress reporter, if the caller installed one.
        """
        last = day_number(until) if until else self.end_day
        days = range(self.next_day, last + 1)
        for _ in track(days, "generating days", label=lambda d: day_date(d).isoformat()):
            self.step()
        create_indexes(self.con)
        return len(days)

    def _advance(self, r: DayResult) -> None:
        self.next_day = r.day + 1
        self.offers = self.offers.extend(r.new_offers)
        self.promos = self.promos.extend(r.new_promos).since(self.next_day)
        self.lines.append(r.lines)
        self.lines.trim(self.next_day - HISTORY_DAYS)
        self.pending = r.pending
        keys = np.union1d(self.shown_keys, r.shown_keys)
        if keys.size:  # forget pairs of offers that have ended: they cannot be shown again
            keys = keys[self.offers.end[self.offers.positions(keys & 0xFFFFFFFF)] >= self.next_day]
        self.shown_keys = keys
        self.ids.update(r.next_ids)
