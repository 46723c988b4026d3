"""The data contract (../spec/data-contract.md) as data: tables, columns, keys, references.

Validation, import/export and the schema DDL all read this one description, so the
contract is written down exactly once in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["int", "real", "text", "date", "flag"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False
    check: str | None = None  # SQL predicate over the column that must hold when not null
    check_name: str | None = None  # short human name of that rule, e.g. "> 0"


@dataclass(frozen=True)
class Reference:
    column: str
    table: str
    target: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    row_checks: tuple[tuple[str, str, str], ...] = field(default=())  # (column, rule, predicate)
    date_column: str | None = None  # the column whose day orders the table in time

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(
    name: str,
    kind: Kind,
    nullable: bool = False,
    check: str | None = None,
    check_name: str | None = None,
) -> Column:
    return Column(name, kind, nullable, check, check_name)


CUSTOMERS = Table(
    "customers",
    (_c("customer_id", "int"), _c("business_type", "text"), _c("signup_date", "date", True)),
    key=("customer_id",),
)
PRODUCTS = Table(
    "products",
    (
        _c("product_id", "int"),
        _c("category", "text"),
        _c("is_fresh", "flag"),
        _c("price_tier", "int", check="price_tier IN (1, 2, 3)", check_name="in (1, 2, 3)"),
        _c("is_own_brand", "flag"),
        _c("list_price", "real", check="list_price > 0", check_name="> 0"),
        _c("unit_cost", "real", check="unit_cost >= 0", check_name=">= 0"),
    ),
    key=("product_id",),
)
ORDERS = Table(
    "orders",
    (
        _c("order_id", "int"),
        _c("customer_id", "int"),
        _c("order_date", "date"),
        _c("is_business", "flag"),
        _c("store_id", "int", True),
    ),
    key=("order_id",),
    references=(Reference("customer_id", "customers", "customer_id"),),
    date_column="order_date",
)
ORDER_ITEMS = Table(
    "order_items",
    (
        _c("order_id", "int"),
        _c("product_id", "int"),
        _c("quantity", "real", check="quantity > 0", check_name="> 0"),
        _c("unit_price", "real", check="unit_price >= 0", check_name=">= 0"),
        _c("is_promo", "flag"),
    ),
    references=(
        Reference("order_id", "orders", "order_id"),
        Reference("product_id", "products", "product_id"),
    ),
)
OFFERS = Table(
    "offers",
    (
        _c("offer_id", "int"),
        _c("product_id", "int"),
        _c("start_date", "date"),
        _c("end_date", "date"),
        _c(
            "discount_pct",
            "real",
            check="discount_pct > 0 AND discount_pct < 1",
            check_name="0 < x < 1",
        ),
        _c("target_business_type", "text", True),
    ),
    key=("offer_id",),
    references=(Reference("product_id", "products", "product_id"),),
    row_checks=(("end_date", "start_date <= end_date", "start_date <= end_date"),),
    date_column="start_date",
)
IMPRESSIONS = Table(
    "impressions",
    (
        _c("impression_id", "int"),
        _c("customer_id", "int"),
        _c("offer_id", "int"),
        _c("shown_date", "date"),
        _c("channel", "text", True),
        _c(
            "propensity",
            "real",
            True,
            check="propensity > 0 AND propensity <= 1",
            check_name="0 < x <= 1",
        ),
    ),
    key=("impression_id",),
    references=(
        Reference("customer_id", "customers", "customer_id"),
        Reference("offer_id", "offers", "offer_id"),
    ),
    date_column="shown_date",
)
REDEMPTIONS = Table(
    "redemptions",
    (
        _c("redemption_id", "int"),
        _c("customer_id", "int"),
        _c("offer_id", "int"),
        _c("redeemed_date", "date"),
        _c("order_id", "int", True),
    ),
    key=("redemption_id",),
    references=(
        Reference("customer_id", "customers", "customer_id"),
        Reference("offer_id", "offers", "offer_id"),
        Reference("order_id", "orders", "order_id"),
    ),
    date_column="redeemed_date",
)

# In dependency order: a table only references tables before it.
INPUT_TABLES: tuple[Table, ...] = (
    CUSTOMERS,
    PRODUCTS,
    ORDERS,
    ORDER_ITEMS,
    OFFERS,
    IMPRESSIONS,
    REDEMPTIONS,
)
INPUTS: dict[str, Table] = {t.name: t for t in INPUT_TABLES}

SQLITE_TYPES: dict[Kind, str] = {
    "int": "INTEGER",
    "real": "REAL",
    "text": "TEXT",
    "date": "TEXT",
    "flag": "INTEGER",
}


# How every engine types each kind when it loads a contract table (portable SQL: DuckDB
# runs it, Spark runs it transpiled): dates keep only their day whatever arrives (text,
# date, timestamp), so the feature SQL never parses anything.
ENGINE_TYPES: dict[Kind, str] = {
    "int": "CAST({c} AS BIGINT)",
    "flag": "CAST({c} AS INTEGER)",
    "real": "CAST({c} AS DOUBLE)",
    "text": "CAST({c} AS VARCHAR)",
    "date": "CAST(SUBSTR(CAST({c} AS VARCHAR), 1, 10) AS DATE)",
}


def select_list(columns: tuple[Column, ...], templates: dict[Kind, str]) -> str:
    """Column expressions built from contract names only (identifiers, never data values)."""
    return ", ".join(f"{templates[c.kind].format(c=c.name)} AS {c.name}" for c in columns)


def typed_select(table: Table, source: str) -> str:
    """SELECT of `table`'s contract columns from `source`, typed as the engines type them."""
    return f"SELECT {select_list(table.columns, ENGINE_TYPES)} FROM {source}"


def create_table_sql(table: Table) -> str:
    """DDL for one contract table; keys become primary keys, nothing else is enforced by SQLite."""
    cols = [f"{c.name} {SQLITE_TYPES[c.kind]}" for c in table.columns]
    if table.key:
        cols.append(f"PRIMARY KEY ({', '.join(table.key)})")
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(cols)})"
