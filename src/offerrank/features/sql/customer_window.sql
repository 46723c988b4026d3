-- customer_window: the customer features of each requested customer as of each as_of date.
-- Grain: one row per distinct requested (customer_id, as_of_day).
-- Parameters: $lookback (L, days; recency is L + 1 with no order in W = [T - L, T)).
-- Method: ratios of the window sums in customer_totals (either plan; a key missing there
--   had nothing in W) and the entropy of customer_entropy (same W).
-- Checks: ratios in [0, 1]; recency in [1, L + 1]; no nulls; empty denominators give 0.
WITH w AS (
    SELECT
        k.customer_id,
        k.as_of_day,
        k.as_of_day - t.last_order_day AS recency,
        COALESCE(t.n_orders, 0) AS n_orders,
        COALESCE(t.n_business_orders, 0) AS n_business_orders,
        COALESCE(t.n_lines, 0) AS n_lines,
        COALESCE(t.n_promo_lines, 0) AS n_promo_lines,
        COALESCE(t.quantity, 0.0) AS quantity,
        COALESCE(t.monetary, 0.0) AS monetary,
        COALESCE(t.n_tier1_lines, 0) AS n_tier1_lines,
        COALESCE(t.n_tier2_lines, 0) AS n_tier2_lines,
        COALESCE(t.n_tier3_lines, 0) AS n_tier3_lines,
        COALESCE(t.n_fresh_lines, 0) AS n_fresh_lines,
        COALESCE(t.usual_discount, 0.0) AS usual_discount
    FROM customer_keys AS k
    LEFT JOIN customer_totals AS t ON t.customer_id = k.customer_id AND t.as_of_day = k.as_of_day
)

SELECT
    w.customer_id,
    w.as_of_day,
    CAST(COALESCE(w.recency, $lookback + 1) AS DOUBLE) AS recency_days,
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
FROM w
LEFT JOIN customer_entropy AS e ON e.customer_id = w.customer_id AND e.as_of_day = w.as_of_day
