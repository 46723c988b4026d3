"""What a policy's impressions earned, read back from its world store.

For every impression shown in the horizon the world has recorded its true probability
(`sim_impression_truth.p_true`) and drawn its outcome: a redemption within
[shown, shown + 7], either already in `redemptions` or still due in
`sim_pending_redemptions` (drawn at impression time, so the horizon's last days count
in full). Each pair is shown at most once while its offer runs, so matching a
redemption to its impression by (customer, offer, date window) is exact.

Incremental margin, per redeemed unit at the offer price:

    unit_margin = list_price * (1 - discount_pct) - unit_cost
                = (list_price - unit_cost) - list_price * discount_pct
                = full-price margin - discount given

It is all incremental because in this world a redemption adds a line to the
customer's basket and organic shopping does not depend on which offers were shown:
without the offer that unit is not sold (no-offer baseline = 0, no cannibalisation).
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np

OUTCOME_SQL = """
SELECT i.impression_id, i.customer_id, i.offer_id, t.p_true,
       p.list_price * (1 - o.discount_pct) - p.unit_cost AS unit_margin,
       p.list_price * o.discount_pct AS unit_discount,
       (EXISTS (SELECT 1 FROM redemptions r
                WHERE r.customer_id = i.customer_id AND r.offer_id = i.offer_id
                  AND substr(r.redeemed_date, 1, 10) >= substr(i.shown_date, 1, 10)
                  AND substr(r.redeemed_date, 1, 10) <= date(i.shown_date, '+7 days'))
        OR EXISTS (SELECT 1 FROM sim_pending_redemptions s
                   WHERE s.impression_id = i.impression_id)) AS redeemed
FROM impressions i
JOIN sim_impression_truth t ON t.impression_id = i.impression_id
JOIN offers o ON o.offer_id = i.offer_id
JOIN products p ON p.product_id = o.product_id
WHERE substr(i.shown_date, 1, 10) BETWEEN ? AND ?
ORDER BY i.impression_id
"""


@dataclass(frozen=True)
class Outcome:
    """Totals of one policy run over its horizon; `expected_*` use the true probabilities."""

    impressions: int
    redemptions: int
    expected_redemptions: float
    margin: float  # realised incremental margin, net of the discount given
    expected_margin: float  # sum of p_true * unit_margin over the impressions
    discount_cost: float  # list_price * discount_pct of the redeemed units

    @property
    def redemption_rate(self) -> float:
        return self.redemptions / self.impressions if self.impressions else float("nan")

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "redemption_rate": self.redemption_rate}


def impression_outcomes(db_path: Path, first: date, last: date) -> dict[str, np.ndarray]:
    """Per impression shown in [first, last]: ids, p_true, unit margin, discount, redeemed."""
    with sqlite3.connect(db_path) as con:
        rows = con.execute(OUTCOME_SQL, (first.isoformat(), last.isoformat())).fetchall()
    con.close()
    names = (
        "impression_id",
        "customer_id",
        "offer_id",
        "p_true",
        "unit_margin",
        "unit_discount",
        "redeemed",
    )
    if not rows:
        return {n: np.zeros(0) for n in names}
    return {
        n: np.array(c, dtype=np.float64)
        for n, c in zip(names, zip(*rows, strict=True), strict=True)
    }


def outcome(db_path: Path, first: date, last: date) -> Outcome:
    """The totals of everything shown in [first, last] in the store at `db_path`."""
    o = impression_outcomes(db_path, first, last)
    red = o["redeemed"]
    return Outcome(
        impressions=int(red.size),
        redemptions=int(red.sum()),
        expected_redemptions=float(o["p_true"].sum()),
        margin=float((red * o["unit_margin"]).sum()),
        expected_margin=float((o["p_true"] * o["unit_margin"]).sum()),
        discount_cost=float((red * o["unit_discount"]).sum()),
    )
