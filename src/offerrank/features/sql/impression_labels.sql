-- impression_labels: whether each impression led to a redemption within the label window.
-- Grain: one row per impression (impression_id unique).
-- Parameters: $label_window (days after shown_date a redemption still counts, 7 by contract).
-- Rule: label = 1 when the same customer redeemed the same offer on a day r with
--       shown_date <= r <= shown_date + label_window, else 0.
-- Checks: row count = impressions; label in (0, 1); never null.
WITH redeemed AS (
    SELECT DISTINCT i.impression_id
    FROM impressions AS i
    JOIN redemptions AS r
        ON r.customer_id = i.customer_id
        AND r.offer_id = i.offer_id
        AND r.redeemed_date >= i.shown_date
        AND CAST(r.redeemed_date - DATE '1970-01-01' AS INT)
            <= CAST(i.shown_date - DATE '1970-01-01' AS INT) + $label_window
)
SELECT
    i.impression_id,
    i.customer_id,
    i.offer_id,
    i.shown_date,
    CASE WHEN d.impression_id IS NULL THEN 0 ELSE 1 END AS label
FROM impressions AS i
LEFT JOIN redeemed AS d ON d.impression_id = i.impression_id
