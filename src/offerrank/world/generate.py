"""Generate a whole synthetic world into a store: create it, then step every day.

    >>> summary = generate_world(Path("data/metro.db"), preset="small", seed=7)
    >>> print(summary.describe())

The same seed gives byte-identical tables; `start`/`end` override the preset's range,
which by default ends on 2026-02-28.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from offerrank.errors import OfferrankError, UsageError
from offerrank.store.check import watermarks
from offerrank.store.contract import INPUT_TABLES
from offerrank.store.db import transaction
from offerrank.world.presets import DEFAULT_END, PRESETS, WORLD_VERSION, Preset
from offerrank.world.state import StepResult
from offerrank.world.storage import input_row_counts
from offerrank.world.truth import true_probability
from offerrank.world.world import World

__all__ = [
    "PRESETS",
    "Preset",
    "StepResult",
    "World",
    "WorldSummary",
    "generate_world",
    "true_probability",
]

COUNTED = tuple(t.name for t in INPUT_TABLES) + ("sim_impression_truth", "sim_pending_redemptions")


@dataclass(frozen=True)
class WorldSummary:
    """What a generate call produced: row counts per table, the range, and how long it took."""

    db_path: Path
    preset: str
    seed: int
    start: date
    end: date
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "db_path": str(self.db_path),
            "preset": self.preset,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": (self.end - self.start).days + 1,
            "seconds": round(self.seconds, 3),
            "rows": dict(self.rows),
            "world_version": WORLD_VERSION,
        }

    def describe(self) -> str:
        r = self.rows
        rate = r.get("redemptions", 0) / max(r.get("impressions", 0), 1)
        return "\n".join(
            [
                f"Generated world '{self.preset}' (seed {self.seed}) into {self.db_path} "
                f"in {self.seconds:.1f} s",
                f"  {self.start} .. {self.end} ({(self.end - self.start).days + 1} days)",
                f"  {r.get('customers', 0):,} customers, {r.get('products', 0):,} products, "
                f"{r.get('offers', 0):,} offers",
                f"  {r.get('orders', 0):,} orders, {r.get('order_items', 0):,} order lines",
                f"  {r.get('impressions', 0):,} impressions, "
                f"{r.get('redemptions', 0):,} redemptions ({rate:.2%} of impressions)",
            ]
        )


def resolve_preset(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[preset]


def plan_range(preset: Preset, start: date | None, end: date | None) -> tuple[date, date]:
    """Default: the preset's number of days ending on 2026-02-28; either end may be overridden."""
    last = end or DEFAULT_END
    first = start or last - timedelta(days=preset.days - 1)
    if last < first:
        raise UsageError(f"end {last} is before start {first}")
    return first, last


def _is_empty_store(db_path: Path) -> bool:
    con = sqlite3.connect(db_path)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in (*(t.name for t in INPUT_TABLES), "sim_world"):
            if table in names and con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                return False
        return True
    except sqlite3.DatabaseError as exc:
        raise OfferrankError(f"{db_path} is not a SQLite store: {exc}") from None
    finally:
        con.close()


def prepare_store(db_path: Path, force: bool) -> None:
    """Refuse to overwrite data unless forced; forced means the old file is removed."""
    if not db_path.exists() or _is_empty_store(db_path):
        return
    if not force:
        raise OfferrankError(
            f"{db_path} already holds data; pass force=True (--force) to replace it"
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def generate_world(
    db_path: Path,
    *,
    preset: str | Preset = "small",
    seed: int = 7,
    start: date | None = None,
    end: date | None = None,
    force: bool = False,
) -> WorldSummary:
    """Create a world in `db_path` and simulate every day of its range (one progress
    tick per day, shown if the caller installed a reporter)."""
    began = time.perf_counter()
    if seed < 0:
        raise UsageError(f"seed {seed}: must be 0 or more")
    chosen = resolve_preset(preset)
    first, last = plan_range(chosen, start, end)
    db_path = Path(db_path)
    prepare_store(db_path, force)
    with World.create(db_path, chosen, seed, first, last) as world:
        world.run()
        with transaction(world.con):  # generated rows meet the contract by construction
            watermarks.mark_checked(world.con)
        rows = input_row_counts(world.con, COUNTED)
    return WorldSummary(db_path, chosen.name, seed, first, last, time.perf_counter() - began, rows)
