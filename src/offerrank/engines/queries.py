"""The SQL every engine runs for itself, in DuckDB's dialect (Spark runs it transpiled).

Written once here, so that the two engines cannot drift apart: the same statement,
the same parameters, the same result columns.
"""

from __future__ import annotations

FIRST_ORDER = "SELECT MIN(order_date) AS first_order FROM orders"

ACTIVE_OFFERS = (
    "SELECT offer_id FROM offers WHERE start_date <= $as_of AND end_date >= $as_of"
    " ORDER BY offer_id"
)

ELIGIBLE_CUSTOMERS = (
    "SELECT COUNT(*) AS n FROM customers WHERE signup_date IS NULL OR signup_date <= $as_of"
)

LABELLED_IMPRESSIONS = """
SELECT impression_id, customer_id, offer_id, shown_date AS as_of, label
FROM impression_labels
WHERE shown_date BETWEEN $first AND $last
ORDER BY impression_id
"""

# Each queried offer id (`offer_query`: row_id, offer_id) with its product's category and
# the unit margin left at the offer price; NULLs for an id without offer or product.
OFFER_FACTS = """
SELECT q.offer_id, p.category,
       p.list_price * (1 - o.discount_pct) - p.unit_cost AS unit_margin
FROM offer_query q
LEFT JOIN offers o ON o.offer_id = q.offer_id
LEFT JOIN products p ON p.product_id = o.product_id
ORDER BY q.row_id
"""

# The customers a whole-day candidate pool is retrieved for.
ALL_CUSTOMERS = "SELECT customer_id FROM customers"

# The scoring rows of a pool: its pairs, as of its date (an engine orders them).
POOL_PAIRS = "SELECT customer_id, offer_id, $as_of AS as_of FROM {pool}"
POOL_COUNTS = "SELECT COUNT(*) AS pairs, COUNT(DISTINCT customer_id) AS customers FROM {pool}"
