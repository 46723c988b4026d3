-- product_daily: how many lines of each offered product each requested customer bought per day.
-- Grain: one row per (customer_id, product_id, day_number) with at least one line, for
--   products of the requested offers only (no other product can match an offer).
-- Role: the daily aggregate both plans of product_window sum over W = [T - L, T).
-- Checks: n_lines >= 1; product_id never null.
WITH offered AS (
    SELECT DISTINCT product_id FROM offer_keys WHERE product_id IS NOT NULL
)

SELECT l.customer_id, l.product_id, l.day_number, COUNT(*) AS n_lines
FROM customer_lines AS l
WHERE l.product_id IN (SELECT product_id FROM offered)
GROUP BY l.customer_id, l.product_id, l.day_number
