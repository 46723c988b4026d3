-- product_window: how many lines of the offer's product each customer bought inside W.
-- Grain: one row per distinct requested (customer_id, product_id, as_of_day).
-- Parameters: $lookback (L, days).
-- Method: daily counts per requested (customer, product) unioned with zero-valued query
--   rows; a RANGE frame [day - L, day - 1] sums exactly W = [T - L, T).
-- Checks: n_lines >= 0 and never null.
WITH queries AS (
    SELECT DISTINCT customer_id, product_id, as_of_day
    FROM pair_keys
    WHERE product_id IS NOT NULL
),

wanted AS (
    SELECT DISTINCT customer_id, product_id FROM queries
),

product_days AS (
    SELECT l.customer_id, l.product_id, l.day_number, COUNT(*) AS n_lines
    FROM customer_lines AS l
    JOIN wanted AS w ON w.customer_id = l.customer_id AND w.product_id = l.product_id
    GROUP BY l.customer_id, l.product_id, l.day_number
),

events AS (
    SELECT customer_id, product_id, day_number, 0 AS is_query, n_lines
    FROM product_days
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
