-- customer_entropy: Shannon entropy (natural log) of each customer's lines over product
--   categories inside W = [T - L, T), from the per-category counts of category_window.
-- Grain: one row per (customer_id, as_of_day) with at least one line in W; a customer
--   absent here has entropy 0.
-- Checks: 0 <= category_entropy <= ln(number of categories); exactly 0 for one category.
WITH shares AS (
    SELECT
        customer_id,
        as_of_day,
        CAST(n_lines AS DOUBLE) / SUM(n_lines) OVER (PARTITION BY customer_id, as_of_day)
            AS share
    FROM category_window
    WHERE n_lines > 0
)

SELECT
    customer_id,
    as_of_day,
    -- exact DECIMAL sum, so that the result does not depend on thread order
    -CAST(SUM(CAST(share * LN(share) AS DECIMAL(38, 18))) AS DOUBLE) AS category_entropy
FROM shares
GROUP BY customer_id, as_of_day
