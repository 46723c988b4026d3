-- category_window: each requested customer's lines per category inside W = [T - L, T).
-- Grain: one row per (customer_id, category, as_of_day) for every requested customer and
--   as_of and every category the customer bought in the span (a category absent here
--   has n_lines = 0 in W).
-- Parameters: $lookback (L, days).
-- Plan: many as_of dates. category_daily unioned with zero-valued query rows at
--   as_of_day; a RANGE frame [day - L, day - 1] then sums exactly the window W.
--   category_window_by_join builds the same values for few as_of dates.
-- Checks: n_lines >= 0 and never null; last_day (latest order day in W) null when n_lines = 0.
WITH daily AS (
    SELECT customer_id, category, day_number, n_lines FROM category_daily
),

queries AS (
    SELECT q.customer_id, b.category, q.as_of_day
    FROM customer_keys AS q
    JOIN (SELECT DISTINCT customer_id, category FROM daily) AS b
        ON b.customer_id = q.customer_id
),

events AS (
    SELECT customer_id, category, day_number, 0 AS is_query, n_lines
    FROM daily
    UNION ALL
    SELECT customer_id, category, as_of_day AS day_number, 1 AS is_query, 0 AS n_lines
    FROM queries
),

windowed AS (
    SELECT
        customer_id,
        category,
        day_number,
        is_query,
        SUM(n_lines) OVER w AS n_lines,
        MAX(CASE WHEN n_lines > 0 THEN day_number END) OVER w AS last_day
    FROM events
    WINDOW w AS (
        PARTITION BY customer_id, category
        ORDER BY day_number
        RANGE BETWEEN $lookback PRECEDING AND 1 PRECEDING
    )
)

SELECT
    customer_id,
    category,
    day_number AS as_of_day,
    COALESCE(n_lines, 0) AS n_lines,
    last_day
FROM windowed
WHERE is_query = 1
