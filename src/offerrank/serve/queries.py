"""What the API reads, through one read-only connection and one snapshot per request.

The daily run writes the store while the API reads it. In WAL mode a read transaction
sees the database as it was when it began, and a run replaces a date's recommendations in
one transaction, so every query of a request runs inside one `BEGIN ... COMMIT`: a client
sees a date's whole old list or its whole new one, never a mix, and never blocks the run.

The connection is opened read-only (`mode=ro`, `query_only`), so nothing the API does can
write. It is reopened when the file at the store's path is another file (a store replaced
by a new one) and after any SQLite error, which the caller turns into a 503.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from offerrank.delivery.headline import HEADLINE
from offerrank.delivery.offers import OfferDetails
from offerrank.delivery.reasons import parse_codes, reason_text
from offerrank.pipeline.runs import _alive

# The steps of a daily run, in order (the pipeline's STEPS; a test keeps them equal). A
# run stops at its first failed step, so its last step succeeding means all did.
RUN_STEPS = ("load", "train", "candidates", "rank", "explain", "drift", "evaluate")
DONE = ("success", "skipped")
PROBLEMS = ("failed", "interrupted", "running")
RUN_METRICS = (*HEADLINE, "k", "top_k")
CACHE_KIB = 65536  # SQLite's page cache per connection (its default is 2 MB)


class StoreUnavailable(Exception):
    """The store cannot be read now (missing, replaced mid-write, not a store): a 503."""


class NotFound(Exception):
    """What was asked for is not in the store: a 404 with this message."""


@dataclass
class ReadOnlyStore:
    """A read-only connection to the store at `path`, reopened when the file changes."""

    path: Path
    _con: sqlite3.Connection | None = field(default=None, init=False)
    _identity: tuple[int, int] | None = field(default=None, init=False)

    def _connection(self) -> sqlite3.Connection:
        try:
            st = os.stat(self.path)
        except OSError:
            self.close()
            raise StoreUnavailable(f"store not found: {self.path}") from None
        identity = (st.st_dev, st.st_ino)
        if self._con is None or identity != self._identity:
            self.close()
            uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
            con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA query_only = 1")
            con.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._con, self._identity = con, identity
        return self._con

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same state of the store."""
        con = self._connection()
        try:
            con.execute("BEGIN")
            yield con
        except sqlite3.Error as exc:
            self.close()
            if str(exc).startswith("no such table"):
                raise StoreUnavailable(
                    f"store {self.path} has no run outputs ({exc}): never run, or not a store"
                ) from exc
            raise StoreUnavailable(f"store {self.path} not readable: {exc}") from exc
        finally:
            if self._con is con and con.in_transaction:
                con.execute("ROLLBACK")  # ends the snapshot; nothing was written

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
        self._con, self._identity = None, None


