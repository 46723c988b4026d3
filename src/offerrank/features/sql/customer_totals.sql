-- customer_totals: each requested customer's orders and lines summed over W = [T - L, T).
-- Grain: one row per distinct requested (customer_id, as_of_day) (all zero and
--   last_order_day null when nothing in W).
-- Parameters: $lookback (L, days). W = [T - L, T): only days strictly before T count.
-- Plan: many as_of dates. customer_daily unioned with zero-valued query rows at
--   as_of_day; a RANGE frame [day - L, day - 1] sums W. customer_totals_by_join builds
--   the same values for few as_of dates.
-- Checks: every count >= 0 and never null; each line count <= n_lines.
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
    customer_id, as_of_day, last_order_day, n_orders, n_business_orders, n_lines,
    n_promo_lines, quantity, monetary, n_tier1_lines, n_tier2_lines, n_tier3_lines,
    n_fresh_lines, usual_discount
FROM windowed
WHERE is_query = 1
