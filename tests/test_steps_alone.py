"""Pipeline steps run alone, from the typed inputs the steps before them hand on (no
daily run): the explain step and the drift step, on a hand-made model and samples."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from contract_tables import DAY
from offerrank.pipeline.steps.drift import drift
from offerrank.pipeline.steps.explain import explain
from offerrank.pipeline.steps.load import Plan
from offerrank.ranking.samples import Samples
from step_inputs import COLUMNS, run_on, trained


def rounded(rows: list[tuple]) -> list[tuple]:
    """Expected rows with their floats rounded as the query rounds them (`r`)."""
    return [tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows]


NO_ROWS = pa.table({"customer_id": pa.array([], pa.int64())})


def pairs(discount: list[float], frequency: list[float]) -> pa.Table:
    n = len(discount)
    return pa.table(
        {
            "customer_id": np.arange(n, dtype=np.int64) + 5,
            "offer_id": np.full(n, 100, dtype=np.int64),
            "rank": np.ones(n, dtype=np.int64),
            "score": np.full(n, 0.5),
            "discount_depth": discount,
            "frequency": frequency,
        }
    )


def test_explain_writes_contributions_importance_and_typical_values(tmp_path: Path) -> None:
    run = run_on(tmp_path / "s.db")
    sample = pairs([0.3, 0.5], [1.0, 2.0])
    top = pa.array([True, False])
    done = explain(run, trained(), Samples(sample, top, sample, sample))
    assert not done.skipped
    con = run.store
    con.create_function("r", 1, lambda x: round(x, 9) if isinstance(x, float) else x)
    # per feature (x - mean) / scale * coef: 0.3 and 0.5; -1 / 4 and -2 / 4; bias 0.1
    assert con.execute(
        "SELECT customer_id, stratum, r(log_odds), r(bias) FROM explanation_pairs"
        " ORDER BY customer_id"
    ).fetchall() == rounded([(5, "top", 0.15, 0.1), (6, "random", 0.1, 0.1)])
    assert con.execute(
        "SELECT customer_id, feature, r(value), r(contribution) FROM explanation_contributions"
        " ORDER BY customer_id, feature"
    ).fetchall() == rounded(
        [
            (5, "discount_depth", 0.3, 0.3),
            (5, "frequency", 1.0, -0.25),
            (6, "discount_depth", 0.5, 0.5),
            (6, "frequency", 2.0, -0.5),
        ]
    )
    assert con.execute(
        "SELECT feature, r(mean_abs_contribution), r(mean_contribution), pairs,"
        " r(typical_p25), r(typical_median), r(typical_p75) FROM feature_importance"
        " ORDER BY feature"
    ).fetchall() == rounded(
        [
            ("discount_depth", 0.4, 0.4, 2, 0.35, 0.4, 0.45),
            ("frequency", 0.375, -0.375, 2, 1.25, 1.5, 1.75),
        ]
    )
    assert "most important: discount_depth, frequency" in done.detail


def test_explain_without_scored_pairs_clears_the_date(tmp_path: Path) -> None:
    run = run_on(tmp_path / "s.db")
    sample = pairs([0.3], [1.0])
    explain(run, trained(), Samples(sample, pa.array([True]), sample, sample))
    empty = pairs([], [])
    done = explain(run, trained(), Samples(empty, pa.array([], pa.bool_()), empty, empty))
    assert done.skipped
    for table in ("explanation_pairs", "explanation_contributions", "feature_importance"):
        assert run.store.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,)


def drift_samples(discount: np.ndarray) -> Samples:
    """Samples whose drift sample holds `discount` and a constant frequency of 1."""
    rows = pairs(list(discount), [1.0] * len(discount))
    return Samples(NO_ROWS, pa.array([], pa.bool_()), NO_ROWS, rows)


def test_drift_keeps_a_first_day_reference_then_compares_with_it(tmp_path: Path) -> None:
    plan = Plan(active=None, retrain_reason="no model yet", history_start=DAY, store_state={})
    model = trained()
    first = run_on(tmp_path / "s.db")
    # 100 pairs: a quarter share 0.1, the rest spread over (0.2, 0.5]
    start = np.concatenate([np.full(25, 0.1), np.linspace(0.2, 0.5, 75)])
    done = drift(first, plan, model, drift_samples(start))
    with contextlib.closing(first.store):
        assert done.skipped and "not applicable: the first day of v1" in done.detail
        rows = first.store.execute(
            "SELECT feature, psi, drifted, top_value_share FROM feature_drift ORDER BY feature"
        ).fetchall()
        assert rows == [("discount_depth", None, 0, 0.25), ("frequency", None, 0, 1.0)]
        (reference_date,) = first.store.execute(
            "SELECT reference_date FROM drift_reference WHERE model_version = 'v1'"
        ).fetchone()
    assert reference_date == DAY.isoformat()
    assert first.metrics["constant_features"] == 1 and first.metrics["drift_sample_pairs"] == 100
    assert first.notes == [
        "warning: constant in every scored pair today, so no use to the model: frequency"
    ]

    # the next day, every discount above the reference's highest: that feature drifts
    later = run_on(tmp_path / "s.db", DAY + timedelta(days=1))
    done = drift(later, plan, model, drift_samples(np.linspace(0.6, 0.9, 100)))
    assert not done.skipped
    drifted = dict(
        later.store.execute(
            "SELECT feature, drifted FROM feature_drift WHERE run_date = ?", (later.day,)
        ).fetchall()
    )
    assert drifted == {"discount_depth": 1, "frequency": 0}
    assert later.metrics["features_drifted"] == 1
    assert f"against its reference of {DAY.isoformat()}" in done.detail
    assert set(COLUMNS) == set(drifted)
