"""What happens to each partition of the day's pool, wherever the engine runs it: score,
rank by the configured key, serve the top K, choose the served pairs' reasons, and draw
the partition's sample rows (`samples.partition_draws`).

`rank_partition` is a pure function of one partition's pool (every pair of its customers)
and of a `RankJob` that travels to the data (pickled, for Spark's executors). Each pair's
score depends on that pair alone, each customer's list on that customer's pairs alone,
and each sample draw on a hash of the pair: so the lists and samples are the same however
the customers are split into partitions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.config import Settings
from offerrank.delivery.attribution import LeafTables, served_contributions
from offerrank.delivery.reasons import REASON_COLUMNS, Chosen, choose_reasons
from offerrank.features.registry import FEATURE_COLUMNS, feature_matrix
from offerrank.ranking import samples
from offerrank.ranking.margin import ranking_key
from offerrank.ranking.rank import rank_within_customer
from offerrank.ranking.serving import served_top_k
from offerrank.training.models import Ranker

REC, STATS = "rec", "stats"  # the served lists; one row of the partition's statistics


@dataclass(frozen=True)
class PartitionStats:
    """What a partition reports besides its rows: the pairs it scored and the seconds its
    reasons took."""

    pairs: int
    reasons_seconds: float

    def __add__(self, other: PartitionStats) -> PartitionStats:
        return PartitionStats(
            self.pairs + other.pairs, self.reasons_seconds + other.reasons_seconds
        )


def partition_stats(out: pa.Table) -> PartitionStats:
    """The statistics of the partitions whose output rows are `out` (summed)."""
    stats = out.filter(pc.equal(out.column("kind"), STATS))
    return PartitionStats(
        int(pc.sum(stats.column("pairs")).as_py() or 0),
        float(pc.sum(stats.column("reasons_seconds")).as_py() or 0.0),
    )


@dataclass(frozen=True)
class RankJob:
    """Everything `rank_partition` needs, small enough to send to every executor."""

    model: Ranker
    settings: Settings
    run_date: date
    sizes: samples.SampleSizes
    margin_offers: np.ndarray  # sorted offer ids, with their unit margins (expected margin)
    margins: np.ndarray
    targeted: np.ndarray  # the offers with a business-type target (a reason may say so)
    leaves: LeafTables | None = None  # the model's leaf tables for reasons, built once a day
    columns: tuple[str, ...] = FEATURE_COLUMNS  # the model's features, in its input order

    def unit_margins(self, offer_ids: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.margin_offers, offer_ids)
        return self.margins[np.minimum(pos, max(self.margins.size - 1, 0))]


def output_schema(columns: tuple[str, ...] = FEATURE_COLUMNS) -> pa.Schema:
    """One table for every kind of row `rank_partition` returns (`kind` tells them apart;
    a served row has no features, a sample row no propensity or reasons; the one STATS row
    has only `pairs` and `reasons_seconds`, read back by `partition_stats`)."""
    return pa.schema(
        [
            ("kind", pa.string()),
            ("customer_id", pa.int64()),
            ("offer_id", pa.int64()),
            ("rank", pa.int64()),
            ("score", pa.float64()),
            ("propensity", pa.float64()),
            ("sample_key", pa.float64()),
            ("reason_codes", pa.string()),
            ("pairs", pa.int64()),
            ("reasons_seconds", pa.float64()),
            *[(name, pa.float64()) for name in columns],
        ]
    )


@dataclass(frozen=True)
class RankedPool:
    """A partition's pool scored and ranked, with its served top K (`ranked_lists`)."""

    cust: np.ndarray
    offer: np.ndarray
    X: np.ndarray  # the pool's features, the model's columns, row-major
    scores: np.ndarray
    ranks: np.ndarray  # within each customer, by the configured key
    served: pa.Table  # customer_id, offer_id, rank, score, propensity


def ranked_lists(pool: pa.Table, job: RankJob) -> RankedPool:
    """Score a partition's pool, rank each customer's pairs by the configured key and
    serve the top K by the configured serving policy."""
    s = job.settings
    cust = pool.column("customer_id").to_numpy().astype(np.int64)
    offer = pool.column("offer_id").to_numpy().astype(np.int64)
    X = feature_matrix(pool, job.columns, order="C")  # the compiled trees read rows
    scores = predict_in_chunks(job.model, X)
    margin = job.unit_margins(offer) if s.rank_by == "expected_margin" else None
    key = ranking_key(scores, margin, s.rank_by)
    ranks = rank_within_customer(cust, offer, key)
    served = served_top_k(cust, offer, scores, key, s, job.run_date, rank=ranks)
    return RankedPool(cust, offer, X, scores, ranks, served)


def served_reasons(
    job: RankJob, X: np.ndarray, contributions: np.ndarray, offers: np.ndarray
) -> Chosen:
    """The reasons of served pairs from their features `X` (the model's columns), their
    contributions (`REASON_COLUMNS`) and their offers (a targeted offer may say so)."""
    return choose_reasons(contributions, X[:, REASON_COLUMNS], np.isin(offers, job.targeted))


