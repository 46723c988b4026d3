-- product_window_single: product_window for a batch with a single as_of date T.
-- Grain: one row per (customer_id, product_id, as_of_day) with at least one line of an
--   offered product in W = [T - L, T); a missing row means no such line in W.
-- Parameters: $lookback (L, days).
-- Plan: one as_of date. The lines of offered products in W are grouped by (customer,
--   product) in one pass.
-- Checks: n_lines >= 1; same values as product_window for every row with n_lines > 0.
WITH cut AS (
    SELECT MIN(as_of_day) AS as_of_day FROM customer_keys
),

offered AS (
    SELECT DISTINCT product_id FROM offer_keys WHERE product_id IS NOT NULL
)

SELECT
    l.customer_id,
    l.product_id,
    c.as_of_day,
    COUNT(*) AS n_lines
FROM customer_lines AS l
CROSS JOIN cut AS c
WHERE
    l.product_id IN (SELECT product_id FROM offered)
    AND l.day_number >= c.as_of_day - $lookback
    AND l.day_number < c.as_of_day
GROUP BY l.customer_id, l.product_id, c.as_of_day
