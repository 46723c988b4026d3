-- offer_keys: the offer features of each distinct requested (offer, as_of), with the
--   product attributes the interaction features need.
-- Grain: one row per distinct (offer_id, as_of_day); a missing offer keeps its row (nulls).
-- Input: query_pairs(row_id, customer_id, offer_id, as_of), registered by the caller.
-- Checks: margin_impact = (list_price * (1 - discount_pct) - unit_cost) / list_price;
--   days_until_expiry = end_date - as_of (negative once the offer has ended).
WITH requested AS (
    SELECT DISTINCT
        offer_id,
        CAST(CAST(as_of AS DATE) - DATE '1970-01-01' AS INT) AS as_of_day
    FROM query_pairs
)

SELECT
    r.offer_id,
    r.as_of_day,
    o.product_id,
    o.target_business_type,
    -- the offer's product, for interaction features
    p.category,
    p.price_tier,
    -- offer features
    o.discount_pct AS discount_depth,
    (p.list_price * (1.0 - o.discount_pct) - p.unit_cost) / p.list_price AS margin_impact,
    CAST(o.end_date - DATE '1970-01-01' AS INT) - r.as_of_day AS days_until_expiry,
    p.is_own_brand
FROM requested AS r
LEFT JOIN offers AS o ON o.offer_id = r.offer_id
LEFT JOIN products AS p ON p.product_id = o.product_id
