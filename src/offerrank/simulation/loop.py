"""The closed loop: each day a policy's top K become the world's impressions.

For each (policy, seed) the world store is copied (SQLite backup API, so pages still in
the WAL come along) and, day by day:

1. the policy's pool for D is built (the daily pipeline's candidates, contacted
   customers only, pairs not shown yet); `model` runs the normal daily pipeline for D
   on the copy first and uses its scores;
2. the policy serves each contacted customer's top K (`policies.choose`);
3. the world steps D with those impressions: it draws redemptions from its true
   probabilities and appends the day's orders, so D + 1 runs on the grown store.

A seed is a *continuation seed*: every copy starts from the same history, and the
world's random streams for the simulated days (new offers, organic orders, redemption
draws) come from the seed, shared by all policies of that seed (common random numbers).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from offerrank.config import Settings
from offerrank.errors import OfferrankError
from offerrank.pipeline.daily import run_daily
from offerrank.simulation.policies import (
    POLICIES,
    Pool,
    build_pool,
    candidate_table,
    choose,
    contacted,
    policy_key,
)
from offerrank.store.db import require_store, transaction
from offerrank.world.storage import write_meta
from offerrank.world.truth import true_probability
from offerrank.world.world import World

SEED_BASE = 1_000


@dataclass(frozen=True)
class SimConfig:
    """What to simulate; `settings` carries the pipeline and serving knobs."""

    world_db: Path
    workdir: Path
    first: date
    last: date
    settings: Settings
    k: int = 3
    contact_share: float | None = None  # default: the world preset's show_share
    seeds: int = 1
    record_truth: bool = False  # keep every pool pair's true probability (for OPE checks)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


@dataclass
class PolicyRun:
    """One policy on one seed: its store, and one row per pool pair per day."""

    policy: str
    seed: int
    rank_by: str
    serving: str
    db_path: Path
    pools: pa.Table
    seconds: float
    notes: list[str] = field(default_factory=list)


def copy_store(source: Path, dest: Path) -> Path:
    """A private copy of a store through the SQLite backup API."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return dest


def pipeline_settings(cfg: SimConfig, folder: Path) -> Settings:
    """The daily run's settings in the loop: every candidate scored, greedy, quiet extras."""
    return cfg.settings.model_copy(
        update={
            "db_path": folder / "metro.db",
            "artifacts_dir": folder / "models",
            "reports_dir": folder / "reports",
            "top_k": cfg.settings.max_candidates_per_customer,
            "serving": "greedy",
        }
    )


def prepare_base(cfg: SimConfig, need_model: bool) -> Path:
    """A base copy stepped to the first day, with an active model when `model` will run.

    Days between the world's end and `first` are run by the world's own logging policy.
    The warm-up daily run (for first - 1) trains the model once for every copy.
    """
    require_store(cfg.world_db)
    folder = cfg.workdir.resolve() / "base"
    base = copy_store(cfg.world_db, folder / "metro.db")
    with World.open(base) as world:
        if world.next_date > cfg.first:
            raise OfferrankError(
                f"the world already holds {world.next_date - timedelta(days=1)}; simulate from"
                f" {world.next_date} or later, or generate it with --end before {cfg.first}"
            )
        world.run(until=cfg.first - timedelta(days=1))
    if need_model:
        with sqlite3.connect(base) as con:
            has = (
                con.execute(
                    "SELECT name FROM sqlite_master WHERE name = 'model_registry'"
                ).fetchone()
                and con.execute("SELECT 1 FROM model_registry WHERE is_active = 1").fetchone()
            )
        con.close()
        if not has:
            run_daily(pipeline_settings(cfg, folder), cfg.first - timedelta(days=1))
    return base


def run_policy(
    cfg: SimConfig,
    base: Path,
    policy: str,
    seed: int,
    on_day: Callable[[date], None] | None = None,
) -> PolicyRun:
    """Run one policy over the horizon on its own copy of the base store."""
    if policy not in POLICIES:
        raise OfferrankError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    began = time.perf_counter()
    s = cfg.settings
    tag = f"{policy}-{s.rank_by}-{s.serving if policy == 'model' else 'greedy'}-s{seed}"
    folder = cfg.workdir.resolve() / tag
    db = copy_store(base, folder / "metro.db")
    shutil.rmtree(folder / "models", ignore_errors=True)
    pipe = pipeline_settings(cfg, folder)
    days: list[pa.Table] = []
    notes: list[str] = []
    with World.open(db) as world:
        world.seed = SEED_BASE * world.seed + seed  # the continuation seed (see module doc)
        with transaction(world.con):
            write_meta(world.con, {"seed": str(world.seed)})
        share = cfg.contact_share if cfg.contact_share is not None else world.preset.show_share
        for day in cfg.days:
            if policy == "model":  # the normal daily run; its recommendations hold every candidate
                result = run_daily(pipe, day)
                notes += [n for n in result.notes if n.startswith("warning")]
                cands = _day_scores(db, day)
            else:
                cands = candidate_table(db, day, pipe)
            customers = contacted(seed, day, world.population.size, share)
            pool = build_pool(db, day, cands, customers)
            key = policy_key(policy, pool, db, day, seed, s.rank_by)
            served = choose(policy, pool, key, cfg.k, s, seed, day)
            p_true = (
                true_probability(db, pool.customer_id, pool.offer_id, day)
                if cfg.record_truth
                else np.full(len(pool), np.nan)
            )
            rows = served.rows
            world.step(
                day,
                impressions=pa.table(
                    {
                        "customer_id": pool.customer_id[rows],
                        "offer_id": pool.offer_id[rows],
                        "propensity": served.inclusion[rows],
                    }
                ),
            )
            days.append(_pool_table(day, pool, key, served.inclusion, served.position, p_true))
            if on_day:
                on_day(day)
    return PolicyRun(
        policy,
        seed,
        s.rank_by,
        s.serving if policy == "model" else "greedy",
        db,
        pa.concat_tables(days),
        time.perf_counter() - began,
        notes,
    )


def _day_scores(db: Path, day: date) -> pa.Table:
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT customer_id, offer_id, score FROM recommendations WHERE run_date = ?",
            (day.isoformat(),),
        ).fetchall()
    con.close()
    cols = [np.array(c) for c in zip(*rows, strict=True)] if rows else [np.zeros(0)] * 3
    return pa.table(
        {
            "customer_id": cols[0].astype(np.int64),
            "offer_id": cols[1].astype(np.int64),
            "score": cols[2].astype(np.float64),
        }
    )


def _pool_table(
    day: date,
    pool: Pool,
    key: np.ndarray,
    inclusion: np.ndarray,
    position: np.ndarray,
    p_true: np.ndarray,
) -> pa.Table:
    n = len(pool)
    return pa.table(
        {
            "day": pa.array(np.full(n, np.datetime64(day, "D"))),
            "customer_id": pool.customer_id,
            "offer_id": pool.offer_id,
            "score": pool.score,
            "pop_rank": pool.pop_rank,
            "unit_margin": pool.unit_margin,
            "key": key,
            "inclusion": inclusion,
            "position": position,
            "p_true": p_true,
        }
    )
