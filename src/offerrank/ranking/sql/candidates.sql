-- candidates: plausible (customer, offer) pairs for one day.
-- grain: one row per (customer_id, offer_id); at most $max_per_customer rows per customer.
-- checks: offer active on $as_of; business type eligible; never an offer the customer
--         already redeemed before $as_of; only customers in candidate_scope.
-- Retrieval rules (a pair is kept when any holds):
--   history   the customer bought the offer's category (so also any offer on a product
--             they bought) in the lookback window [$window_start, $as_of)
--   popular   the offer is among the $popular_n most popular of the customer's segment
--             (business type), popularity = distinct buyers of its product in that segment
--   cold      the customer has no line in the window: the $cold_n most popular of the segment
-- Cap: per customer the best $max_per_customer by the prior
--   bought_product + 2 * category_share + discount_pct, then popularity, then offer_id.
WITH active AS (
    SELECT o.offer_id, o.product_id, p.category, o.target_business_type, o.discount_pct
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
), scoped_lines AS (
    SELECT l.* FROM lines l JOIN eligible e ON e.customer_id = l.customer_id
), cust_total AS (
    SELECT customer_id, COUNT(*) AS n_lines FROM scoped_lines GROUP BY customer_id
), cat_share AS (
    SELECT l.customer_id, l.category, CAST(COUNT(*) AS DOUBLE) / MAX(t.n_lines) AS share
    FROM scoped_lines l JOIN cust_total t ON t.customer_id = l.customer_id
    GROUP BY l.customer_id, l.category
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
), by_history AS (
    SELECT e.customer_id, e.business_type, a.offer_id, a.product_id, cs.share, a.discount_pct
    FROM eligible e
    JOIN cat_share cs ON cs.customer_id = e.customer_id
    JOIN active a ON a.category = cs.category
    WHERE a.target_business_type IS NULL OR a.target_business_type = e.business_type
), by_popularity AS (
    -- only offers outside the customer's categories: the others are in by_history
    SELECT e.customer_id, e.business_type, a.offer_id, a.product_id, 0.0 AS share,
           a.discount_pct
    FROM eligible e
    JOIN segment_rank r ON r.business_type = e.business_type
    JOIN active a ON a.offer_id = r.offer_id
    LEFT JOIN cust_total t ON t.customer_id = e.customer_id
    LEFT JOIN cat_share cs ON cs.customer_id = e.customer_id AND cs.category = a.category
    WHERE r.pop_rank <= CASE WHEN t.customer_id IS NULL THEN $cold_n ELSE $popular_n END
      AND cs.customer_id IS NULL
), retrieved AS (
    SELECT * FROM by_history
    UNION ALL
    SELECT * FROM by_popularity
), scored AS (
    SELECT r.customer_id, r.offer_id,
           CASE WHEN cp.customer_id IS NULL THEN 0 ELSE 1 END AS bought_product,
           r.share AS category_share,
           r.discount_pct,
           sr.pop_rank
    FROM retrieved r
    LEFT JOIN (SELECT DISTINCT customer_id, product_id FROM scoped_lines) cp
      ON cp.customer_id = r.customer_id AND cp.product_id = r.product_id
    LEFT JOIN segment_rank sr ON sr.business_type = r.business_type AND sr.offer_id = r.offer_id
    LEFT JOIN (
        SELECT DISTINCT customer_id, offer_id FROM redemptions WHERE redeemed_date < $as_of
    ) red ON red.customer_id = r.customer_id AND red.offer_id = r.offer_id
    WHERE red.customer_id IS NULL
), capped AS (
    SELECT customer_id, offer_id, bought_product, category_share, pop_rank,
           ROW_NUMBER() OVER (
               PARTITION BY customer_id
               ORDER BY bought_product + 2 * category_share + discount_pct DESC,
                        pop_rank, offer_id
           ) AS prior_rank
    FROM scored
)
SELECT customer_id, offer_id, bought_product, category_share, pop_rank
FROM capped
WHERE prior_rank <= $max_per_customer
ORDER BY customer_id, offer_id
