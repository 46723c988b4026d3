"""A world that advances one day at a time from the state saved in its store.

Everything a day needs is either persisted (latent tastes, offers, pending
redemptions in `sim_*` tables) or read back from the contract tables (the last 90
days of order lines), and every random draw comes from `rng_for(seed, day, stream)`.
So a world closed after any day and reopened continues exactly as if it had never
stopped, and the impressions of a day may come from an outside policy.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from offerrank.errors import OfferrankError
from offerrank.progress import track
from offerrank.store.check import watermarks
from offerrank.store.db import connect, transaction
from offerrank.world import population as popmod
from offerrank.world import population_io
from offerrank.world.bulk import BulkWriter
from offerrank.world.campaigns import Launch, launch, load_campaigns
from offerrank.world.day import simulate_day
from offerrank.world.history import LineBuffer, load_lines
from offerrank.world.market import (
    Offers,
    StorePromos,
    draw_offers,
    draw_store_promos,
    load_offers,
    load_store_promos,
)
from offerrank.world.policy import PairSet
from offerrank.world.population import Catalogue, Population
from offerrank.world.presets import (
    HISTORY_DAYS,
    WORLD_VERSION,
    Preset,
    day_date,
    day_number,
    iso_days,
)
from offerrank.world.state import Pending, StepResult, WorldState
from offerrank.world.storage import (
    Batch,
    create_indexes,
    create_schema,
    fetch_columns,
    meta_statement,
    next_id,
    read_meta,
    table_of,
    write_batch,
)


def load_state(db_path: Path, con: sqlite3.Connection, preset: Preset, seed: int) -> WorldState:
    """The state a saved world stopped in, read back from its store."""
    next_day = day_number(date.fromisoformat(read_meta(con)["next_day"]))
    running = [iso_days(np.array([next_day]))[0]]
    p = fetch_columns(
        con,
        "SELECT impression_id, customer_id - 1 AS customer, offer_id,"
        " CAST(julianday(due_date) - 2440587.5 AS INTEGER) AS due"
        " FROM sim_pending_redemptions ORDER BY impression_id",
    )
    end_day = "CAST(julianday(substr(o.end_date, 1, 10)) - 2440587.5 AS INTEGER) AS end_day"
    s = fetch_columns(
        con,
        f"SELECT i.customer_id - 1 AS customer, i.offer_id, {end_day} FROM impressions i"
        " JOIN offers o ON o.offer_id = i.offer_id WHERE o.end_date >= ?",
        running,
    )
    r = fetch_columns(
        con,
        f"SELECT p.customer_id - 1 AS customer, p.offer_id, {end_day}"
        " FROM sim_pending_redemptions p JOIN offers o ON o.offer_id = p.offer_id"
        f" UNION ALL SELECT r.customer_id - 1, r.offer_id, {end_day} FROM redemptions r"
        " JOIN offers o ON o.offer_id = r.offer_id WHERE o.end_date >= ?",
        running,
    )
    campaigns, targets = load_campaigns(con)
    facts = preset.facts
    return WorldState(
        preset=preset,
        seed=seed,
        next_day=next_day,
        catalogue=population_io.load_catalogue(db_path, facts),
        population=population_io.load_population(db_path, facts),
        offers=load_offers(con, facts.business_types),
        promos=load_store_promos(con, next_day),
        lines=LineBuffer.of(load_lines(db_path, next_day - HISTORY_DAYS, next_day)),
        pending=Pending(
            *(p[k].astype(np.int64) for k in ("impression_id", "customer", "offer_id", "due"))
        ),
        shown=_pairs(s),
        redeemed=_pairs(r),
        campaigns=campaigns,
        targets=targets,
        ids={
            "order": next_id(con, "orders", "order_id"),
            "impression": next_id(con, "impressions", "impression_id"),
            "redemption": next_id(con, "redemptions", "redemption_id"),
            "offer": next_id(con, "offers", "offer_id"),
        },
    )


def _pairs(rows: dict[str, np.ndarray]) -> PairSet:
    if rows["customer"].size == 0:
        return PairSet.empty()
    return PairSet.empty().add(
        rows["customer"].astype(np.int64),
        rows["offer_id"].astype(np.int64),
        rows["end_day"].astype(np.int64),
    )


def initial_state(
    preset: Preset, seed: int, start_day: int, end_day: int
) -> tuple[WorldState, Batch]:
    """A new world's population and warm-up market, and the batch that saves them."""
    catalogue: Catalogue = popmod.build_catalogue(preset, seed)
    population: Population = popmod.build_population(preset, seed, start_day, end_day, catalogue)
    offers, promos = Offers.empty(), StorePromos.empty()
    running = Launch.none()
    for day in range(start_day - preset.warmup_days, start_day):  # a loop over days, not rows
        if preset.campaigns is None:
            drawn = draw_offers(preset, seed, day, 1, catalogue)
            offers = offers.extend(drawn.where(drawn.end >= start_day))
        else:
            started = launch(preset, seed, day, 1, population, catalogue)
            if len(started.campaigns) and started.campaigns.end[0] >= start_day:
                running = running.extend(started)
                offers = offers.extend(started.offers)
        promos = promos.extend(draw_store_promos(preset, seed, day, catalogue).since(start_day))
    offers.offer_id = np.arange(1, len(offers) + 1, dtype=np.int64)
    running.offers = offers
    facts = preset.facts
    batch = population_io.population_rows(Batch(), catalogue, population, facts)
    batch.rows("offers", table_of(offers.columns(facts.business_types)))
    running.rows(batch)
    batch.rows("sim_store_promos", table_of(promos.columns()))
    state = WorldState(
        preset=preset,
        seed=seed,
        next_day=start_day,
        catalogue=catalogue,
        population=population,
        offers=offers,
        promos=promos.since(start_day),
        lines=LineBuffer(),
        pending=Pending.empty(),
        shown=PairSet.empty(),
        redeemed=PairSet.empty(),
        campaigns=running.campaigns,
        targets=running.targets,
        ids={"order": 1, "impression": 1, "redemption": 1, "offer": len(offers) + 1},
    )
    return state, batch


