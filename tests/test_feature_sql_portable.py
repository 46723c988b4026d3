"""The feature SQL stays in a portable subset: every file transpiles from DuckDB to Spark."""

from __future__ import annotations

import pytest
import sqlglot

from offerrank.features.plans import PLAN_FILES
from offerrank.features.queries import load_sql, parameters_of, sql_names
from offerrank.features.registry import FEATURE_SETS

NAMES = sql_names()


def test_every_stage_of_every_plan_and_the_final_query_ship_as_sql_files() -> None:
    files = {name for plan in PLAN_FILES.values() for name in plan.values()}
    extras = {stem for features in FEATURE_SETS.values() for _, stem in features.files()}
    assert files | extras | {"pair_features", "impression_labels"} == set(NAMES)


@pytest.mark.parametrize(("plan", "suffix"), [("join", "_by_join"), ("single", "_single")])
def test_the_plans_differ_only_in_their_windowed_stages(plan: str, suffix: str) -> None:
    window, other = PLAN_FILES["window"], PLAN_FILES[plan]
    assert window.keys() == other.keys()
    changed = {stage for stage in window if window[stage] != other[stage]}
    assert changed == {"category_window", "customer_totals", "product_window"}
    assert all(other[stage] == f"{stage}{suffix}" for stage in changed)


@pytest.mark.parametrize("name", NAMES)
def test_sql_transpiles_to_spark_without_unsupported_constructs(name: str) -> None:
    sql = load_sql(name)
    (spark,) = sqlglot.transpile(
        sql,
        read="duckdb",
        write="spark",
        unsupported_level=sqlglot.ErrorLevel.RAISE,
        comments=False,
    )
    assert "$" not in spark  # parameters become Spark named markers (:name)
    for param in parameters_of(sql):
        assert f":{param}" in spark


@pytest.mark.parametrize("name", NAMES)
def test_sql_file_declares_its_grain_and_checks(name: str) -> None:
    sql = load_sql(name)
    header = sql.split("\n\n", 1)[0]
    assert sql.startswith(f"-- {name}:")
    assert "Grain:" in sql and "Checks:" in sql, header
    assert len(sql.splitlines()) <= 80
