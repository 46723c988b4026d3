"""The features the rankers consume, in order: the contract's 22, then any registered extra.

The 22 of the data contract (`docs/features.md`) come out of `sql/pair_features.sql`.
A further feature is one SQL file plus one line here: a `Feature` naming the file (and
the package that ships it). Its SQL reads `query_pairs` (row_id, customer_id, offer_id,
as_of), the contract tables and the stage tables of `features.plans`, and returns one row
per requested row_id with a DOUBLE column named after the feature; every engine runs it
after the stages and joins it by row_id, so no engine code changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.config import FEATURE_SET_NAMES

PACKAGE = "offerrank.features"


Grain = Literal["customer", "offer", "pair"]


@dataclass(frozen=True)
class Feature:
    """One model input. `sql` is the stem of the SQL file that computes it (under
    `<package>/sql/`; one file may give several features, each its own column); None for
    the contract's features, which `pair_features.sql` builds. `grain` says what the value
    depends on besides as_of: a customer- or offer-grain feature is computed once a day
    for each customer or offer by the grid scorer and gathered for the pairs it keeps."""

    name: str
    sql: str | None = None
    package: str = PACKAGE
    grain: Grain = "pair"


CONTRACT_FEATURES: tuple[str, ...] = (
    # customer
    "recency_days",
    "frequency",
    "monetary",
    "promo_affinity",
    "avg_basket_size",
    "avg_basket_quantity",
    "tier2_purchase_ratio",
    "tier3_purchase_ratio",
    "fresh_category_ratio",
    "business_order_ratio",
    "category_entropy",
    # offer
    "discount_depth",
    "margin_impact",
    "days_until_expiry",
    "historical_redemption_rate",
    "is_own_brand",
    # interaction
    "bought_product_before",
    "days_since_last_cat_purchase",
    "category_affinity_score",
    "discount_depth_vs_usual",
    "price_sensitivity_match",
    "business_type_match",
)

CONTRACT: tuple[Feature, ...] = tuple(Feature(name) for name in CONTRACT_FEATURES)

# Features beyond the contract: the customer's and the offer's own coupon history.
_CUSTOMER_HISTORY = "customer_redemption_history"
_OFFER_HISTORY = "offer_redemption_history"
HISTORY: tuple[Feature, ...] = (
    Feature("customer_redemptions", _CUSTOMER_HISTORY, grain="customer"),
    Feature("days_since_last_redemption", _CUSTOMER_HISTORY, grain="customer"),
    Feature("customer_redemption_rate", _CUSTOMER_HISTORY, grain="customer"),
    Feature("customer_recent_impressions", _CUSTOMER_HISTORY, grain="customer"),
    Feature("offer_redemption_rate", _OFFER_HISTORY, grain="offer"),
    Feature("cohort_redemption_rate", _OFFER_HISTORY, grain="offer"),
    Feature("offer_age_days", _OFFER_HISTORY, grain="offer"),
)

# A further feature: declare it as `Feature("name", sql="file_stem", grain=...)` and add
# it to a named set of `FEATURE_SETS` below (a model trains on a named set, the setting
# `feature_set`). `FEATURES`, the default set, stays the contract's 22.
FEATURES: tuple[Feature, ...] = CONTRACT


@dataclass(frozen=True)
class FeatureSet:
    """An ordered set of features; the default is the registered `FEATURES`."""

    features: tuple[Feature, ...] = FEATURES

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def extras(self) -> tuple[Feature, ...]:
        """The features computed by a file of their own, after the contract's."""
        return tuple(f for f in self.features if f.sql is not None)

    def plus(self, *extra: Feature) -> FeatureSet:
        return FeatureSet(self.features + extra)

    def without(self, name: str) -> FeatureSet:
        """The set less one extra feature (the contract's 22 always stay: the grid scorer
        and the first stage read them)."""
        if name in CONTRACT_FEATURES:
            raise ValueError(f"{name} is a contract feature; only extras can be left out")
        return FeatureSet(tuple(f for f in self.features if f.name != name))

    def files(self) -> dict[tuple[str, str], tuple[Feature, ...]]:
        """The extras by the file that computes them, each file once, in feature order."""
        out: dict[tuple[str, str], tuple[Feature, ...]] = {}
        for f in self.extras:
            key = (f.package, f.sql or "")
            out[key] = out.get(key, ()) + (f,)
        return out


DEFAULT_FEATURES = FeatureSet()
# Named sets: what `bench/bench_ablation.py` compares and a model may be trained on.
FEATURE_SETS: dict[str, FeatureSet] = dict(
    zip(
        FEATURE_SET_NAMES,
        (FeatureSet(CONTRACT), FeatureSet(CONTRACT + HISTORY)),
        strict=True,
    )
)
ALL_FEATURES: dict[str, Feature] = {f.name: f for f in CONTRACT + HISTORY}


