-- pair_keys: every requested (customer, offer, as_of) row with its offer, product and customer.
-- Grain: one row per requested row (row_id unique, duplicates of a pair keep their own row).
-- Input: query_pairs(row_id, customer_id, offer_id, as_of), registered by the caller.
-- Checks: row count = query_pairs (left joins only); as_of_day = days since 1970-01-01.
WITH requested AS (
    SELECT
        row_id,
        customer_id,
        offer_id,
        CAST(as_of AS DATE) AS as_of
    FROM query_pairs
),

with_offer AS (
    SELECT
        r.row_id,
        r.customer_id,
        r.offer_id,
        r.as_of,
        CAST(r.as_of - DATE '1970-01-01' AS INT) AS as_of_day,
        o.product_id,
        o.discount_pct,
        CAST(o.end_date - DATE '1970-01-01' AS INT) AS end_day,
        o.target_business_type
    FROM requested AS r
    LEFT JOIN offers AS o ON o.offer_id = r.offer_id
)

SELECT
    w.*,
    -- the offer's product
    p.category,
    p.price_tier,
    p.is_own_brand,
    p.list_price,
    p.unit_cost,
    -- the customer
    c.business_type
FROM with_offer AS w
LEFT JOIN products AS p ON p.product_id = w.product_id
LEFT JOIN customers AS c ON c.customer_id = w.customer_id
