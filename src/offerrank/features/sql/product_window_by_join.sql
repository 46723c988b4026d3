-- product_window_by_join: product_window for batches with few distinct as_of dates.
-- Grain: one row per (customer_id, product_id, as_of_day) with at least one line of an
--   offered product in W = [T - L, T); a missing row means no such line in W.
-- Parameters: $lookback (L, days).
-- Plan: few as_of dates. Each requested (customer, as_of) is joined to the product_daily
--   rows of its window, day in [as_of - L, as_of - 1], then grouped.
-- Checks: n_lines >= 1; same values as product_window for every row with n_lines > 0.
SELECT
    k.customer_id,
    d.product_id,
    k.as_of_day,
    SUM(d.n_lines) AS n_lines
FROM customer_keys AS k
JOIN product_daily AS d
    ON d.customer_id = k.customer_id
    AND d.day_number >= k.as_of_day - $lookback
    AND d.day_number < k.as_of_day
GROUP BY k.customer_id, d.product_id, k.as_of_day