class World:
    """The simulator between days: `step` advances it one day and writes that day
    atomically; `run` advances it many days through the bulk writer."""

    def __init__(self, db_path: Path, con: sqlite3.Connection, state: WorldState, end_day: int):
        self.db_path, self.con, self.state, self.end_day = db_path, con, state, end_day

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
        with transaction(con):  # bulk rows go in unobserved; `mark_checked` restores them
            watermarks.drop_triggers(con)
        start_day, end_day = day_number(start), day_number(end)
        state, batch = initial_state(preset, seed, start_day, end_day)
        batch.sql(
            *meta_statement(
                {
                    "preset": preset.to_json(),
                    "seed": str(seed),
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "next_day": start.isoformat(),
                    "world_version": str(WORLD_VERSION),
                }
            )
        )
        with BulkWriter(db_path) as writer:
            writer.write(batch)
        return cls(db_path, con, state, end_day)

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
        preset = Preset.from_json(meta["preset"])
        state = load_state(Path(db_path), con, preset, int(meta["seed"]))
        return cls(Path(db_path), con, state, day_number(date.fromisoformat(meta["end"])))

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what callers read -----------------------------------------------------------------
    @property
    def preset(self) -> Preset:
        return self.state.preset

    @property
    def seed(self) -> int:
        return self.state.seed

    @seed.setter
    def seed(self, value: int) -> None:
        """A continuation seed: the days stepped from now on draw from it."""
        self.state.seed = value

    @property
    def population(self) -> Population:
        return self.state.population

    @property
    def offers(self) -> Offers:
        return self.state.offers

    @property
    def next_day(self) -> int:
        return self.state.next_day

    @property
    def next_date(self) -> date:
        return day_date(self.state.next_day)

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
        result = simulate_day(self.state, self.next_day, impressions)
        try:
            with transaction(self.con):
                write_batch(self.con, result.batch())
        except sqlite3.IntegrityError as exc:
            raise OfferrankError(f"cannot write {self.next_date}: {exc}") from None
        result.advance(self.state)
        return result.as_step_result()

    def run(self, until: date | None = None) -> int:
        """Step every day up to `until` (default: the planned end); return the days run.

        The days go to the bulk writer, one transaction each, written while the next
        day is computed; the store ends exactly as `step` day by day would leave it.
        Reports one tick per day to the progress reporter, if the caller installed one.
        """
        last = day_number(until) if until else self.end_day
        days = range(self.next_day, last + 1)
        with BulkWriter(self.db_path) as writer:
            for day in track(days, "generating days", label=lambda d: day_date(d).isoformat()):
                result = simulate_day(self.state, day, None)
                writer.write(result.batch())
                result.advance(self.state)
        create_indexes(self.con)
        return len(days)
