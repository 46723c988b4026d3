-- offer_history: smoothed historical redemption rate of each requested product as of T.
-- Grain: one row per distinct requested (product_id, as_of_day).
-- Parameters: $label_window (days; an impression's label is mature as of T when
--   shown_date + label_window < T, and then only uses redemptions dated before T).
-- Rule: (positives + 20 * g) / (impressions + 20) over mature impressions of any offer on
--   the product, g = positive rate of all mature impressions as of T (0 if none).
-- Method: daily counts unioned with query rows at T - label_window; a frame of every
--   earlier day (UNBOUNDED PRECEDING AND 1 PRECEDING) keeps shown_day < T - label_window.
-- Checks: rate in [0, 1]; never null.
WITH labelled AS (
    SELECT
        o.product_id,
        CAST(l.shown_date - DATE '1970-01-01' AS INT) AS shown_day,
        l.label
    FROM impression_labels AS l
    JOIN offers AS o ON o.offer_id = l.offer_id
),

queries AS (
    SELECT DISTINCT product_id, as_of_day FROM offer_keys WHERE product_id IS NOT NULL
),

product_days AS (
    SELECT d.product_id, d.shown_day, COUNT(*) AS n_shown, SUM(d.label) AS n_positive
    FROM labelled AS d
    WHERE d.product_id IN (SELECT product_id FROM queries)
    GROUP BY d.product_id, d.shown_day
),

global_days AS (
    SELECT shown_day, COUNT(*) AS n_shown, SUM(label) AS n_positive
    FROM labelled
    GROUP BY shown_day
),

product_mature AS (
    SELECT product_id, day_number + $label_window AS as_of_day, is_query,
        SUM(n_shown) OVER w AS n_shown,
        SUM(n_positive) OVER w AS n_positive
    FROM (
        SELECT product_id, shown_day AS day_number, 0 AS is_query, n_shown, n_positive
        FROM product_days
        UNION ALL
        SELECT product_id, as_of_day - $label_window, 1, 0, 0 FROM queries
    ) AS events
    WINDOW w AS (
        PARTITION BY product_id ORDER BY day_number
        RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    )
),

global_mature AS (
    SELECT day_number + $label_window AS as_of_day, is_query,
        SUM(n_shown) OVER w AS n_shown,
        SUM(n_positive) OVER w AS n_positive
    FROM (
        SELECT shown_day AS day_number, 0 AS is_query, n_shown, n_positive FROM global_days
        UNION ALL
        SELECT DISTINCT as_of_day - $label_window, 1, 0, 0 FROM queries
    ) AS events
    WINDOW w AS (ORDER BY day_number RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),

prior AS (
    SELECT
        as_of_day,
        CASE WHEN COALESCE(n_shown, 0) > 0 THEN CAST(n_positive AS DOUBLE) / n_shown ELSE 0.0 END
            AS global_rate
    FROM global_mature
    WHERE is_query = 1
)

SELECT
    p.product_id,
    p.as_of_day,
    (COALESCE(p.n_positive, 0) + 20.0 * g.global_rate) / (COALESCE(p.n_shown, 0) + 20.0)
        AS historical_redemption_rate
FROM product_mature AS p
JOIN prior AS g ON g.as_of_day = p.as_of_day
WHERE p.is_query = 1
