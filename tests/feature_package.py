"""A throwaway feature shipped in a temporary package of SQL, for the registration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from offerrank.features.registry import DEFAULT_FEATURES, Feature, FeatureSet

PACKAGE = "offerrank_extra_features"
SQL = """-- offers_seen_before: how many impressions the customer was shown before as_of.
-- Grain: one row per requested row (row_id unique).
-- Checks: never null; counts only impressions shown before the row's own as_of.
SELECT q.row_id, CAST(COUNT(i.impression_id) AS DOUBLE) AS offers_seen_before
FROM query_pairs AS q
LEFT JOIN impressions AS i
    ON i.customer_id = q.customer_id AND i.shown_date < q.as_of
GROUP BY q.row_id
"""


def write_package(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The package `offerrank_extra_features` with sql/offers_seen_before.sql, importable."""
    package = folder / PACKAGE
    (package / "sql").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sql" / "offers_seen_before.sql").write_text(SQL)
    monkeypatch.syspath_prepend(str(folder))


def extra_feature_set() -> FeatureSet:
    """The registered features plus the throwaway one: the one line of registration."""
    return DEFAULT_FEATURES.plus(
        Feature("offers_seen_before", sql="offers_seen_before", package=PACKAGE)
    )
