-- category_window_single: category_window for a batch with a single as_of date T.
-- Grain: one row per (customer_id, category, as_of_day) with at least one line in W =
--   [T - L, T) (a category absent here has n_lines = 0 in W, as in category_window).
-- Parameters: $lookback (L, days).
-- Plan: one as_of date (a scoring day). W is the same for every customer, so the lines
--   in W are grouped by (customer, category) in one pass.
-- Checks: n_lines >= 1; last_day in [T - L, T - 1]; same values as category_window for
--   every row with n_lines > 0.
WITH cut AS (
    SELECT MIN(as_of_day) AS as_of_day FROM customer_keys
)

SELECT
    l.customer_id,
    l.category,
    c.as_of_day,
    COUNT(*) AS n_lines,
    MAX(l.day_number) AS last_day
FROM customer_lines AS l
CROSS JOIN cut AS c
WHERE l.day_number >= c.as_of_day - $lookback AND l.day_number < c.as_of_day
GROUP BY l.customer_id, l.category, c.as_of_day
