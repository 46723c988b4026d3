-- customer_window: the customer features of each requested customer as of each as_of date.
-- Grain: one row per distinct requested (customer_id, as_of_day).
-- Parameters: $lookback (L, days). W = [T - L, T): only days strictly before T count.
-- Method: customer_daily unioned with zero-valued query rows at as_of_day; a RANGE frame
--   [day - L, day - 1] sums W; entropy comes from customer_entropy (same W).
-- Checks: ratios in [0, 1]; recency in [1, L + 1]; no nulls; empty denominators give 0.
WITH events AS (
    SELECT
        customer_id, day_number, 0 AS is_query, n_orders, n_business_orders, n_lines,
        n_promo_lines, quantity, monetary, n_tier1_lines, n_tier2_lines, n_tier3_lines,
        n_fresh_lines, usual_discount
    FROM customer_daily
    UNION ALL
    SELECT
        customer_id, as_of_day, 1, 0, 0, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0.0
    FROM customer_keys
),

windowed AS (
    SELECT
        customer_id,
        day_number AS as_of_day,
        is_query,
        MAX(CASE WHEN n_orders > 0 THEN day_number END) OVER w AS last_order_day,
        COALESCE(SUM(n_orders) OVER w, 0) AS n_orders,
        COALESCE(SUM(n_business_orders) OVER w, 0) AS n_business_orders,
        COALESCE(SUM(n_lines) OVER w, 0) AS n_lines,
        COALESCE(SUM(n_promo_lines) OVER w, 0) AS n_promo_lines,
        COALESCE(SUM(quantity) OVER w, 0.0) AS quantity,
        COALESCE(SUM(monetary) OVER w, 0.0) AS monetary,
        COALESCE(SUM(n_tier1_lines) OVER w, 0) AS n_tier1_lines,
        COALESCE(SUM(n_tier2_lines) OVER w, 0) AS n_tier2_lines,
        COALESCE(SUM(n_tier3_lines) OVER w, 0) AS n_tier3_lines,
        COALESCE(SUM(n_fresh_lines) OVER w, 0) AS n_fresh_lines,
        COALESCE(SUM(usual_discount) OVER w, 0.0) AS usual_discount
    FROM events
    WINDOW w AS (
        PARTITION BY customer_id ORDER BY day_number
        RANGE BETWEEN $lookback PRECEDING AND 1 PRECEDING
    )
)

SELECT
    w.customer_id,
    w.as_of_day,
    CAST(COALESCE(w.as_of_day - w.last_order_day, $lookback + 1) AS DOUBLE) AS recency_days,
    CAST(w.n_orders AS DOUBLE) AS frequency,
    CAST(w.monetary AS DOUBLE) AS monetary,
    CASE WHEN w.n_lines > 0 THEN CAST(w.n_promo_lines AS DOUBLE) / w.n_lines ELSE 0.0 END
        AS promo_affinity,
    CASE WHEN w.n_orders > 0 THEN CAST(w.n_lines AS DOUBLE) / w.n_orders ELSE 0.0 END
        AS avg_basket_size,
    CASE WHEN w.n_orders > 0 THEN w.quantity / w.n_orders ELSE 0.0 END AS avg_basket_quantity,
    CASE WHEN w.n_lines > 0 THEN CAST(w.n_tier1_lines AS DOUBLE) / w.n_lines ELSE 0.0 END
        AS tier1_purchase_ratio,
    CASE WHEN w.n_lines > 0 THEN CAST(w.n_tier2_lines AS DOUBLE) / w.n_lines ELSE 0.0 END
        AS tier2_purchase_ratio,
    CASE WHEN w.n_lines > 0 THEN CAST(w.n_tier3_lines AS DOUBLE) / w.n_lines ELSE 0.0 END
        AS tier3_purchase_ratio,
    CASE WHEN w.n_lines > 0 THEN CAST(w.n_fresh_lines AS DOUBLE) / w.n_lines ELSE 0.0 END
        AS fresh_category_ratio,
    CASE WHEN w.n_orders > 0 THEN CAST(w.n_business_orders AS DOUBLE) / w.n_orders ELSE 0.0 END
        AS business_order_ratio,
    COALESCE(e.category_entropy, 0.0) AS category_entropy,
    CASE WHEN w.n_lines > 0 THEN w.usual_discount / w.n_lines ELSE 0.0 END AS usual_discount,
    w.n_lines
FROM windowed AS w
LEFT JOIN customer_entropy AS e ON e.customer_id = w.customer_id AND e.as_of_day = w.as_of_day
WHERE w.is_query = 1
