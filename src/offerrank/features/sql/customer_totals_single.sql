-- customer_totals_single: customer_totals for a batch with a single as_of date T.
-- Grain: one row per requested (customer_id, as_of_day) with at least one order in W =
--   [T - L, T); a missing key means nothing in W (customer_window reads it as zeros).
-- Parameters: $lookback (L, days).
-- Plan: one as_of date (a scoring day). W is the same for every customer, so the orders
--   and lines are filtered to W and grouped by customer in one pass each: no daily
--   aggregates and no join of keys to their windows. The sums are exact DECIMALs, so
--   they equal the sums of daily sums of the other plans digit for digit.
-- Checks: n_orders >= 1; last_order_day in [T - L, T - 1]; same values as
--   customer_totals for every requested key with an order in W.
WITH cut AS (
    SELECT MIN(as_of_day) AS as_of_day FROM customer_keys
),

orders_in AS (
    SELECT
        o.customer_id,
        MAX(o.day_number) AS last_order_day,
        COUNT(*) AS n_orders,
        SUM(o.is_business) AS n_business_orders
    FROM customer_orders AS o
    CROSS JOIN cut AS c
    WHERE o.day_number >= c.as_of_day - $lookback AND o.day_number < c.as_of_day
    GROUP BY o.customer_id
),

lines_in AS (
    SELECT
        l.customer_id,
        COUNT(*) AS n_lines,
        SUM(l.is_promo) AS n_promo_lines,
        SUM(CAST(l.quantity AS DECIMAL(38, 10))) AS quantity,
        SUM(CAST(l.amount AS DECIMAL(38, 10))) AS monetary,
        SUM(CASE WHEN l.price_tier = 1 THEN 1 ELSE 0 END) AS n_tier1_lines,
        SUM(CASE WHEN l.price_tier = 2 THEN 1 ELSE 0 END) AS n_tier2_lines,
        SUM(CASE WHEN l.price_tier = 3 THEN 1 ELSE 0 END) AS n_tier3_lines,
        SUM(l.is_fresh) AS n_fresh_lines,
        SUM(CAST(l.usual_discount AS DECIMAL(38, 10))) AS usual_discount
    FROM customer_lines AS l
    CROSS JOIN cut AS c
    WHERE l.day_number >= c.as_of_day - $lookback AND l.day_number < c.as_of_day
    GROUP BY l.customer_id
)

SELECT
    o.customer_id,
    c.as_of_day,
    o.last_order_day,
    o.n_orders,
    o.n_business_orders,
    COALESCE(l.n_lines, 0) AS n_lines,
    COALESCE(l.n_promo_lines, 0) AS n_promo_lines,
    COALESCE(l.quantity, 0.0) AS quantity,
    COALESCE(l.monetary, 0.0) AS monetary,
    COALESCE(l.n_tier1_lines, 0) AS n_tier1_lines,
    COALESCE(l.n_tier2_lines, 0) AS n_tier2_lines,
    COALESCE(l.n_tier3_lines, 0) AS n_tier3_lines,
    COALESCE(l.n_fresh_lines, 0) AS n_fresh_lines,
    COALESCE(l.usual_discount, 0.0) AS usual_discount
FROM orders_in AS o
CROSS JOIN cut AS c
LEFT JOIN lines_in AS l ON l.customer_id = o.customer_id
