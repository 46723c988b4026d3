-- customer_orders: orders of the requested customers that some lookback window can see.
-- Grain: one row per order (order_id unique).
-- Parameters: $lookback (L, days). Span: [min(as_of) - L, max(as_of)), the union of all
--   windows W = [T - L, T); anything outside it can change no feature.
-- Checks: day_number within the span; customer_id in customer_keys.
WITH span AS (
    SELECT
        MIN(as_of_day) - $lookback AS first_day,
        MAX(as_of_day) AS end_day
    FROM customer_keys
),

wanted AS (
    SELECT DISTINCT customer_id FROM customer_keys
),

dated AS (
    SELECT
        o.order_id,
        o.customer_id,
        o.is_business,
        CAST(o.order_date - DATE '1970-01-01' AS INT) AS day_number
    FROM orders AS o
    JOIN wanted AS w ON w.customer_id = o.customer_id
)

SELECT d.*
FROM dated AS d
CROSS JOIN span AS s
WHERE d.day_number >= s.first_day AND d.day_number < s.end_day
