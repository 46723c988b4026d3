"""Shared groundwork of the offline metrics: checked inputs and runs of tied scores.

Ranking metrics look at each group's (customer's) impressions ordered by score, best
first. Ties in score are not broken by row order (that would make a metric depend on how
the rows happen to be stored): the sorted rows are cut into runs of equal score, and each
metric treats a run as a block whose members are in a uniformly random order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def as_vector(x: Any) -> np.ndarray:
    """A finite float64 vector: a NaN score or label is a bug upstream, never a value."""
    a = np.asarray(x, dtype=np.float64).ravel()
    if not np.isfinite(a).all():
        raise ValueError("metrics need finite values (found NaN or inf)")
    return a


def customer_codes(keys: Any) -> tuple[np.ndarray, int]:
    """Dense codes 0..G-1 in sorted key order, so results never depend on row order."""
    codes, uniques = pd.factorize(np.asarray(keys).ravel(), sort=True)
    if (codes < 0).any():
        raise ValueError("metrics need non-null ids (customer, offer, category)")
    return codes.astype(np.int64), len(uniques)


@dataclass(frozen=True)
class ScoreRuns:
    """Impressions sorted by (group, score descending), cut into runs of tied scores.

    run_of_row[i] is the run of the i-th *sorted* row; order maps sorted rows back to the
    input. offset is the number of the group's rows ranked strictly above the run.
    """

    order: np.ndarray
    run_of_row: np.ndarray
    group: np.ndarray
    offset: np.ndarray
    size: np.ndarray
    group_size: np.ndarray
    n_groups: int


def score_runs(codes: np.ndarray, n_groups: int, scores: np.ndarray) -> ScoreRuns:
    order = np.lexsort((-scores, codes))
    g, s = codes[order], scores[order]
    n = g.size
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = g[1:] != g[:-1]
    new_run = new_group.copy()
    new_run[1:] |= s[1:] != s[:-1]
    run_start = np.flatnonzero(new_run)
    group_start = np.flatnonzero(new_group)
    first_of_group = group_start[np.cumsum(new_group) - 1]
    return ScoreRuns(
        order=order,
        run_of_row=np.cumsum(new_run) - 1,
        group=g[run_start],
        offset=run_start - first_of_group[run_start],
        size=np.diff(np.append(run_start, n)),
        group_size=np.bincount(codes, minlength=n_groups),
        n_groups=n_groups,
    )


def run_sum(runs: ScoreRuns, values: np.ndarray) -> np.ndarray:
    return np.bincount(runs.run_of_row, weights=values[runs.order], minlength=runs.size.size)
