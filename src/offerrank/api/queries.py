"""What the HTTP API reads: every query through the store's read functions (`store.read`), inside
one snapshot of a read-only connection per request (`store.read.snapshot`), so a client
sees a date's whole old list or its whole new one, never a mix, and never blocks the run.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from offerrank.delivery.headline import HEADLINE
from offerrank.delivery.offers import OfferDetails
from offerrank.delivery.reasons import parse_codes, reason_text
from offerrank.store.db import Connection
from offerrank.store.read import inputs, metrics, recommendations
from offerrank.store.read.runs import (
    DONE,
    RUN_STEPS,
    latest_complete_run,
    newest_rows,
    newest_run,
    overall_status,
    process_alive,
    recommendations_run_id,
    steps_of,
)
from offerrank.store.read.snapshot import ReadOnlyStore, StoreUnavailable

__all__ = [
    "RUN_STEPS",
    "NotFound",
    "ReadOnlyStore",
    "StoreUnavailable",
    "customer_offers",
    "readiness",
    "run_summary",
]

RUN_METRICS = (*HEADLINE, "k", "top_k")


class NotFound(Exception):
    """What was asked for is not in the store: a 404 with this message."""


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
    con: Connection, customer_id: int, run_date: str | None, limit: int
) -> dict[str, Any]:
    """A customer's served list of `run_date` (default: the newest complete run's)."""
    run_id: str | None
    if run_date is None:
        latest = latest_complete_run(con)
        if latest is None:
            raise NotFound("no run has completed yet: nothing to serve")
        run_date, run_id = latest
    else:
        run_id = recommendations_run_id(con, run_date)
    rows = recommendations.served_list(con, run_date, customer_id, limit)
    if not rows:
        if inputs.customer_exists(con, customer_id):
            if recommendations.served_model(con, run_date) is not None:
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


def run_summary(con: Connection, run_date: str | None) -> dict[str, Any]:
    """The newest run (of `run_date`, when given): status, step timings, headline metrics."""
    row = newest_run(con, run_date)
    if row is None:
        raise NotFound("no run recorded yet" if run_date is None else f"no run for {run_date}")
    run_id, day = row
    steps = steps_of(con, day, run_id)
    figures = metrics.values_of(con, day, RUN_METRICS)
    model = recommendations.served_model(con, day)
    names = ("step", "status", "seconds", "started_at", "finished_at", "detail")
    return {
        "run_date": day,
        "run_id": run_id,
        "status": overall_status([s[1] for s in steps]),
        "complete": bool(steps) and steps[-1][0] == RUN_STEPS[-1] and steps[-1][1] in DONE,
        "model_version": model,
        "steps": [dict(zip(names, s, strict=True)) for s in steps],
        "metrics": {name: figures[name] for name in RUN_METRICS if name in figures},
    }


def readiness(con: Connection) -> tuple[bool, dict[str, Any]]:
    """Ready when the store is readable and its newest finished run succeeded.

    A run still going (a `running` step of a live process) does not count yet: the
    previous run's lists are still served while it writes.
    """
    rows = newest_rows(con, 200)
    runs: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        runs.setdefault(r[0], []).append(r)
    for run_id, steps in runs.items():
        if any(s[2] == "running" and process_alive(s[3]) for s in steps):
            continue
        day = steps[0][1]
        bad = [s[2] for s in steps if s[2] not in DONE]
        if not bad:
            return True, {"status": "ready", "run_date": day, "run_id": run_id}
        what = "stopped (its process ended)" if bad[0] == "running" else bad[0]
        return False, {"status": "not ready", "reason": f"run {run_id} of {day} {what}"}
    return False, {"status": "not ready", "reason": "no finished run in the store"}
