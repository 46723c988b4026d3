"""Counter-based randomness: a uniform value per id (or per pair of ids) from a hash.

A draw that depends only on the thing drawn for (an impression, a customer, a pair) and a
seed, not on what else is in the batch or in what order, gives the same answer whether
the work runs at once, by partitions of customers or on another machine: the negative
sample of a training window, the serving draws and the run's samples all use it.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def id_hash(ids: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 of id + seed: a uniform 64-bit value per id."""
    with np.errstate(over="ignore"):
        z = np.asarray(ids).astype(np.uint64) + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def pair_hash(first: np.ndarray, second: np.ndarray, seed: int) -> np.ndarray:
    """A uniform 64-bit value per (first, second) pair of ids."""
    with np.errstate(over="ignore"):
        return id_hash(id_hash(first, seed) ^ np.asarray(second).astype(np.uint64), seed + 1)


def unit(hashes: np.ndarray) -> np.ndarray:
    """Hashes as uniform floats in the open interval (0, 1)."""
    return ((hashes >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def day_seed(seed: int, ordinal: int, stream: int = 0) -> int:
    """One seed per (seed, day, purpose)."""
    return int(id_hash(np.array([ordinal * 1_000_003 + stream]), seed)[0] & 0x7FFFFFFFFFFFFFFF)
