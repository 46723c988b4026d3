-- pair_features: the 22 FEATURE_COLUMNS of every requested row.
-- Grain: one row per requested row (row_id unique). Rows come back in no particular
--   order; row_id is the input position, by which the caller restores input order.
-- Parameters: $lookback (L, days; "none in W" recencies are L + 1).
-- Checks: row count = query_pairs; every feature a non-null DOUBLE; ratios with an empty
--   denominator are 0; a customer without history gets recency L + 1 and zeros.
WITH requested AS (
    SELECT
        row_id,
        customer_id,
        offer_id,
        CAST(as_of AS DATE) AS as_of,
        CAST(CAST(as_of AS DATE) - DATE '1970-01-01' AS INT) AS as_of_day
    FROM query_pairs
)

SELECT
    q.row_id,
    q.customer_id,
    q.offer_id,
    q.as_of,
    -- customer features
    COALESCE(c.recency_days, CAST($lookback + 1 AS DOUBLE)) AS recency_days,
    COALESCE(c.frequency, 0.0) AS frequency,
    COALESCE(c.monetary, 0.0) AS monetary,
    COALESCE(c.promo_affinity, 0.0) AS promo_affinity,
    COALESCE(c.avg_basket_size, 0.0) AS avg_basket_size,
    COALESCE(c.avg_basket_quantity, 0.0) AS avg_basket_quantity,
    COALESCE(c.tier2_purchase_ratio, 0.0) AS tier2_purchase_ratio,
    COALESCE(c.tier3_purchase_ratio, 0.0) AS tier3_purchase_ratio,
    COALESCE(c.fresh_category_ratio, 0.0) AS fresh_category_ratio,
    COALESCE(c.business_order_ratio, 0.0) AS business_order_ratio,
    COALESCE(c.category_entropy, 0.0) AS category_entropy,
    -- offer features
    CAST(COALESCE(o.discount_depth, 0.0) AS DOUBLE) AS discount_depth,
    CAST(COALESCE(o.margin_impact, 0.0) AS DOUBLE) AS margin_impact,
    CAST(COALESCE(o.days_until_expiry, 0) AS DOUBLE) AS days_until_expiry,
    CAST(COALESCE(h.historical_redemption_rate, 0.0) AS DOUBLE) AS historical_redemption_rate,
    CAST(COALESCE(o.is_own_brand, 0) AS DOUBLE) AS is_own_brand,
    -- interaction features
    CASE WHEN COALESCE(p.n_lines, 0) > 0 THEN 1.0 ELSE 0.0 END AS bought_product_before,
    CAST(COALESCE(q.as_of_day - g.last_day, $lookback + 1) AS DOUBLE)
        AS days_since_last_cat_purchase,
    CASE WHEN COALESCE(c.n_lines, 0) > 0 THEN CAST(COALESCE(g.n_lines, 0) AS DOUBLE) / c.n_lines
        ELSE 0.0 END AS category_affinity_score,
    CAST(COALESCE(o.discount_depth, 0.0) - COALESCE(c.usual_discount, 0.0) AS DOUBLE)
        AS discount_depth_vs_usual,
    CAST(COALESCE(CASE o.price_tier
        WHEN 1 THEN c.tier1_purchase_ratio
        WHEN 2 THEN c.tier2_purchase_ratio
        WHEN 3 THEN c.tier3_purchase_ratio
    END, 0.0) AS DOUBLE) AS price_sensitivity_match,
    CASE
        WHEN o.target_business_type IS NULL OR o.target_business_type = u.business_type THEN 1.0
        ELSE 0.0
    END AS business_type_match
FROM requested AS q
LEFT JOIN offer_keys AS o ON o.offer_id = q.offer_id AND o.as_of_day = q.as_of_day
LEFT JOIN customers AS u ON u.customer_id = q.customer_id
LEFT JOIN customer_window AS c ON c.customer_id = q.customer_id AND c.as_of_day = q.as_of_day
LEFT JOIN category_window AS g
    ON g.customer_id = q.customer_id AND g.category = o.category AND g.as_of_day = q.as_of_day
LEFT JOIN product_window AS p
    ON p.customer_id = q.customer_id AND p.product_id = o.product_id
    AND p.as_of_day = q.as_of_day
LEFT JOIN offer_history AS h ON h.product_id = o.product_id AND h.as_of_day = q.as_of_day
