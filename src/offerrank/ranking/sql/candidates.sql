-- candidates: plausible (customer, offer) pairs for one day.
-- grain: one row per (customer_id, offer_id); at most $max_per_customer rows per customer.
-- checks: offer active on $as_of; business type eligible; never an offer the customer
--         already redeemed before $as_of; only customers in candidate_scope.
-- Retrieval rules (a pair is kept when any holds):
--   product   the customer bought the offer's product in the lookback window
--   category  the customer bought the offer's category in the lookback window
--   popular   the offer is among the $popular_n most popular of the customer's segment
--             (business type), popularity = distinct buyers of its product in that segment
--   cold      the customer has no line in the window: the $cold_n most popular of the segment
WITH active AS (
    SELECT o.offer_id, o.product_id, p.category, o.target_business_type
    FROM offers o JOIN products p ON p.product_id = o.product_id
    WHERE o.start_date <= $as_of AND o.end_date >= $as_of
), eligible AS (
    SELECT c.customer_id, c.business_type
    FROM customers c JOIN candidate_scope s ON s.customer_id = c.customer_id
    WHERE c.signup_date IS NULL OR c.signup_date <= $as_of
), lines AS (
    SELECT o.customer_id, i.product_id, p.category
    FROM orders o
    JOIN order_items i ON i.order_id = o.order_id
    JOIN products p ON p.product_id = i.product_id
    WHERE o.order_date >= $window_start AND o.order_date < $as_of
), cust_total AS (
    SELECT customer_id, COUNT(*) AS n_lines FROM lines GROUP BY customer_id
), cust_cat AS (
    SELECT customer_id, category, COUNT(*) AS n_lines FROM lines GROUP BY customer_id, category
), cust_prod AS (
    SELECT DISTINCT customer_id, product_id FROM lines
), segment_buyers AS (
    SELECT c.business_type, l.product_id, COUNT(DISTINCT l.customer_id) AS buyers
    FROM lines l JOIN customers c ON c.customer_id = l.customer_id
    GROUP BY c.business_type, l.product_id
), segment_rank AS (
    SELECT seg.business_type, a.offer_id,
           ROW_NUMBER() OVER (PARTITION BY seg.business_type
                              ORDER BY COALESCE(b.buyers, 0) DESC, a.offer_id) AS pop_rank
    FROM (SELECT DISTINCT business_type FROM eligible) seg
    CROSS JOIN active a
    LEFT JOIN segment_buyers b
      ON b.business_type = seg.business_type AND b.product_id = a.product_id
    WHERE a.target_business_type IS NULL OR a.target_business_type = seg.business_type
), by_category AS (
    SELECT e.customer_id, a.offer_id
    FROM eligible e
    JOIN cust_cat cc ON cc.customer_id = e.customer_id
    JOIN active a ON a.category = cc.category
), by_popularity AS (
    SELECT e.customer_id, r.offer_id
    FROM eligible e
    JOIN segment_rank r ON r.business_type = e.business_type
    LEFT JOIN cust_total t ON t.customer_id = e.customer_id
    WHERE r.pop_rank <= CASE WHEN t.customer_id IS NULL THEN $cold_n ELSE $popular_n END
), retrieved AS (
    SELECT customer_id, offer_id FROM by_category
    UNION
    SELECT customer_id, offer_id FROM by_popularity
), scored AS (
    SELECT r.customer_id, r.offer_id,
           CASE WHEN cp.product_id IS NULL THEN 0 ELSE 1 END AS bought_product,
           COALESCE(CAST(cc.n_lines AS DOUBLE) / t.n_lines, 0.0) AS category_share,
           COALESCE(sr.pop_rank, 1000000) AS pop_rank
    FROM retrieved r
    JOIN eligible e ON e.customer_id = r.customer_id
    JOIN active a ON a.offer_id = r.offer_id
    LEFT JOIN cust_total t ON t.customer_id = r.customer_id
    LEFT JOIN cust_cat cc ON cc.customer_id = r.customer_id AND cc.category = a.category
    LEFT JOIN cust_prod cp ON cp.customer_id = r.customer_id AND cp.product_id = a.product_id
    LEFT JOIN segment_rank sr ON sr.business_type = e.business_type AND sr.offer_id = r.offer_id
    LEFT JOIN (
        SELECT DISTINCT customer_id, offer_id FROM redemptions WHERE redeemed_date < $as_of
    ) red ON red.customer_id = r.customer_id AND red.offer_id = r.offer_id
    WHERE (a.target_business_type IS NULL OR a.target_business_type = e.business_type)
      AND red.customer_id IS NULL
), capped AS (
    SELECT customer_id, offer_id, bought_product, category_share, pop_rank,
           ROW_NUMBER() OVER (PARTITION BY customer_id
                              ORDER BY bought_product DESC, category_share DESC,
                                       pop_rank, offer_id) AS prior_rank
    FROM scored
)
SELECT customer_id, offer_id, bought_product, category_share, pop_rank
FROM capped
WHERE prior_rank <= $max_per_customer
ORDER BY customer_id, offer_id