def latest_complete_run(con: sqlite3.Connection) -> tuple[str, str] | None:
    """(run_date, run_id) of the newest run whose steps all succeeded (or were skipped)."""
    marks = ", ".join("?" * len(DONE))
    row = con.execute(
        "SELECT run_date, run_id FROM pipeline_runs WHERE step = ?"
        f" AND status IN ({marks}) ORDER BY rowid DESC LIMIT 1",
        (RUN_STEPS[-1], *DONE),
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


OFFERS_SQL = """
SELECT r.rank, r.score, r.model_version, r.offer_id, r.reason_codes,
       o.product_id, p.category, o.discount_pct, o.start_date, o.end_date,
       o.target_business_type, p.list_price, p.price_tier, p.is_own_brand
FROM recommendations r
LEFT JOIN offers o ON o.offer_id = r.offer_id
LEFT JOIN products p ON p.product_id = o.product_id
WHERE r.run_date = ? AND r.customer_id = ?
ORDER BY r.rank LIMIT ?
"""


@lru_cache(maxsize=65536)
def _offer_tail(static: tuple[Any, ...], run_date: str) -> bytes:
    """An offer's JSON after its rank, id and score: `,"product_id":...,"reasons":[...]}`.

    A pure function of the row's offer columns and reason codes (`static`, the row from
    `offer_id` on) and the date, so it is built and encoded once per distinct (offer,
    codes, date), not once per request.
    """
    offer_id, codes, product_id, category, discount, start, end, target, price, tier, own = static
    offer = None
    out: dict[str, Any] = {}
    if product_id is not None:
        offer = OfferDetails(
            offer_id, product_id, category, discount, str(start)[:10], str(end)[:10], target,
            price, tier, None if own is None else bool(own),
        )  # fmt: skip
        out = {
            "product_id": product_id,
            "category": category,
            "discount_pct": discount,
            "valid_from": offer.valid_from,
            "valid_to": offer.valid_to,
            "list_price": price,
            "offer_price": offer.offer_price,
            "price_tier": tier,
            "own_brand": offer.own_brand,
            "label": offer.label,
        }
    out["reasons"] = [
        {"code": c, "text": reason_text(c, offer, run_date)} for c in parse_codes(codes)
    ]
    return b"," + orjson.dumps(out)[1:]


def _offers_json(rows: list[tuple[Any, ...]], run_date: str) -> orjson.Fragment:
    """The offers array, encoded: each offer's rank, id and score, then its cached tail."""
    parts = [
        b'{"rank":%d,"offer_id":%d,"score":%b%b'
        % (r[0], r[3], orjson.dumps(r[1]), _offer_tail(r[3:], run_date))
        for r in rows
    ]
    return orjson.Fragment(b"[" + b",".join(parts) + b"]")


def customer_offers(
    con: sqlite3.Connection, customer_id: int, run_date: str | None, limit: int
) -> dict[str, Any]:
    """A customer's served list of `run_date` (default: the newest complete run's)."""
    run_id: str | None
    if run_date is None:
        latest = latest_complete_run(con)
        if latest is None:
            raise NotFound("no run has completed yet: nothing to serve")
        run_date, run_id = latest
    else:
        row = con.execute(
            "SELECT run_id FROM pipeline_runs WHERE run_date = ? AND step = 'rank'"
            " AND status = 'success' ORDER BY rowid DESC LIMIT 1",
            (run_date,),
        ).fetchone()
        run_id = None if row is None else row[0]
    rows = con.execute(OFFERS_SQL, (run_date, customer_id, limit)).fetchall()
    if not rows:
        if con.execute("SELECT 1 FROM customers WHERE customer_id = ?", (customer_id,)).fetchone():
            if con.execute(
                "SELECT 1 FROM recommendations WHERE run_date = ? LIMIT 1", (run_date,)
            ).fetchone():
                raise NotFound(f"customer {customer_id} has no offers on {run_date}")
            raise NotFound(f"no recommendations for {run_date}")
        raise NotFound(f"customer {customer_id} is not in the store")
    return {
        "customer_id": customer_id,
        "run_date": run_date,
        "run_id": run_id,
        "model_version": rows[0][2],
        "offers": _offers_json(rows, run_date),
    }


def _status(statuses: list[str]) -> str:
    return next((p for p in PROBLEMS if p in statuses), "success")


def run_summary(con: sqlite3.Connection, run_date: str | None) -> dict[str, Any]:
    """The newest run (of `run_date`, when given): status, step timings, headline metrics."""
    if run_date is None:
        row = con.execute(
            "SELECT run_id, run_date FROM pipeline_runs ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
    else:
        row = con.execute(
            "SELECT run_id, run_date FROM pipeline_runs WHERE run_date = ?"
            " ORDER BY rowid DESC LIMIT 1",
            (run_date,),
        ).fetchone()
    if row is None:
        raise NotFound("no run recorded yet" if run_date is None else f"no run for {run_date}")
    run_id, day = row
    steps = con.execute(
        "SELECT step, status, duration_s, started_at, finished_at, detail FROM pipeline_runs"
        " WHERE run_date = ? AND run_id = ? ORDER BY rowid",
        (day, run_id),
    ).fetchall()
    marks = ", ".join("?" * len(RUN_METRICS))
    metrics = dict(
        con.execute(
            f"SELECT metric, value FROM run_metrics WHERE run_date = ? AND metric IN ({marks})",
            (day, *RUN_METRICS),
        ).fetchall()
    )
    model = con.execute(
        "SELECT model_version FROM recommendations WHERE run_date = ? LIMIT 1", (day,)
    ).fetchone()
    names = ("step", "status", "seconds", "started_at", "finished_at", "detail")
    return {
        "run_date": day,
        "run_id": run_id,
        "status": _status([s[1] for s in steps]),
        "complete": bool(steps) and steps[-1][0] == RUN_STEPS[-1] and steps[-1][1] in DONE,
        "model_version": None if model is None else model[0],
        "steps": [dict(zip(names, s, strict=True)) for s in steps],
        "metrics": {name: metrics[name] for name in RUN_METRICS if name in metrics},
    }


def readiness(con: sqlite3.Connection) -> tuple[bool, dict[str, Any]]:
    """Ready when the store is readable and its newest finished run succeeded.

    A run still going (a `running` step of a live process) does not count yet: the
    previous run's lists are still served while it writes.
    """
    rows = con.execute(
        "SELECT run_id, run_date, status, pid FROM pipeline_runs ORDER BY rowid DESC LIMIT 200"
    ).fetchall()
    runs: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        runs.setdefault(r[0], []).append(r)
    for run_id, steps in runs.items():
        if any(s[2] == "running" and _alive(s[3]) for s in steps):
            continue
        day = steps[0][1]
        bad = [s[2] for s in steps if s[2] not in DONE]
        if not bad:
            return True, {"status": "ready", "run_date": day, "run_id": run_id}
        what = "stopped (its process ended)" if bad[0] == "running" else bad[0]
        return False, {"status": "not ready", "reason": f"run {run_id} of {day} {what}"}
    return False, {"status": "not ready", "reason": "no finished run in the store"}
