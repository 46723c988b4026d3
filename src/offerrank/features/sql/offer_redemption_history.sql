-- offer_redemption_history: how the offer and its campaign have redeemed so far (extras).
-- Grain: one row per requested row (row_id unique); values depend on offer and as_of.
-- Parameters: $label_window (a label is mature as of T when shown_date + label_window < T).
-- Rule: a campaign is the offers that start on the same day. Over mature impressions shown
--   in [T - 364, T): offer_redemption_rate = (positives + 20 * g) / (impressions + 20) of
--   the offer's own, cohort_redemption_rate the same over its campaign's, g the positive
--   rate of all of them (0 if none); offer_age_days = T - start_date.
-- Checks: never null; only labels mature before the row's own as_of count.
WITH asked AS (
    SELECT DISTINCT q.offer_id, CAST(o.start_date - DATE '1970-01-01' AS INT) AS start_day,
        CAST(CAST(q.as_of AS DATE) - DATE '1970-01-01' AS INT) AS as_of_day
    FROM query_pairs AS q LEFT JOIN offers AS o ON o.offer_id = q.offer_id
),

labelled AS (
    SELECT l.offer_id, CAST(o.start_date - DATE '1970-01-01' AS INT) AS start_day,
        CAST(l.shown_date - DATE '1970-01-01' AS INT) AS day_number, l.label
    FROM impression_labels AS l
    JOIN offers AS o ON o.offer_id = l.offer_id
),

everyone AS (
    SELECT day_number, COUNT(*) AS n_shown, SUM(label) AS n_positive FROM labelled
    GROUP BY day_number
),

campaigns AS (
    SELECT start_day, day_number, COUNT(*) AS n_shown, SUM(label) AS n_positive
    FROM labelled WHERE start_day IN (SELECT start_day FROM asked)
    GROUP BY start_day, day_number
),

own AS (
    SELECT offer_id, day_number, COUNT(*) AS n_shown, SUM(label) AS n_positive
    FROM labelled WHERE offer_id IN (SELECT offer_id FROM asked)
    GROUP BY offer_id, day_number
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

offer_sums AS (
    SELECT a.offer_id, a.as_of_day, SUM(d.n_shown) AS n_shown, SUM(d.n_positive) AS n_positive
    FROM asked AS a
    LEFT JOIN own AS d
        ON d.offer_id = a.offer_id
        AND d.day_number >= a.as_of_day - 364 AND d.day_number < a.as_of_day - $label_window
    GROUP BY a.offer_id, a.as_of_day
),

cohort_sums AS (
    SELECT a.start_day, a.as_of_day, SUM(d.n_shown) AS n_shown, SUM(d.n_positive) AS n_positive
    FROM (SELECT DISTINCT start_day, as_of_day FROM asked) AS a
    LEFT JOIN campaigns AS d
        ON d.start_day = a.start_day
        AND d.day_number >= a.as_of_day - 364 AND d.day_number < a.as_of_day - $label_window
    GROUP BY a.start_day, a.as_of_day
)

SELECT
    q.row_id,
    (COALESCE(o.n_positive, 0) + 20.0 * p.g) / (COALESCE(o.n_shown, 0) + 20.0)
        AS offer_redemption_rate,
    (COALESCE(c.n_positive, 0) + 20.0 * p.g) / (COALESCE(c.n_shown, 0) + 20.0)
        AS cohort_redemption_rate,
    CAST(COALESCE(a.as_of_day - a.start_day, 0) AS DOUBLE) AS offer_age_days
FROM query_pairs AS q
JOIN asked AS a
    ON a.offer_id = q.offer_id
    AND a.as_of_day = CAST(CAST(q.as_of AS DATE) - DATE '1970-01-01' AS INT)
JOIN prior AS p ON p.as_of_day = a.as_of_day
JOIN offer_sums AS o ON o.offer_id = a.offer_id AND o.as_of_day = a.as_of_day
LEFT JOIN cohort_sums AS c ON c.start_day = a.start_day AND c.as_of_day = a.as_of_day
