"""Calibration: the shift that matches the mean prediction to the observed rate, and the
daily shift a run serves with (fitted on its newest mature week)."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerrank.config import Settings
from offerrank.pipeline import calibration
from offerrank.pipeline.calibration import DailyShift
from offerrank.pipeline.daily import run_daily
from offerrank.pipeline.steps import rank as rank_step
from offerrank.training.calibration import fit_shift
from offerrank.training.models import sigmoid


def test_shift_by_hand() -> None:
    # all log-odds 0 (p = 0.5) and one positive in four: sigmoid(δ) = 1/4, δ = ln(1/3)
    assert fit_shift(np.zeros(4), np.array([1, 0, 0, 0])) == pytest.approx(math.log(1 / 3))
    # weights count rows: the same positive against 3 negatives of weight 3 is 1 in 10
    w = np.array([1.0, 3.0, 3.0, 3.0])
    assert fit_shift(np.zeros(4), np.array([1, 0, 0, 0]), w) == pytest.approx(math.log(1 / 9))


def test_one_class_gives_no_shift() -> None:
    assert fit_shift(np.array([0.3, -2.0]), np.array([0, 0])) == 0.0
    assert fit_shift(np.array([0.3, -2.0]), np.array([1, 1])) == 0.0
    assert fit_shift(np.array([]), np.array([])) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-12, 4), min_size=2, max_size=200),
    st.floats(0.001, 0.999),
    st.integers(0, 2**31 - 1),
)
def test_shifted_mean_equals_the_rate(logits: list[float], rate: float, seed: int) -> None:
    z = np.array(logits)
    y = (np.random.default_rng(seed).random(z.size) < rate).astype(float)
    if y.sum() in (0, y.size):
        y[0] = 1 - y[0]
    delta = fit_shift(z, y)
    assert float(np.mean(sigmoid(z + delta))) == pytest.approx(float(np.mean(y)), rel=1e-6)


def _scores(db: str, day: str) -> dict[tuple[int, int], tuple[float, int]]:
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT customer_id, offer_id, score, rank FROM recommendations WHERE run_date = ?",
            (day,),
        ).fetchall()
    return {(c, o): (s, r) for c, o, s, r in rows}


def _metrics(db: str, day: str) -> dict[str, float]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT metric, value FROM run_metrics WHERE run_date = ?", (day,)))


def _patched(monkeypatch: pytest.MonkeyPatch, change: Callable[[DailyShift], DailyShift]) -> None:
    def patched(run: Any, model: Any) -> tuple[DailyShift, Any]:
        shift, evaluation = calibration.daily_shift(run, model)
        return change(shift), evaluation

    monkeypatch.setattr(rank_step, "daily_shift", patched)


def test_scores_move_by_the_shift_fitted_on_the_newest_mature_week(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """02-16 serves with the shift fitted on its newest mature week (02-02..08): every
    score's log-odds moves by exactly that shift and the order does not change; scored
    with it, that week's mean prediction is its observed rate. The calibration the run
    reports is measured with the shift the run of 02-02 would have served (fitted on
    01-19..25), so it is out of sample."""
    monday, day = date(2026, 2, 16), "2026-02-16"
    db = str(settings.db_path)
    assert run_daily(settings, monday).ok
    served, metrics = _scores(db, day), _metrics(db, day)
    shift = metrics["calibration_shift_served"]
    assert shift != 0.0 and metrics["calibration_shift_measured"] != shift
    assert metrics["eval_window_days"] == 7
    assert metrics["calibration_ratio"] != pytest.approx(1.0, abs=1e-4)

    _patched(monkeypatch, lambda d: replace(d, served=0.0))
    assert run_daily(settings, monday).ok
    plain = _scores(db, day)
    assert served.keys() == plain.keys() and served
    for pair, (p, rank) in plain.items():
        logit = math.log(p / (1 - p)) + shift
        assert served[pair][0] == pytest.approx(1 / (1 + math.exp(-logit)), rel=1e-9)
        assert served[pair][1] == rank

    # measured with the served shift itself, the week it was fitted on is matched exactly
    _patched(monkeypatch, lambda d: replace(d, measured=d.served))
    assert run_daily(settings, monday).ok
    assert _metrics(db, day)["calibration_ratio"] == pytest.approx(1.0, rel=1e-6)


def test_the_measured_shift_is_fitted_a_label_gap_before_the_window(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[DailyShift] = []
    _patched(monkeypatch, lambda d: seen.append(d) or d)
    assert run_daily(settings, date(2026, 2, 16)).ok
    (d,) = seen
    assert (d.window.first, d.window.last) == (date(2026, 2, 2), date(2026, 2, 8))
    # the run dated 02-02 had 01-25 as its newest mature day
    assert (d.before.first, d.before.last) == (date(2026, 1, 19), date(2026, 1, 25))


def test_a_run_without_retraining_loads_the_lookback_of_the_week_its_shift_is_measured_on() -> None:
    from offerrank.pipeline.calibration import first_scored_day
    from offerrank.pipeline.steps.load import history_start

    s = Settings()
    # 02-17: evaluates 02-03..09; measured with the week mature on 02-03: 01-20..26
    assert first_scored_day(date(2026, 2, 17), s) == date(2026, 1, 20)
    assert history_start(date(2026, 2, 17), s, retraining=False) == date(2025, 10, 22)
    # retraining: the training window starts earlier still (56 days before 02-09)
    assert history_start(date(2026, 2, 17), s, retraining=True) == date(2025, 9, 17)
