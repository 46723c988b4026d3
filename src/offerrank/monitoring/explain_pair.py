"""Explaining one (customer, offer) pair of a run date, for `offerrank explain`.

The pair's contributions come from the run's stored sample when it was sampled, and are
computed on demand otherwise: features as of the date (point in time, so the same values
the run scored) and the model version that produced the date's recommendations.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from offerrank.config import Settings
from offerrank.delivery.offers import OfferDetails, offer_details
from offerrank.delivery.reasons import parse_codes, reason_texts
from offerrank.engines.registry import open_engine
from offerrank.errors import OfferrankError
from offerrank.features.registry import feature_matrix
from offerrank.monitoring.explain import UNITS, contributions, method_of
from offerrank.store.db import connect
from offerrank.store.read import metrics
from offerrank.store.results.migrations import migrate
from offerrank.training.calibration import shifted
from offerrank.training.models import sigmoid
from offerrank.training.registry import ActiveModel, features_of, load_version


@dataclass
class PairVector:
    """One pair's feature values and contributions (log-odds), in the order of `names`
    (the serving model's features)."""

    offer_id: int
    values: np.ndarray
    contributions: np.ndarray
    bias: float
    sampled: bool
    names: tuple[str, ...]

    @property
    def log_odds(self) -> float:
        return float(self.contributions.sum() + self.bias)

    @property
    def score(self) -> float:
        return float(sigmoid(np.array([self.log_odds]))[0])


@dataclass
class PairExplanation:
    run_date: str
    customer_id: int
    offer_id: int
    rank: int | None  # among all candidates; None: neither recommended nor sampled
    score: float
    log_odds: float
    bias: float
    sampled: bool
    model_version: str
    method: str
    units: str
    top: list[dict[str, Any]]  # the customer's recommendations: rank, offer_id, score,
    # the offer's details (label, category, discount ...) and its reasons (sentences)
    features: list[dict[str, Any]]  # sorted by |contribution|, with typical values
    versus: dict[str, Any] | None = None  # the neighbouring offer and the differences
    offer: dict[str, Any] | None = None  # the explained offer's details
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stored(
    con: sqlite3.Connection, day: str, customer: int, offer: int, names: tuple[str, ...]
) -> PairVector | None:
    rows = con.execute(
        "SELECT c.feature, c.value, c.contribution, p.bias FROM explanation_contributions c"
        " JOIN explanation_pairs p USING (run_date, customer_id, offer_id)"
        " WHERE c.run_date = ? AND c.customer_id = ? AND c.offer_id = ?",
        (day, customer, offer),
    ).fetchall()
    by_name = {r[0]: r for r in rows}
    if set(by_name) != set(names):
        return None
    ordered = [by_name[name] for name in names]
    return PairVector(
        offer,
        np.array([r[1] for r in ordered]),
        np.array([r[2] for r in ordered]),
        float(ordered[0][3]),
        sampled=True,
        names=names,
    )


def _computed(
    settings: Settings, run_date: date, customer: int, offers: list[int], model: ActiveModel
) -> list[PairVector]:
    """Features as of the run date and contributions for (customer, offer) pairs."""
    since = run_date - timedelta(days=settings.lookback_days + 1)
    engine = open_engine(settings)
    try:
        engine.load(since=since)
        active = set(engine.active_offers(run_date).tolist())
        missing = [o for o in offers if o not in active]
        if missing:
            raise OfferrankError(f"offer {missing[0]} is not active on {run_date}")
        pairs = pa.table(
            {
                "customer_id": pa.array([customer] * len(offers), pa.int64()),
                "offer_id": pa.array(offers, pa.int64()),
                "as_of": pa.array([run_date] * len(offers), pa.date32()),
            }
        )
        feats = engine.features(pairs, model.features)
    finally:
        engine.close()
    names = model.features.columns
    X = feature_matrix(feats, names)
    c = contributions(model.model, X)
    return [
        PairVector(o, X[i], c.per_feature[i], float(c.bias[i]), sampled=False, names=names)
        for i, o in enumerate(offers)
    ]


def _vectors(
    settings: Settings, run_date: date, con: sqlite3.Connection, customer: int,
    offers: list[int], version: str,
) -> list[PairVector]:  # fmt: skip
    """Stored vectors where sampled, the others computed in one batch."""
    try:
        names = features_of(con, version).columns
    except ValueError as exc:
        raise OfferrankError(f"model {version} cannot be explained by this version: {exc}") from exc
    found = {o: _stored(con, run_date.isoformat(), customer, o, names) for o in offers}
    todo = [o for o, v in found.items() if v is None]
    if todo:
        model = load_version(con, version)
        # scored as the run served: with its daily calibration shift (pipeline/calibration.py)
        served = metrics.value_of(con, run_date.isoformat(), "calibration_shift_served")
        if served is not None:
            model = replace(model, model=shifted(model.model, float(served)))
        found.update({v.offer_id: v for v in _computed(settings, run_date, customer, todo, model)})
    return [found[o] for o in offers]  # type: ignore[misc]


def _typical(con: sqlite3.Connection, day: str) -> dict[str, tuple[float, float, float]]:
    rows = con.execute(
        "SELECT feature, typical_p25, typical_median, typical_p75 FROM feature_importance"
        " WHERE run_date = ?",
        (day,),
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _neighbour(top: list[dict[str, Any]], offer: int, rank: int | None) -> tuple[int, str] | None:
    """The next-ranked offer; for the last or an unranked pair, the one ranked just above."""
    others = [t for t in top if t["offer_id"] != offer]
    if not others:
        return None
    below = [t for t in others if rank is not None and t["rank"] == rank + 1]
    if below:
        return int(below[0]["offer_id"]), "next-ranked"
    above = [t for t in others if rank is None or t["rank"] < rank]
    return int(above[-1]["offer_id"]), "ranked just above"


def explain_pair(
    settings: Settings, run_date: date, customer_id: int, offer_id: int | None = None
) -> PairExplanation:
    """Top-K of the customer, and the pair's contributions against its neighbour's."""
    day = run_date.isoformat()
    con = connect(settings.db_path)
    try:
        migrate(con)
        if not con.execute("SELECT 1 FROM recommendations WHERE run_date = ?", (day,)).fetchone():
            raise OfferrankError(f"no recommendations for {day}: run `offerrank run --date {day}`")
        recs = con.execute(
            "SELECT rank, offer_id, score, model_version, reason_codes FROM recommendations"
            " WHERE run_date = ? AND customer_id = ? ORDER BY rank",
            (day, customer_id),
        ).fetchall()
        version = recs[0][3] if recs else con.execute(
            "SELECT model_version FROM recommendations WHERE run_date = ? LIMIT 1", (day,)
        ).fetchone()[0]  # fmt: skip
        details = offer_details(con, [r[1] for r in recs] + ([offer_id] if offer_id else []))
        top = [
            {"rank": r[0], "offer_id": r[1], "score": r[2], **_described(details.get(r[1])),
             "reasons": reason_texts(parse_codes(r[4]), details.get(r[1]), run_date)}
            for r in recs
        ]  # fmt: skip
        if offer_id is None:
            if not top:
                raise OfferrankError(f"customer {customer_id} has no recommendations on {day}")
            offer_id = int(top[0]["offer_id"])
        rank = next((t["rank"] for t in top if t["offer_id"] == offer_id), None)
        if rank is None:
            sampled_rank = con.execute(
                "SELECT rank FROM explanation_pairs WHERE run_date = ? AND customer_id = ?"
                " AND offer_id = ?",
                (day, customer_id, offer_id),
            ).fetchone()
            rank = sampled_rank[0] if sampled_rank else None
        neighbour = _neighbour(top, offer_id, rank)
        offers = [offer_id] + ([neighbour[0]] if neighbour else [])
        vectors = _vectors(settings, run_date, con, customer_id, offers, version)
        typical = _typical(con, day)
        model_type = con.execute(
            "SELECT model_type FROM model_registry WHERE model_version = ?", (version,)
        ).fetchone()
    finally:
        con.close()
    this = vectors[0]
    method = method_of(model_type[0] if model_type else "unknown")
    order = np.argsort(-np.abs(this.contributions))
    features = [
        {
            "feature": this.names[i],
            "value": float(this.values[i]),
            "typical_p25": typical.get(this.names[i], (None,) * 3)[0],
            "typical_median": typical.get(this.names[i], (None,) * 3)[1],
            "typical_p75": typical.get(this.names[i], (None,) * 3)[2],
            "contribution": float(this.contributions[i]),
        }
        for i in order
    ]
    result = PairExplanation(
        day, customer_id, offer_id, rank, this.score, this.log_odds, this.bias, this.sampled,
        version, method, UNITS, top, features,
    )  # fmt: skip
    result.offer = _described(details.get(offer_id))
    if neighbour is not None:
        result.versus = _versus(this, vectors[1], neighbour[1])
        result.versus["offer"] = _described(details.get(neighbour[0]))
    if not typical:
        result.notes.append(f"no typical values stored for {day} (the explain step did not run)")
    return result


def _described(details: OfferDetails | None) -> dict[str, Any]:
    """An offer's details for readers (product, category, discount, validity, label)."""
    return {} if details is None else details.as_dict()


def _versus(this: PairVector, other: PairVector, relation: str) -> dict[str, Any]:
    """Per-feature difference of contributions; they sum to the difference in log-odds."""
    diff = this.contributions - other.contributions
    order = np.argsort(-np.abs(diff))
    return {
        "offer_id": other.offer_id,
        "relation": relation,
        "score": other.score,
        "log_odds": other.log_odds,
        "log_odds_difference": this.log_odds - other.log_odds,
        "differences": [
            {
                "feature": this.names[i],
                "value": float(this.values[i]),
                "other_value": float(other.values[i]),
                "contribution_difference": float(diff[i]),
            }
            for i in order
        ],
    }
