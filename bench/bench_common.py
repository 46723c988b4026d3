"""What several benchmarks share: the generated store they measure."""

from __future__ import annotations

import time
from pathlib import Path


def source_store(db: Path | None, preset: str, work: Path) -> Path:
    """`db` when given (a store generated before), else a `preset` world generated into
    `work` with seed 7, its generation time printed."""
    if db is not None:
        return db
    from offerrank.world.generate import generate_world

    source = work / "source.db"
    t0 = time.perf_counter()
    generate_world(source, preset=preset, seed=7)
    print(f"generated {preset} in {time.perf_counter() - t0:.1f} s")
    return source
