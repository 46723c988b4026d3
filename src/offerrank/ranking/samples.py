"""The bounded samples a run keeps of its scored pool, drawn so that they do not depend
on how the pool was split into partitions.

Every draw is a hash of (seed, date, customer[, offer]) (`hashing`), so a sample is "the
pairs with the smallest keys": each partition draws its own smallest, and the
run keeps the smallest of those, which are exactly the smallest of the whole pool.

- explanations, stratified: all rank-1..K pairs of the customers with the smallest
  customer keys, while their top pairs fit in half the budget; the rest of the budget
  the pairs with the smallest pair keys among the others;
- importance: the `importance` pairs with the smallest keys of a second stream;
- drift: the `drift` pairs with the smallest keys of a third stream (also the
  population whose quartiles describe a "typical" pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.hashing import id_hash, pair_hash, unit

TOP, RANDOM, IMPORTANCE, DRIFT = "explain_top", "explain_random", "importance", "drift"
# Pairs whose contributions make the global importance: TreeSHAP costs 0.3-0.6 ms a pair
# for the small world's model, so 2,000 keep the step near a second and the mean
# |contribution| within a few per cent.
IMPORTANCE_SAMPLE = 2000
SAMPLE_KINDS = (TOP, RANDOM, IMPORTANCE, DRIFT)
_STREAMS = {TOP: 0, RANDOM: 1, IMPORTANCE: 2, DRIFT: 3}


@dataclass(frozen=True)
class SampleSizes:
    explain: int
    importance: int
    drift: int
    top_k: int


def keys(kind: str, customer: np.ndarray, offer: np.ndarray, seed: int) -> np.ndarray:
    """The sample key of each pair for a kind (of each pair's customer for TOP)."""
    stream = seed * 4 + _STREAMS[kind]
    if kind == TOP:
        return unit(id_hash(customer, stream))
    return unit(pair_hash(customer, offer, stream))


def partition_draws(
    customer: np.ndarray, offer: np.ndarray, rank: np.ndarray, sizes: SampleSizes, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per kind, the rows of one partition that can be in the run's sample, and their keys:
    enough that the merge of all partitions' draws holds the whole pool's sample."""
    out = {}
    half = sizes.explain // 2
    top_key = keys(TOP, customer, offer, seed)
    is_top = rank <= sizes.top_k
    # At most `half` customers can be chosen (each has a rank-1 pair): a partition's
    # draws are the tops of its `half` customers with the smallest keys.
    chosen = _smallest_customers(customer[is_top], top_key[is_top], half)
    rows = np.flatnonzero(is_top & np.isin(customer, chosen))
    out[TOP] = (rows, top_key[rows])
    for kind, size in (
        (RANDOM, sizes.explain + half),  # the chosen tops, excluded later, take at most half
        (IMPORTANCE, sizes.importance),
        (DRIFT, sizes.drift),
    ):
        k = keys(kind, customer, offer, seed)
        rows = _smallest(k, size)
        out[kind] = (rows, k[rows])
    return out


def _smallest(values: np.ndarray, n: int) -> np.ndarray:
    """Row indices of the n smallest values (all when fewer), in ascending order of value."""
    if n <= 0 or values.size == 0:
        return np.zeros(0, dtype=np.int64)
    if values.size > n:
        part = np.argpartition(values, n - 1)[:n]
        return part[np.argsort(values[part], kind="stable")]
    return np.argsort(values, kind="stable")


def _smallest_customers(customer: np.ndarray, key: np.ndarray, n: int) -> np.ndarray:
    ids, first = np.unique(customer, return_index=True)
    return ids[_smallest(key[first], n)]


@dataclass(frozen=True)
class Samples:
    """The scored pairs the explain and drift steps read: rows with keys, rank within the
    customer, score and the model's features."""

    explain: pa.Table  # top-ranked pairs of whole customers, then random pairs
    explain_top: pa.Array  # per explain row: drawn from the top-K stratum
    importance: pa.Table  # uniform: global importance
    drift: pa.Table  # uniform (`drift_sample`): drift and typical values


def select(samples: dict[str, pa.Table], sizes: SampleSizes) -> Samples:
    """The run's samples from every partition's draws (`sample_key` column):
    explanations (TOP then RANDOM rows, at most `explain`), importance and drift."""
    top = samples[TOP]
    cust = top.column("customer_id").to_numpy()
    key = top.column("sample_key").to_numpy()
    per_customer = pc.value_counts(top.column("customer_id"))
    counts = dict(
        zip(
            per_customer.field("values").to_pylist(),
            per_customer.field("counts").to_pylist(),
            strict=True,
        )
    )
    ids, first = np.unique(cust, return_index=True)
    order = ids[np.argsort(key[first], kind="stable")]
    fits = np.cumsum([counts[c] for c in order]) <= sizes.explain // 2
    chosen_top = top.filter(pa.array(np.isin(cust, order[fits])))
    taken = set(
        zip(
            chosen_top.column("customer_id").to_pylist(),
            chosen_top.column("offer_id").to_pylist(),
            strict=True,
        )
    )
    rand = samples[RANDOM]
    pairs = zip(
        rand.column("customer_id").to_pylist(), rand.column("offer_id").to_pylist(), strict=True
    )
    free = rand.filter(pa.array([p not in taken for p in pairs], pa.bool_()))
    free = free.take(_smallest(free.column("sample_key").to_numpy(), sizes.explain - len(taken)))
    explain = pa.concat_tables([chosen_top.sort_by("customer_id"), free])
    return Samples(
        explain=explain,
        explain_top=pa.array([True] * chosen_top.num_rows + [False] * free.num_rows, pa.bool_()),
        importance=_keep(samples[IMPORTANCE], sizes.importance),
        drift=_keep(samples[DRIFT], sizes.drift),
    )


def _keep(table: pa.Table, n: int) -> pa.Table:
    return table.take(_smallest(table.column("sample_key").to_numpy(), n))


def bounded(tables: list[pa.Table], kind: str, sizes: SampleSizes) -> pa.Table:
    """The draws of several partitions merged, trimmed to what `select` can use, so
    that the driver holds a bounded number of rows whatever the number of partitions."""
    merged = pa.concat_tables(tables)
    if kind == TOP:
        cust = merged.column("customer_id").to_numpy()
        keep = _smallest_customers(cust, merged.column("sample_key").to_numpy(), sizes.explain // 2)
        return merged.filter(pa.array(np.isin(cust, keep)))
    limit = {RANDOM: sizes.explain + sizes.explain // 2, IMPORTANCE: sizes.importance}
    return _keep(merged, limit.get(kind, sizes.drift))
