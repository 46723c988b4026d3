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

# Each queried offer id (`offer_query`: row_id, offer_id) with its product's category, the
# unit margin left at the offer price and whether it targets a business type; NULLs for an
# id without offer or product.
OFFER_FACTS = """
SELECT q.offer_id, p.category,
       p.list_price * (1 - o.discount_pct) - p.unit_cost AS unit_margin,
       o.target_business_type IS NOT NULL AS targeted
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

# Every requested pair with its features, kept on the engine while the first stage ranks them.
ALL_PAIRS = "pair_features_all"
# The first stage of retrieval over `pair_features_all` (every eligible pair with its
# features): its score ({score}: `$fs_bias + $fs_w0 * feature_0 + ...`, built by
# `first_stage_score`) and its rank within the customer's pairs of the same day.
FIRST_STAGE_RANKED = """
SELECT *,
       ROW_NUMBER() OVER (
           PARTITION BY customer_id, as_of ORDER BY first_stage DESC, offer_id
       ) AS retrieval_rank
FROM (SELECT pf.*, {score} AS first_stage FROM pair_features_all AS pf) AS scored
"""
# The kept pool: the best $per_customer pairs of each customer, with their features. The
# ranking sorts only (customer, score, offer, row_id); the features join the kept rows after.
FIRST_STAGE_POOL = """
WITH ranked AS (
    SELECT row_id, first_stage,
           ROW_NUMBER() OVER (
               PARTITION BY customer_id, as_of ORDER BY first_stage DESC, offer_id
           ) AS retrieval_rank
    FROM (
        SELECT row_id, customer_id, as_of, offer_id, {score} AS first_stage
        FROM pair_features_all
    ) AS scored
)
SELECT pf.*, r.first_stage, r.retrieval_rank
FROM pair_features_all AS pf
JOIN ranked AS r ON r.row_id = pf.row_id
WHERE r.retrieval_rank <= $per_customer
"""


def first_stage_score(
    columns: tuple[str, ...], weights: tuple[float, ...], bias: float
) -> tuple[str, dict[str, float]]:
    """The first stage as a SQL expression over feature columns, its numbers bound as
    parameters (`$fs_bias`, `$fs_w<j>`); the column names come from the feature registry."""
    if len(columns) != len(weights):
        raise ValueError(f"the first stage has {len(weights)} weights for {len(columns)} features")
    terms = " + ".join(f"$fs_w{j} * {name}" for j, name in enumerate(columns))
    params = {"fs_bias": float(bias), **{f"fs_w{j}": float(w) for j, w in enumerate(weights)}}
    return f"($fs_bias + {terms})", params


# A fingerprint of every loaded row the evaluation of impressions shown up to $last
# depends on (their features look back $lookback days; their labels reach $label_window
# days past): a row count and a sum of row hashes per table. `{hash}` is the engine's
# 64-bit row hash function; sums are taken modulo a prime so that they never overflow.
EVALUATION_INPUTS = """
SELECT 'orders' AS t, COUNT(*) AS n,
       SUM({hash}(order_id, customer_id, order_date, is_business) % 1000000007) AS h
FROM orders WHERE order_date < $last AND order_date >= $first_order
UNION ALL
SELECT 'order_items', COUNT(*),
       SUM({hash}(i.order_id, product_id, quantity, unit_price, is_promo) % 1000000007)
FROM order_items AS i JOIN orders AS o ON o.order_id = i.order_id
WHERE o.order_date < $last AND o.order_date >= $first_order
UNION ALL
SELECT 'products', COUNT(*),
       SUM({hash}(product_id, category, is_fresh, price_tier, is_own_brand, list_price,
                  unit_cost) % 1000000007)
FROM products
UNION ALL
SELECT 'offers', COUNT(*),
       SUM({hash}(offer_id, product_id, start_date, end_date, discount_pct,
                  COALESCE(target_business_type, '')) % 1000000007)
FROM offers
UNION ALL
SELECT 'customers', COUNT(*),
       SUM({hash}(customer_id, business_type, COALESCE(signup_date, DATE '1970-01-01'))
           % 1000000007)
FROM customers
UNION ALL
SELECT 'impressions', COUNT(*),
       SUM({hash}(impression_id, customer_id, offer_id, shown_date) % 1000000007)
FROM impressions WHERE shown_date <= $last
UNION ALL
SELECT 'redemptions', COUNT(*),
       SUM({hash}(redemption_id, customer_id, offer_id, redeemed_date) % 1000000007)
FROM redemptions WHERE redeemed_date <= $last_label
"""

POSITIVES_BY_DAY = """
SELECT shown_date, SUM(label) AS positives
FROM impression_labels
WHERE shown_date BETWEEN $first AND $last
GROUP BY shown_date
ORDER BY shown_date
"""

# Where the unit costs behind every margin figure come from: how many products carry a
# cost at all, and how much the cost's share of the list price varies between them (a
# feed without costs carries 0; one with an assumed flat share carries one ratio).
UNIT_COSTS = """
SELECT COUNT(*) AS products,
       SUM(CASE WHEN unit_cost > 0 THEN 1 ELSE 0 END) AS with_cost,
       MIN(unit_cost / list_price) AS low_ratio,
       MAX(unit_cost / list_price) AS high_ratio,
       STDDEV_POP(unit_cost / list_price) AS spread
FROM products
"""

# The grid scorer's customers: each customer of `grid_scope` with its business type and
# whether it has signed up by $as_of (the customer rule of eligible_pairs.sql).
GRID_CUSTOMERS = """
SELECT c.customer_id, c.business_type,
       c.signup_date IS NULL OR c.signup_date <= $as_of AS eligible
FROM customers AS c
JOIN (SELECT DISTINCT customer_id FROM grid_scope) AS s ON s.customer_id = c.customer_id
ORDER BY c.customer_id
"""
# The grid scorer's redeemed pairs: offers active on $as_of that a customer of
# `grid_scope` redeemed before $as_of (the redemption rule of eligible_pairs.sql).
GRID_REDEEMED = """
SELECT DISTINCT r.customer_id, r.offer_id
FROM redemptions AS r
JOIN (SELECT DISTINCT customer_id FROM grid_scope) AS s ON s.customer_id = r.customer_id
JOIN offers AS o ON o.offer_id = r.offer_id
WHERE r.redeemed_date < $as_of AND o.start_date <= $as_of AND o.end_date >= $as_of
"""
