-- category_window_by_join: category_window for batches with few distinct as_of dates.
-- Grain: one row per (customer_id, category, as_of_day) with at least one line in W =
--   [T - L, T) (a category absent here has n_lines = 0 in W, as in category_window).
-- Parameters: $lookback (L, days).
-- Plan: few as_of dates (a scoring day). Each requested (customer, as_of) is joined to
--   the category_daily rows of its own window, day in [as_of - L, as_of - 1], then
--   grouped: every daily row is read once per as_of, so the cost grows with the number
--   of dates, but with one or a few it beats sorting for a RANGE frame.
-- Checks: n_lines >= 1; last_day in [as_of_day - L, as_of_day - 1]; same values as
--   category_window for every row with n_lines > 0.
SELECT
    k.customer_id,
    d.category,
    k.as_of_day,
    SUM(d.n_lines) AS n_lines,
    MAX(d.day_number) AS last_day
FROM customer_keys AS k
JOIN category_daily AS d
    ON d.customer_id = k.customer_id
    AND d.day_number >= k.as_of_day - $lookback
    AND d.day_number < k.as_of_day
GROUP BY k.customer_id, d.category, k.as_of_day
