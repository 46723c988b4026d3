-- eligible_pairs: every (customer, offer) pair that may be recommended on $as_of.
-- Grain: one row per (customer_id, offer_id).
-- Input: candidate_scope(customer_id), the customers asked about, registered by the caller.
-- Rules: the customer has signed up by $as_of; the offer is active on $as_of
--   (start_date <= $as_of <= end_date); its business-type target is empty or the
--   customer's type; the customer has not redeemed that offer before $as_of.
-- Method: equi-joins only (a planner on a cluster never needs a nested loop or a broadcast
--   of the pairs): offer_targets lists each active offer under every business type it is
--   meant for (its target, or each type of the customers in scope when it has none).
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

customer_types AS (
    SELECT DISTINCT business_type FROM eligible_customers
),

offer_targets AS (
    SELECT target_business_type AS business_type, offer_id
    FROM active
    WHERE target_business_type IS NOT NULL
    UNION ALL
    SELECT t.business_type, a.offer_id
    FROM active AS a
    CROSS JOIN customer_types AS t
    WHERE a.target_business_type IS NULL
),

redeemed AS (
    SELECT DISTINCT customer_id, offer_id
    FROM redemptions
    WHERE redeemed_date < $as_of
)

SELECT e.customer_id, o.offer_id
FROM eligible_customers AS e
JOIN offer_targets AS o ON o.business_type IS NOT DISTINCT FROM e.business_type
LEFT JOIN redeemed AS r ON r.customer_id = e.customer_id AND r.offer_id = o.offer_id
WHERE r.customer_id IS NULL
