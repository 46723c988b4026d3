"""Feature sets: the extras' values by hand, the registry's rules, and a change of set in
a running store (a retrain, recorded; the old model serving on its own features until a
model of the new set replaces it)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from offerrank.config import FEATURE_SET_NAMES, Settings
from offerrank.engines.duckdb.features import compute_features
from offerrank.engines.duckdb.tables import engine_from_arrow
from offerrank.errors import RunError
from offerrank.features.registry import (
    CONTRACT_FEATURES,
    FEATURE_SETS,
    feature_set_named,
)
from offerrank.pipeline.daily import run_daily
from offerrank.training import train as train_module

T = date(2024, 4, 1)
HISTORY = FEATURE_SETS["history"]
MONDAY, TUESDAY, WEDNESDAY = date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18)


def _table(columns: dict[str, list]) -> pa.Table:
    return pa.table(columns)


def _hand_store() -> dict[str, pa.Table]:
    """Two customers, three offers (1 and 2 launched together on 03-01, 3 on 03-20)."""
    return {
        "customers": _table(
            {"customer_id": [1, 2], "business_type": ["hotel", "hotel"], "signup_date": [None] * 2}
        ),
        "products": _table(
            {
                "product_id": [1, 2],
                "category": ["a", "b"],
                "is_fresh": [0, 0],
                "price_tier": [1, 2],
                "is_own_brand": [0, 1],
                "list_price": [10.0, 10.0],
                "unit_cost": [6.0, 6.0],
            }
        ),
        "orders": _table(
            {
                "order_id": [1],
                "customer_id": [1],
                "order_date": ["2024-03-02"],
                "is_business": [0],
                "store_id": [None],
            }
        ),
        "order_items": _table(
            {
                "order_id": [1],
                "product_id": [1],
                "quantity": [1.0],
                "unit_price": [9.0],
                "is_promo": [0],
            }
        ),
        "offers": _table(
            {
                "offer_id": [1, 2, 3],
                "product_id": [1, 2, 1],
                "start_date": ["2024-03-01", "2024-03-01", "2024-03-20"],
                "end_date": ["2024-04-30"] * 3,
                "discount_pct": [0.2, 0.3, 0.1],
                "target_business_type": [None] * 3,
            }
        ),
        "impressions": _table(
            {
                "impression_id": [1, 2, 3, 4, 5, 6, 7],
                "customer_id": [1, 1, 2, 2, 1, 2, 1],
                "offer_id": [1, 2, 1, 2, 3, 1, 1],
                "shown_date": [
                    "2024-03-05",  # mature, redeemed 03-08: positive
                    "2024-03-05",  # mature, negative
                    "2024-03-10",  # mature, negative
                    "2024-03-27",  # not mature on T (03-27 + 7 >= T), redeemed 03-28
                    "2024-03-26",  # not mature; in the week before T
                    "2024-04-01",  # dated T: seen by nothing as of T
                    "2023-03-01",  # older than 364 days
                ],
                "channel": [None] * 7,
                "propensity": [None] * 7,
            }
        ),
        "redemptions": _table(
            {
                "redemption_id": [1, 2, 3, 4],
                "customer_id": [1, 2, 1, 1],
                "offer_id": [1, 2, 2, 1],
                "redeemed_date": ["2024-03-08", "2024-03-28", "2024-04-01", "2023-03-02"],
                "order_id": [None] * 4,
            }
        ),
    }


def _features(rows: list[tuple[int, int, date]]) -> dict[tuple[int, int, date], dict]:
    con = engine_from_arrow(_hand_store())
    pairs = pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "offer_id": [r[1] for r in rows],
            "as_of": pa.array([r[2] for r in rows], pa.date32()),
        }
    )
    got = compute_features(con, pairs, feature_set=HISTORY).to_pylist()
    return {(g["customer_id"], g["offer_id"], g["as_of"]): g for g in got}


def test_extra_features_by_hand() -> None:
    """Mature impressions in [T - 364, T - 7): 1 (positive), 2, 3; so g = 1/3."""
    g = 1 / 3
    got = _features([(1, 1, T), (2, 2, T), (1, 3, T), (1, 1, date(2024, 3, 12))])
    c1 = got[(1, 1, T)]
    assert c1["customer_redemptions"] == 1  # 03-08 (the one dated T and the old one: no)
    assert c1["days_since_last_redemption"] == 24
    assert c1["customer_redemption_rate"] == pytest.approx((1 + 20 * g) / (2 + 20))
    assert c1["customer_recent_impressions"] == 1  # impression 5
    assert c1["offer_redemption_rate"] == pytest.approx((1 + 20 * g) / (2 + 20))
    assert c1["cohort_redemption_rate"] == pytest.approx((1 + 20 * g) / (3 + 20))
    assert c1["offer_age_days"] == 31
    c2 = got[(2, 2, T)]
    assert c2["customer_redemptions"] == 1  # 03-28, of an impression not yet mature
    assert c2["days_since_last_redemption"] == 4
    assert c2["customer_redemption_rate"] == pytest.approx((0 + 20 * g) / (1 + 20))
    assert c2["customer_recent_impressions"] == 1  # impression 4; 6 is dated T
    assert c2["offer_redemption_rate"] == pytest.approx((0 + 20 * g) / (1 + 20))
    new = got[(1, 3, T)]  # a campaign with no mature impression: the prior
    assert new["offer_redemption_rate"] == pytest.approx(g)
    assert new["cohort_redemption_rate"] == pytest.approx(g)
    assert new["offer_age_days"] == 12
    # A training row as of 03-12: nothing mature yet (g = 0), impressions 1 and 2 recent.
    early = got[(1, 1, date(2024, 3, 12))]
    assert early["customer_redemption_rate"] == 0.0 and early["offer_redemption_rate"] == 0.0
    assert early["customer_redemptions"] == 1 and early["days_since_last_redemption"] == 4
    assert early["customer_recent_impressions"] == 2


def test_a_customer_and_an_offer_without_history_get_the_defaults() -> None:
    got = _features([(9, 9, T)])[(9, 9, T)]
    assert got["customer_redemptions"] == 0 and got["days_since_last_redemption"] == 365
    assert got["customer_recent_impressions"] == 0 and got["offer_age_days"] == 0
    assert got["customer_redemption_rate"] == pytest.approx(1 / 3)


def test_the_registry_names_its_sets() -> None:
    assert tuple(FEATURE_SETS) == FEATURE_SET_NAMES
    assert FEATURE_SETS["contract"].columns == CONTRACT_FEATURES
    for features in FEATURE_SETS.values():
        assert features.columns[:22] == CONTRACT_FEATURES
    assert HISTORY.without("offer_age_days").columns == HISTORY.columns[:-1]
    with pytest.raises(ValueError, match="contract feature"):
        HISTORY.without("recency_days")
    assert feature_set_named(list(HISTORY.columns)) == HISTORY
    with pytest.raises(ValueError, match="unknown feature"):
        feature_set_named(["recency_days", "mystery"])
    # one file gives several features, run once
    assert [len(v) for v in HISTORY.files().values()] == [4, 3]


def _events(db) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with sqlite3.connect(db) as con:
        return con.execute("SELECT model_version, event, detail FROM model_events").fetchall()


def _distinct(db, column: str, table: str, day: date) -> set[str]:  # type: ignore[no-untyped-def]
    with sqlite3.connect(db) as con:
        query = f"SELECT DISTINCT {column} FROM {table} WHERE run_date = ?"
        return {v for (v,) in con.execute(query, (day.isoformat(),))}


def _served(db, day: date) -> set[str]:  # type: ignore[no-untyped-def]
    return _distinct(db, "model_version", "recommendations", day)


def _explained(db, day: date) -> set[str]:  # type: ignore[no-untyped-def]
    return _distinct(db, "feature", "feature_importance", day)


def test_a_changed_feature_set_retrains_and_the_old_model_serves_meanwhile(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_daily(settings, MONDAY).ok
    first = _served(settings.db_path, MONDAY)
    history = settings.model_copy(update={"feature_set": "history"})
    # The retrain is due, but cannot train today: the contract model keeps serving on
    # its own 22 features (the run does not fail for the changed list).
    real = train_module.train_models

    def thin(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        raise RunError("too few labels")

    monkeypatch.setattr("offerrank.pipeline.steps.train.train_models", thin)
    result = run_daily(history, TUESDAY)
    assert result.ok
    assert _served(settings.db_path, TUESDAY) == first
    assert _explained(settings.db_path, TUESDAY) == set(CONTRACT_FEATURES)
    monkeypatch.setattr("offerrank.pipeline.steps.train.train_models", real)
    # Next run: the retrain succeeds, with the reason recorded, and the new model serves
    # on the 29 features.
    assert run_daily(history, WEDNESDAY).ok
    (version,) = _served(settings.db_path, WEDNESDAY)
    assert version not in first
    trained = [e for e in _events(settings.db_path) if e[0] == version and e[1] == "trained"]
    assert trained and trained[0][2].startswith("feature set changed to 'history' (7 added")
    assert _explained(settings.db_path, WEDNESDAY) == set(HISTORY.columns)
    with sqlite3.connect(settings.db_path) as con:
        (sidecar,) = con.execute(
            "SELECT sidecar_json FROM model_registry WHERE model_version = ?", (version,)
        ).fetchone()
    assert json.loads(sidecar)["feature_columns"] == list(HISTORY.columns)
    # The same set again: no retrain for it.
    again = run_daily(history, date(2026, 2, 19))
    assert again.ok and again.metrics["retrained"] == 0


def test_a_refused_model_of_the_new_set_does_not_retrain_every_day(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_daily(settings, MONDAY).ok
    history = settings.model_copy(update={"feature_set": "history"})
    refuse = history.model_copy(update={"promotion_tolerance": -1.0})  # nothing is promoted
    assert run_daily(refuse, TUESDAY).ok
    assert [e[1] for e in _events(settings.db_path)][-1] == "refused"
    result = run_daily(history, WEDNESDAY)
    assert result.ok and result.metrics.get("model_trained", 0) == 0
    features = np.array(sorted(_explained(settings.db_path, WEDNESDAY)))
    assert set(features) == set(CONTRACT_FEATURES)


def test_a_date_rerun_on_another_set_keeps_the_first_model(settings: Settings) -> None:
    """The same date retrained on `history` is another version: the contract model stays
    in the registry, and the two are compared on the same impressions."""
    assert run_daily(settings, MONDAY).ok
    (first,) = _served(settings.db_path, MONDAY)
    history = settings.model_copy(update={"feature_set": "history"})
    assert run_daily(history, MONDAY).ok
    (second,) = _served(settings.db_path, MONDAY)
    assert second.startswith(MONDAY.isoformat()) and second.endswith("-history")
    with sqlite3.connect(settings.db_path) as con:
        versions = {v for (v,) in con.execute("SELECT model_version FROM model_registry")}
        decision = con.execute(
            "SELECT detail FROM model_events WHERE model_version = ? AND event != 'trained'",
            (second,),
        ).fetchone()[0]
    assert versions == {first, second}
    assert decision.startswith("promoted: validation AUC") and first in decision


def test_a_rollback_by_hand_is_not_retrained_for_the_feature_set(
    settings: Settings,
) -> None:
    from offerrank.store.results import outputs
    from offerrank.training.registry import activate

    assert run_daily(settings, MONDAY).ok
    (first,) = _served(settings.db_path, MONDAY)
    history = settings.model_copy(update={"feature_set": "history"})
    assert run_daily(history, TUESDAY).ok
    assert _served(settings.db_path, TUESDAY) != {first}
    with sqlite3.connect(settings.db_path) as con:
        activate(con, first)
        with con:
            outputs.record_model_event(
                con, outputs.ModelEvent(at="t", model_version=first, event="activated")
            )
    result = run_daily(history, WEDNESDAY)
    assert result.ok and result.metrics["retrained"] == 0
    assert _served(settings.db_path, WEDNESDAY) == {first}
