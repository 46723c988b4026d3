"""The point-in-time training set: mature impressions, features as of each shown_date.

An impression shown on `s` has a mature label on run date D only when `s + 7 < D`
(label_window_days = 7), so the newest usable day is `D - 8`. The window of
`train_window_days` mature days ends there; its last `validation_days` form the
validation split (kept whole: it measures the model on the real class balance), the
earlier days the training split, whose negatives are downsampled with a fixed seed.
Built on any engine (`engines.base.Engine`): the engine labels and featurizes, the
split and the draw are the same code for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from offerrank.config import Settings
from offerrank.engines.base import Engine, Window
from offerrank.features.registry import DEFAULT_FEATURES, FeatureSet
from offerrank.hashing import id_hash


@dataclass(frozen=True)
class Split:
    train: Window
    validation: Window


def last_mature_day(run_date: date, settings: Settings) -> date:
    """The newest shown_date whose label is mature on `run_date` (s + window < D)."""
    return run_date - timedelta(days=settings.label_window_days + 1)


def training_split(run_date: date, settings: Settings, window_days: int | None = None) -> Split:
    """The training and validation days of a model trained on `run_date`, over a window of
    `window_days` mature days (default: `train_window_days`)."""
    last = last_mature_day(run_date, settings)
    val_first = last - timedelta(days=settings.validation_days - 1)
    train_first = last - timedelta(days=(window_days or settings.train_window_days) - 1)
    return Split(
        train=Window(train_first, val_first - timedelta(days=1)),
        validation=Window(val_first, last),
    )


def widest_split(run_date: date, settings: Settings) -> Split:
    """The split over the longest window a training may use (`max_train_window_days`)."""
    return training_split(
        run_date, settings, max(settings.train_window_days, settings.max_train_window_days)
    )


def choose_window(engine: Engine, run_date: date, settings: Settings) -> Split:
    """The training window: `train_window_days`, widened week by week into older history
    (up to `max_train_window_days`) while the training split holds fewer than
    `min_train_positives` positives. A store with few positives then learns from all the
    history it needs, not from a fixed number of days."""
    widest = widest_split(run_date, settings)
    per_day = engine.positives_by_day(widest.train)
    days = per_day.column("shown_date").to_pylist()
    counts = dict(zip(days, per_day.column("positives").to_pylist(), strict=True))
    window = settings.train_window_days
    while True:
        split = training_split(run_date, settings, window)
        positives = sum(n for d, n in counts.items() if split.train.contains(d))
        wider = window + 7
        older = any(d < split.train.first for d in counts)  # history left to widen into
        if (
            positives >= settings.min_train_positives
            or wider > settings.max_train_window_days
            or not older
        ):
            return split
        window = wider


@dataclass
class LabelledSet:
    """Feature matrix with labels and the keys that identify each row."""

    keys: pa.Table  # impression_id, customer_id, offer_id, as_of
    X: np.ndarray
    y: np.ndarray

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def positives(self) -> int:
        return int(self.y.sum())

    def slice(self, start: int, stop: int | None = None) -> LabelledSet:
        stop = self.n if stop is None else stop
        return LabelledSet(
            self.keys.slice(start, stop - start), self.X[start:stop], self.y[start:stop]
        )


def downsample_negatives(
    labels: np.ndarray, ids: np.ndarray, ratio: float, seed: int
) -> tuple[np.ndarray, float]:
    """Keep every positive and `ratio` negatives per positive; return (mask, kept negative rate).

    The negatives kept are those with the smallest `id_hash` of their impression id: the
    same impressions give the same sample whatever the run date, so the same window gives
    the same model. The kept rate is what the model's odds must be multiplied by to undo
    the sampling.
    """
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    keep_neg = min(n_neg, int(round(ratio * max(n_pos, 1))))
    if n_neg == 0 or keep_neg >= n_neg:
        return np.ones_like(labels, dtype=bool), 1.0
    neg_idx = np.flatnonzero(~pos)
    hashes = id_hash(np.asarray(ids)[neg_idx], seed)
    chosen = neg_idx[np.argpartition(hashes, keep_neg - 1)[:keep_neg]]
    mask = pos.copy()
    mask[chosen] = True
    return mask, keep_neg / n_neg


def featurize(
    engine: Engine,
    rows: pa.Table,
    chunk_days: int | None = None,
    feature_set: FeatureSet = DEFAULT_FEATURES,
) -> LabelledSet:
    """Features as of each row's `as_of` (the impression's shown_date): point in time.

    A retraining day's window (up to 364 days) goes through in slices of `chunk_days`
    as-of days (default: the engine's `feature_chunk_days`), so the lines an engine stages
    at once span the slice plus the lookback, not the whole window. Every row's features
    are its own as-of date's, so the slices change no value."""
    chunk_days = chunk_days or engine.feature_chunk_days
    keys = rows.select(["customer_id", "offer_id", "as_of"])
    days = keys.column("as_of").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    if days.size == 0 or (days.max() - days.min()).astype(int) < chunk_days:
        return labelled_set(rows, engine.features(keys, feature_set), feature_set)
    slice_of = (days - days.min()).astype(np.int64) // chunk_days
    parts, positions = [], []
    for k in np.unique(slice_of):
        at = np.flatnonzero(slice_of == k)
        parts.append(engine.features(keys.take(pa.array(at)), feature_set))
        positions.append(at)
    order = np.argsort(np.concatenate(positions), kind="stable")
    return labelled_set(rows, pa.concat_tables(parts).take(pa.array(order)), feature_set)


def labelled_set(
    rows: pa.Table, feats: pa.Table, feature_set: FeatureSet = DEFAULT_FEATURES
) -> LabelledSet:
    """Labelled rows and their features (same order) as model input: keys, X and y."""
    columns = feature_set.columns
    X = np.column_stack([feats.column(c).to_numpy() for c in columns]).astype(np.float64)
    y = rows.column("label").to_numpy().astype(np.int8)
    return LabelledSet(keys=rows.drop_columns(["label"]), X=X, y=y)


def downsampled_train_rows(
    train_rows: pa.Table, settings: Settings
) -> tuple[pa.Table, float, float]:
    """The training split's rows with negatives downsampled (by impression id), the kept
    share of negatives and the positive rate before downsampling."""
    labels = train_rows.column("label").to_numpy()
    ids = train_rows.column("impression_id").to_numpy()
    mask, kept_rate = downsample_negatives(labels, ids, settings.negative_ratio, settings.seed)
    positive_rate = float(labels.mean()) if labels.size else 0.0
    return train_rows.filter(pa.array(mask)), kept_rate, positive_rate


@dataclass
class TrainingData:
    split: Split
    train: LabelledSet
    validation: LabelledSet
    kept_negative_rate: float
    train_positive_rate: float  # before downsampling
    feature_set: FeatureSet = DEFAULT_FEATURES  # the columns of X, in order


def build_training_data(
    engine: Engine,
    run_date: date,
    settings: Settings,
    split: Split | None = None,
    feature_set: FeatureSet = DEFAULT_FEATURES,
) -> TrainingData:
    """Mature impressions of the window (`split`, default `choose_window`), negatives of
    the training split downsampled; both splits featurized in one engine pass (an
    engine's cost is mostly per pass). The engine must hold the orders of the window's
    lookback."""
    split = split or choose_window(engine, run_date, settings)
    train_rows, kept_rate, positive_rate = downsampled_train_rows(
        engine.labelled_impressions(split.train), settings
    )
    val_rows = engine.labelled_impressions(split.validation)
    both = featurize(engine, pa.concat_tables([train_rows, val_rows]), feature_set=feature_set)
    n = train_rows.num_rows
    return TrainingData(
        split=split,
        train=both.slice(0, n),
        validation=both.slice(n),
        kept_negative_rate=kept_rate,
        train_positive_rate=positive_rate,
        feature_set=feature_set,
    )