def rank_partition(pool: pa.Table, job: RankJob) -> pa.Table:
    s = job.settings
    ranked = ranked_lists(pool, job)
    cust, offer, ranks, served = ranked.cust, ranked.offer, ranked.ranks, ranked.served
    started = time.perf_counter()
    rows = served_rows(cust, offer, ranks, served, s.top_k)
    served_offers = served.column("offer_id").to_numpy()
    X_served = ranked.X[rows]
    contributions = served_contributions(job.model, X_served, REASON_COLUMNS, job.leaves)
    reasons = served_reasons(job, X_served, contributions, served_offers).as_json()
    seconds = time.perf_counter() - started
    parts = [
        _rows(REC, served.column("customer_id").to_numpy(), served_offers,
              served.column("rank").to_numpy(), served.column("score").to_numpy(),
              job.columns, propensity=served.column("propensity").to_numpy(), reasons=reasons),
        _rows(STATS, np.zeros(1, np.int64), np.zeros(1, np.int64), None, None, job.columns,
              stats=PartitionStats(pool.num_rows, seconds)),
    ]  # fmt: skip
    for kind, (rows, keys) in samples.partition_draws(
        cust, offer, ranks, job.sizes, s.seed
    ).items():
        parts.append(
            _rows(
                kind,
                cust[rows],
                offer[rows],
                ranks[rows],
                ranked.scores[rows],
                job.columns,
                keys=keys,
                X=ranked.X[rows],
            )  # fmt: skip
        )
    return pa.concat_tables(parts)


SCORE_CHUNK_ROWS = 200_000


def served_rows(
    cust: np.ndarray, offer: np.ndarray, ranks: np.ndarray, served: pa.Table, top_k: int
) -> np.ndarray:
    """Positions in the pool of the served (customer_id, offer_id) pairs, in served order:
    greedy serving serves ranks 1..top_k in (customer, rank) order, tried first; any
    other serving is looked up by pair."""
    s_cust = served.column("customer_id").to_numpy()
    s_offer = served.column("offer_id").to_numpy()
    rows = np.flatnonzero(ranks <= top_k)
    rows = rows[np.lexsort((ranks[rows], cust[rows]))]
    if np.array_equal(cust[rows], s_cust) and np.array_equal(offer[rows], s_offer):
        return rows
    found = pa.table({"customer_id": cust, "offer_id": offer, "row": np.arange(cust.size)})
    wanted = pa.table({"customer_id": s_cust, "offer_id": s_offer, "at": np.arange(s_cust.size)})
    joined = wanted.join(found, keys=["customer_id", "offer_id"]).sort_by("at")
    if joined.num_rows != s_cust.size:
        raise ValueError("a served pair is not in the scored pool")
    return joined.column("row").to_numpy()


def predict_in_chunks(
    model: Ranker, X: np.ndarray, chunk_rows: int = SCORE_CHUNK_ROWS
) -> np.ndarray:
    """model.predict_proba over blocks of rows: every row's score depends on that row
    alone, so the scores equal one call's; the blocks bound the temporary copies."""
    n = X.shape[0]
    scores = np.empty(n, dtype=np.float64)
    for lo in range(0, n, chunk_rows):
        hi = min(lo + chunk_rows, n)
        scores[lo:hi] = model.predict_proba(X[lo:hi])
    return scores


def _rows(
    kind: str,
    cust: np.ndarray,
    offer: np.ndarray,
    rank: np.ndarray | None,
    score: np.ndarray | None,
    features: tuple[str, ...],
    *,
    propensity: np.ndarray | None = None,
    keys: np.ndarray | None = None,
    X: np.ndarray | None = None,
    reasons: pa.Array | None = None,
    stats: PartitionStats | None = None,
) -> pa.Table:
    n = cust.size
    nulls = pa.nulls(n, pa.float64())
    columns: dict[str, pa.Array | np.ndarray] = {
        "kind": pa.repeat(pa.scalar(kind, pa.string()), n),
        "customer_id": cust.astype(np.int64),
        "offer_id": offer.astype(np.int64),
        "rank": pa.nulls(n, pa.int64()) if rank is None else np.asarray(rank, dtype=np.int64),
        "score": nulls if score is None else np.asarray(score, dtype=np.float64),
        "propensity": nulls if propensity is None else propensity.astype(np.float64),
        "sample_key": nulls if keys is None else keys.astype(np.float64),
        "reason_codes": pa.nulls(n, pa.string()) if reasons is None else reasons,
        "pairs": pa.nulls(n, pa.int64()) if stats is None else pa.array([stats.pairs] * n),
        "reasons_seconds": nulls if stats is None else pa.array([stats.reasons_seconds] * n),
    }
    for j, name in enumerate(features):
        columns[name] = nulls if X is None else X[:, j]
    return pa.Table.from_pydict(columns, schema=output_schema(features))
