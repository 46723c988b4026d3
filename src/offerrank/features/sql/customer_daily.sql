-- customer_daily: what each requested customer bought each day (orders and lines).
-- Grain: one row per (customer_id, day_number) with at least one order.
-- Checks: n_orders >= 1; every count <= its denominator (n_promo_lines <= n_lines ...).
WITH order_days AS (
    SELECT
        customer_id,
        day_number,
        COUNT(*) AS n_orders,
        SUM(is_business) AS n_business_orders
    FROM customer_orders
    GROUP BY customer_id, day_number
),

line_days AS (
    SELECT
        customer_id,
        day_number,
        COUNT(*) AS n_lines,
        SUM(is_promo) AS n_promo_lines,
        -- exact DECIMAL sums: a parallel DOUBLE sum depends on thread order, and
        -- reruns must give bit-identical features
        SUM(CAST(quantity AS DECIMAL(38, 10))) AS quantity,
        SUM(CAST(amount AS DECIMAL(38, 10))) AS monetary,
        SUM(CASE WHEN price_tier = 1 THEN 1 ELSE 0 END) AS n_tier1_lines,
        SUM(CASE WHEN price_tier = 2 THEN 1 ELSE 0 END) AS n_tier2_lines,
        SUM(CASE WHEN price_tier = 3 THEN 1 ELSE 0 END) AS n_tier3_lines,
        SUM(is_fresh) AS n_fresh_lines,
        SUM(CAST(usual_discount AS DECIMAL(38, 10))) AS usual_discount
    FROM customer_lines
    GROUP BY customer_id, day_number
)

SELECT
    o.customer_id,
    o.day_number,
    o.n_orders,
    o.n_business_orders,
    COALESCE(l.n_lines, 0) AS n_lines,
    COALESCE(l.n_promo_lines, 0) AS n_promo_lines,
    COALESCE(l.quantity, 0.0) AS quantity,
    COALESCE(l.monetary, 0.0) AS monetary,
    COALESCE(l.n_tier1_lines, 0) AS n_tier1_lines,
    COALESCE(l.n_tier2_lines, 0) AS n_tier2_lines,
    COALESCE(l.n_tier3_lines, 0) AS n_tier3_lines,
    COALESCE(l.n_fresh_lines, 0) AS n_fresh_lines,
    COALESCE(l.usual_discount, 0.0) AS usual_discount
FROM order_days AS o
LEFT JOIN line_days AS l
    ON l.customer_id = o.customer_id AND l.day_number = o.day_number