def set_name(feature_set: FeatureSet) -> str:
    """The name of a named set, `custom` for any other (a bench's subset)."""
    return next((n for n, s in FEATURE_SETS.items() if s.columns == feature_set.columns), "custom")


def feature_set_named(columns: list[str] | tuple[str, ...]) -> FeatureSet:
    """The set of the known features `columns`, in that order (a model's own columns):
    ValueError naming any feature this code does not know."""
    unknown = [c for c in columns if c not in ALL_FEATURES]
    if unknown:
        raise ValueError(f"unknown feature(s): {', '.join(unknown)}")
    return FeatureSet(tuple(ALL_FEATURES[c] for c in columns))


FEATURE_COLUMNS: tuple[str, ...] = DEFAULT_FEATURES.columns
KEY_COLUMNS: tuple[str, ...] = ("customer_id", "offer_id", "as_of")


def query_pairs(pairs: pa.Table) -> pa.Table:
    """The requested rows typed (int64 ids, date32 as_of), with a row number (`row_id`)
    that fixes the output order: the `query_pairs` table every engine's SQL reads."""
    missing = [c for c in KEY_COLUMNS if c not in pairs.column_names]
    if missing:
        raise ValueError(f"pairs is missing column(s): {', '.join(missing)}")
    as_of = pairs.column("as_of")
    if not pa.types.is_date32(as_of.type):
        as_of = pc.cast(as_of, pa.date32())
    return pa.table(
        {
            "row_id": pa.array(np.arange(pairs.num_rows, dtype=np.int64)),
            "customer_id": pc.cast(pairs.column("customer_id"), pa.int64()),
            "offer_id": pc.cast(pairs.column("offer_id"), pa.int64()),
            "as_of": as_of,
        }
    )


def feature_schema(feature_set: FeatureSet = DEFAULT_FEATURES) -> pa.Schema:
    """Keys, then every feature as float64: what computing features returns on any engine."""
    keys = [("customer_id", pa.int64()), ("offer_id", pa.int64()), ("as_of", pa.date32())]
    return pa.schema(keys + [(name, pa.float64()) for name in feature_set.columns])


def typed_features(table: pa.Table, feature_set: FeatureSet = DEFAULT_FEATURES) -> pa.Table:
    """Keys and features of a result in `feature_schema` (extra columns dropped)."""
    schema = feature_schema(feature_set)
    return pa.Table.from_arrays([table.column(f.name).cast(f.type) for f in schema], schema=schema)


def feature_matrix(
    features: pa.Table, columns: tuple[str, ...] = FEATURE_COLUMNS, order: Literal["C", "F"] = "F"
) -> np.ndarray:
    """The model input, filled column by column, in Fortran order or (`order="C"`) in
    the row-major order compiled trees read: filled directly, that costs about a third of
    a Fortran fill followed by a contiguous copy (measured on 830k x 22)."""
    X = np.empty((features.num_rows, len(columns)), dtype=np.float64, order=order)
    for j, name in enumerate(columns):
        X[:, j] = features.column(name).to_numpy()
    return X


def constant_dates(day: date, n: int) -> pa.Array:
    """A date32 column of `n` copies of `day`, built without a Python list."""
    return pa.array(np.full(n, np.datetime64(day, "D"))).cast(pa.date32())


# More runs than this and slicing stops paying: one gather is cheaper than many slices.
MAX_ORDER_RUNS = 4096


def ordered_by_row_id(table: pa.Table, max_runs: int = MAX_ORDER_RUNS) -> pa.Table:
    """`table` sorted by its `row_id` column, a permutation of 0..n-1.

    Engines hand rows back nearly in probe order: a few runs of consecutive row_ids.
    Those runs are put in order as zero-copy slices (a gather of 1.9M rows x 22 columns
    costs more than the whole SQL); any other order falls back to one gather.
    """
    row_id = table.column("row_id").to_numpy()
    if row_id.size == 0:
        return table
    starts = np.concatenate(([0], np.flatnonzero(np.diff(row_id) != 1) + 1))
    if starts.size > max_runs:
        return table.combine_chunks().take(pa.array(np.argsort(row_id, kind="stable")))
    stops = np.append(starts[1:], row_id.size)
    pieces = [
        table.slice(int(starts[i]), int(stops[i] - starts[i]))
        for i in np.argsort(row_id[starts], kind="stable")
    ]
    return pa.concat_tables(pieces)
