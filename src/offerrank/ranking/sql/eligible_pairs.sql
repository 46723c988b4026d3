-- eligible_pairs: every (customer, offer) pair that may be recommended on $as_of.
-- Grain: one row per (customer_id, offer_id).
-- Input: candidate_scope(customer_id), the customers asked about, registered by the caller.
-- Rules: the customer has signed up by $as_of; the offer is active on $as_of
--   (start_date <= $as_of <= end_date); its business-type target is empty or the
--   customer's type; the customer has not redeemed that offer before $as_of.
-- Checks: no duplicate pair; only customers in candidate_scope.
WITH eligible_customers AS (
    SELECT c.customer_id, c.business_type
    FROM customers AS c
    JOIN (SELECT DISTINCT customer_id FROM candidate_scope) AS s ON s.customer_id = c.customer_id
    WHERE c.signup_date IS NULL OR c.signup_date <= $as_of
),

active AS (
    SELECT offer_id, target_business_type
    FROM offers
    WHERE start_date <= $as_of AND end_date >= $as_of
),

redeemed AS (
    SELECT DISTINCT customer_id, offer_id
    FROM redemptions
    WHERE redeemed_date < $as_of
)

SELECT e.customer_id, a.offer_id
FROM eligible_customers AS e
JOIN active AS a
    ON a.target_business_type IS NULL OR a.target_business_type = e.business_type
LEFT JOIN redeemed AS r ON r.customer_id = e.customer_id AND r.offer_id = a.offer_id
WHERE r.customer_id IS NULL
