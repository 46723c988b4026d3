"""Dataclasses of NumPy arrays (appending one to another, selecting rows), and the
array helpers the simulation shares."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

import numpy as np

A = TypeVar("A", bound="Appendable")
C = TypeVar("C", bound="Columns")


class Appendable:
    """A dataclass whose fields are arrays: `extend` concatenates field by field."""

    def extend(self: A, other: A) -> A:
        return type(self)(
            *(np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self))  # type: ignore[arg-type]
        )


class Columns(Appendable):
    """An Appendable whose fields are equal-length columns: one index per row."""

    def where(self: C, mask: np.ndarray) -> C:
        return type(self)(*(getattr(self, f.name)[mask] for f in fields(self)))  # type: ignore[arg-type]

    def __len__(self) -> int:
        first: Any = getattr(self, fields(self)[0].name)  # type: ignore[arg-type]
        return int(first.size)


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values, by one sort: what `np.unique(values)` returns, but
    NumPy 2.3+ answers that through a hash table, 20-30x slower on 100k integers."""
    ordered = np.sort(values, axis=None)
    if ordered.size == 0:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
