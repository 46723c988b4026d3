"""The daily calibration shift: scores at the redemption rate of the newest mature week.

The model's own calibration (`training.calibration`) matches the rate of the last days
it trained on; the base rate then moves with the campaigns. So every run refits one
log-odds shift of the model it serves on the newest `eval_days` mature days (the
evaluation window) and serves with it. The calibration a run reports is measured on the
evaluation window with the shift the same rule would have served on the window's first
day (fitted on the week that was mature then): out of sample, with the lag the served
scores have, it is what they will show once their own week has matured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from offerrank.config import Settings
from offerrank.engines.base import Engine, Window
from offerrank.features.registry import DEFAULT_FEATURES, FeatureSet
from offerrank.pipeline.context import Run
from offerrank.training.calibration import fit_shift
from offerrank.training.dataset import LabelledSet, featurize, last_mature_day
from offerrank.training.models import Ranker
from offerrank.training.registry import ActiveModel


def evaluation_window(model: ActiveModel, eval_days: int, last: date) -> Window:
    """The `eval_days` newest mature days (ending `last`), after the last day the model
    trained on."""
    first = last - timedelta(days=eval_days - 1)
    trained_until = date.fromisoformat(model.sidecar["train_window"][1])
    return Window(max(first, trained_until + timedelta(days=1)), last)


def measured_week(window: Window, settings: Settings) -> Window:
    """The week whose shift the calibration of `window` is measured with: the newest
    mature `eval_days` of the run dated on the window's first day."""
    then = last_mature_day(window.first, settings)
    return Window(then - timedelta(days=settings.eval_days - 1), then)


def first_scored_day(run_date: date, settings: Settings) -> date:
    """The oldest day whose impressions a run scores when it does not retrain: the first
    day of the week its calibration is measured with (the engine must hold the lookback
    before it)."""
    last = last_mature_day(run_date, settings)
    newest = Window(last - timedelta(days=settings.eval_days - 1), last)
    return measured_week(newest, settings).first


@dataclass(frozen=True)
class DailyShift:
    """The shift served today (fitted on `window`, the evaluation window) and the one
    the same rule served on the window's first day (fitted on `before`, the mature week
    then), which the evaluation of `window` is scored with."""

    window: Window
    before: Window
    served: float
    measured: float


@dataclass(frozen=True)
class EvaluationSet:
    """The evaluation window's labelled impressions and their features as of each shown
    date: read and featurised once, for the served shift and for the evaluate step."""

    window: Window
    rows: pa.Table
    data: LabelledSet


def labelled_with_features(
    engine: Engine, *windows: Window, feature_set: FeatureSet = DEFAULT_FEATURES
) -> list[tuple[pa.Table, LabelledSet] | None]:
    """For each window, the impressions shown in it, labelled, and their features as of
    each shown date; None for a window that is empty or holds no positive. The windows'
    rows are featurised in one engine pass (one read of their lookback's lines)."""
    found: list[pa.Table | None] = []
    for window in windows:
        rows = engine.labelled_impressions(window) if window.first <= window.last else None
        if rows is None or rows.num_rows == 0 or not pc.sum(rows.column("label")).as_py():
            rows = None
        found.append(rows)
    present = [rows for rows in found if rows is not None]
    if not present:
        return [None] * len(windows)
    both = featurize(engine, pa.concat_tables(present), feature_set=feature_set)
    out: list[tuple[pa.Table, LabelledSet] | None] = []
    start = 0
    for rows in found:
        if rows is None:
            out.append(None)
            continue
        out.append((rows, both.slice(start, start + rows.num_rows)))
        start += rows.num_rows
    return out


def shift_of(model: Ranker, data: LabelledSet | None) -> float:
    """The shift that matches `model`'s mean prediction to the observed rate of `data`;
    0 without it (no rate to match)."""
    if data is None:
        return 0.0
    return fit_shift(model.raw_log_odds(data.X) + model.log_odds_shift, data.y)


def daily_shift(run: Run, model: ActiveModel) -> tuple[DailyShift, EvaluationSet | None]:
    """Today's shift and its out-of-sample twin, and the evaluation window's labelled
    impressions they were fitted on (None without a positive: nothing to fit or
    evaluate)."""
    s = run.settings
    window = evaluation_window(model, s.eval_days, last_mature_day(run.run_date, s))
    before = measured_week(window, s)
    found, earlier = labelled_with_features(run.engine, window, before, feature_set=model.features)
    shift = DailyShift(
        window,
        before,
        served=shift_of(model.model, found[1] if found is not None else None),
        measured=shift_of(model.model, earlier[1] if earlier is not None else None),
    )
    return shift, None if found is None else EvaluationSet(window, *found)
