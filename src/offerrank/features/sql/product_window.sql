-- product_window: how many lines of each offered product each customer bought inside W.
-- Grain: one row per (customer_id, product_id, as_of_day) for every requested customer and
--   as_of and every requested offer's product the customer bought in the span; a missing
--   row means no line of that product in W.
-- Parameters: $lookback (L, days).
-- Method: daily counts per (customer, product) unioned with zero-valued query rows; a
--   RANGE frame [day - L, day - 1] sums exactly W = [T - L, T).
-- Checks: n_lines >= 0 and never null.
WITH offered AS (
    SELECT DISTINCT product_id FROM offer_keys WHERE product_id IS NOT NULL
),

product_days AS (
    SELECT l.customer_id, l.product_id, l.day_number, COUNT(*) AS n_lines
    FROM customer_lines AS l
    WHERE l.product_id IN (SELECT product_id FROM offered)
    GROUP BY l.customer_id, l.product_id, l.day_number
),

queries AS (
    SELECT k.customer_id, b.product_id, k.as_of_day
    FROM customer_keys AS k
    JOIN (SELECT DISTINCT customer_id, product_id FROM product_days) AS b
        ON b.customer_id = k.customer_id
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
