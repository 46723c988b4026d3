-- category_daily: how many lines each requested customer bought per category and day.
-- Grain: one row per (customer_id, category, day_number) with at least one line; a line
--   whose product is unknown counts under category NULL, like everywhere else.
-- Role: the daily aggregate both plans of category_window sum over W = [T - L, T).
-- Checks: n_lines >= 1; sum of n_lines per customer = lines in customer_lines.
SELECT customer_id, category, day_number, COUNT(*) AS n_lines
FROM customer_lines
GROUP BY customer_id, category, day_number
