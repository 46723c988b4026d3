-- product_window: how many lines of each offered product each customer bought inside W.
-- Grain: one row per (customer_id, product_id, as_of_day) for every requested customer and
--   as_of and every requested offer's product the customer bought in the span; a missing
--   row means no line of that product in W.
-- Parameters: $lookback (L, days).
-- Plan: many as_of dates. product_daily unioned with zero-valued query rows; a RANGE
--   frame [day - L, day - 1] sums exactly W = [T - L, T). product_window_by_join builds
--   the same values for few as_of dates.
-- Checks: n_lines >= 0 and never null.
WITH daily AS (
    SELECT customer_id, product_id, day_number, n_lines FROM product_daily
),

queries AS (
    SELECT k.customer_id, b.product_id, k.as_of_day
    FROM customer_keys AS k
    JOIN (SELECT DISTINCT customer_id, product_id FROM daily) AS b
        ON b.customer_id = k.customer_id
),

events AS (
    SELECT customer_id, product_id, day_number, 0 AS is_query, n_lines
    FROM daily
    UNION ALL
    SELECT customer_id, product_id, as_of_day AS day_number, 1 AS is_query, 0 AS n_lines
    FROM queries
),

windowed AS (
    SELECT
        customer_id,
        product_id,
        day_number,
        is_query,
        SUM(n_lines) OVER (
            PARTITION BY customer_id, product_id
            ORDER BY day_number
            RANGE BETWEEN $lookback PRECEDING AND 1 PRECEDING
        ) AS n_lines
    FROM events
)

SELECT
    customer_id,
    product_id,
    day_number AS as_of_day,
    COALESCE(n_lines, 0) AS n_lines
FROM windowed
WHERE is_query = 1
