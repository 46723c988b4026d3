-- popular_candidates: every eligible (customer, offer) pair of $as_of with the offer's
--   popularity rank in the customer's segment: what a model-free policy chooses from.
-- Grain: one row per (customer_id, offer_id), as in eligible_pairs.sql.
-- Input: candidate_scope(customer_id), registered by the caller.
-- Popularity: distinct buyers, in the customer's business type, of the offer's product in
--   the lookback window [$window_start, $as_of); pop_rank 1 = most popular, ties by offer_id.
-- Checks: the eligibility rules of eligible_pairs.sql; pop_rank >= 1.
WITH eligible_customers AS (
    SELECT c.customer_id, c.business_type
    FROM customers AS c
    JOIN (SELECT DISTINCT customer_id FROM candidate_scope) AS s ON s.customer_id = c.customer_id
    WHERE c.signup_date IS NULL OR c.signup_date <= $as_of
),

active AS (
    SELECT offer_id, product_id, target_business_type
    FROM offers
    WHERE start_date <= $as_of AND end_date >= $as_of
),

segment_buyers AS (
    SELECT c.business_type, i.product_id, COUNT(DISTINCT o.customer_id) AS buyers
    FROM orders AS o
    JOIN order_items AS i ON i.order_id = o.order_id
    JOIN customers AS c ON c.customer_id = o.customer_id
    WHERE o.order_date >= $window_start AND o.order_date < $as_of
    GROUP BY c.business_type, i.product_id
),

segment_rank AS (
    SELECT
        seg.business_type,
        a.offer_id,
        ROW_NUMBER() OVER (
            PARTITION BY seg.business_type ORDER BY COALESCE(b.buyers, 0) DESC, a.offer_id
        ) AS pop_rank
    FROM (SELECT DISTINCT business_type FROM eligible_customers) AS seg
    CROSS JOIN active AS a
    LEFT JOIN segment_buyers AS b
        ON b.business_type = seg.business_type AND b.product_id = a.product_id
    WHERE a.target_business_type IS NULL OR a.target_business_type = seg.business_type
),

redeemed AS (
    SELECT DISTINCT customer_id, offer_id
    FROM redemptions
    WHERE redeemed_date < $as_of
)

SELECT e.customer_id, r.offer_id, r.pop_rank
FROM eligible_customers AS e
JOIN segment_rank AS r ON r.business_type = e.business_type
LEFT JOIN redeemed AS d ON d.customer_id = e.customer_id AND d.offer_id = r.offer_id
WHERE d.customer_id IS NULL
ORDER BY e.customer_id, r.offer_id
