-- customer_redemption_history: the customer's own coupon history as of T (extra features).
-- Grain: one row per requested row (row_id unique); values depend on customer and as_of.
-- Parameters: $label_window (a label is mature as of T when shown_date + label_window < T).
-- Rule, over the 364 days before T: customer_redemptions = c's redemptions dated in
--   [T - 364, T); days_since_last_redemption = T minus the latest of them (365 if none);
--   customer_redemption_rate = (positives + 20 * g) / (impressions + 20) over c's mature
--   impressions shown in [T - 364, T), g the positive rate of all customers' (0 if none);
--   customer_recent_impressions = c's impressions shown in [T - 7, T).
-- Checks: never null; only events dated before the row's own as_of count.
WITH asked AS (
    SELECT DISTINCT customer_id, CAST(CAST(as_of AS DATE) - DATE '1970-01-01' AS INT) AS as_of_day
    FROM query_pairs
),

redeemed AS (
    SELECT customer_id, CAST(redeemed_date - DATE '1970-01-01' AS INT) AS day_number
    FROM redemptions WHERE customer_id IN (SELECT customer_id FROM asked)
),

shown AS (
    SELECT customer_id, CAST(shown_date - DATE '1970-01-01' AS INT) AS day_number,
        COUNT(*) AS n_shown, SUM(label) AS n_positive
    FROM impression_labels WHERE customer_id IN (SELECT customer_id FROM asked)
    GROUP BY customer_id, shown_date
),

everyone AS (
    SELECT CAST(shown_date - DATE '1970-01-01' AS INT) AS day_number,
        COUNT(*) AS n_shown, SUM(label) AS n_positive
    FROM impression_labels
    GROUP BY shown_date
),

prior AS (
    SELECT a.as_of_day,
        CASE WHEN SUM(d.n_shown) > 0 THEN CAST(SUM(d.n_positive) AS DOUBLE) / SUM(d.n_shown)
            ELSE 0.0 END AS g
    FROM (SELECT DISTINCT as_of_day FROM asked) AS a
    LEFT JOIN everyone AS d
        ON d.day_number >= a.as_of_day - 364 AND d.day_number < a.as_of_day - $label_window
    GROUP BY a.as_of_day
),

history AS (
    SELECT a.customer_id, a.as_of_day,
        COUNT(x.day_number) AS n_redeemed, MAX(x.day_number) AS last_day
    FROM asked AS a
    LEFT JOIN redeemed AS x
        ON x.customer_id = a.customer_id
        AND x.day_number >= a.as_of_day - 364 AND x.day_number < a.as_of_day
    GROUP BY a.customer_id, a.as_of_day
),

seen AS (
    SELECT a.customer_id, a.as_of_day,
        SUM(CASE WHEN x.day_number < a.as_of_day - $label_window THEN x.n_shown END) AS n_mature,
        SUM(CASE WHEN x.day_number < a.as_of_day - $label_window THEN x.n_positive END)
            AS n_positive,
        SUM(CASE WHEN x.day_number >= a.as_of_day - 7 THEN x.n_shown END) AS n_recent
    FROM asked AS a
    LEFT JOIN shown AS x
        ON x.customer_id = a.customer_id
        AND x.day_number >= a.as_of_day - 364 AND x.day_number < a.as_of_day
    GROUP BY a.customer_id, a.as_of_day
)

SELECT
    q.row_id,
    CAST(h.n_redeemed AS DOUBLE) AS customer_redemptions,
    CAST(COALESCE(h.as_of_day - h.last_day, 365) AS DOUBLE) AS days_since_last_redemption,
    (COALESCE(s.n_positive, 0) + 20.0 * p.g) / (COALESCE(s.n_mature, 0) + 20.0)
        AS customer_redemption_rate,
    CAST(COALESCE(s.n_recent, 0) AS DOUBLE) AS customer_recent_impressions
FROM query_pairs AS q
JOIN history AS h
    ON h.customer_id = q.customer_id
    AND h.as_of_day = CAST(CAST(q.as_of AS DATE) - DATE '1970-01-01' AS INT)
JOIN seen AS s ON s.customer_id = h.customer_id AND s.as_of_day = h.as_of_day
JOIN prior AS p ON p.as_of_day = h.as_of_day
