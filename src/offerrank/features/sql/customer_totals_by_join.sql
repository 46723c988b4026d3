-- customer_totals_by_join: customer_totals for batches with few distinct as_of dates.
-- Grain: one row per requested (customer_id, as_of_day) with at least one order in W =
--   [T - L, T); a missing key means nothing in W (customer_window reads it as zeros).
-- Parameters: $lookback (L, days).
-- Plan: few as_of dates (a scoring day). Each requested (customer, as_of) is joined to
--   the customer_daily rows of its own window, day in [as_of - L, as_of - 1], then
--   grouped; each daily row is read once per as_of date.
-- Checks: n_orders >= 1; last_order_day in [as_of_day - L, as_of_day - 1]; same values
--   as customer_totals for every key with an order in W.
SELECT
    k.customer_id,
    k.as_of_day,
    MAX(d.day_number) AS last_order_day,
    SUM(d.n_orders) AS n_orders,
    SUM(d.n_business_orders) AS n_business_orders,
    SUM(d.n_lines) AS n_lines,
    SUM(d.n_promo_lines) AS n_promo_lines,
    SUM(d.quantity) AS quantity,
    SUM(d.monetary) AS monetary,
    SUM(d.n_tier1_lines) AS n_tier1_lines,
    SUM(d.n_tier2_lines) AS n_tier2_lines,
    SUM(d.n_tier3_lines) AS n_tier3_lines,
    SUM(d.n_fresh_lines) AS n_fresh_lines,
    SUM(d.usual_discount) AS usual_discount
FROM customer_keys AS k
JOIN customer_daily AS d
    ON d.customer_id = k.customer_id
    AND d.day_number >= k.as_of_day - $lookback
    AND d.day_number < k.as_of_day
GROUP BY k.customer_id, k.as_of_day
