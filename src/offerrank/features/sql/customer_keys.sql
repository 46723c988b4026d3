-- customer_keys: the distinct (customer, as_of) the requested rows ask about.
-- Grain: one row per distinct (customer_id, as_of_day).
-- Input: query_pairs(row_id, customer_id, offer_id, as_of), registered by the caller.
-- Checks: as_of_day = days since 1970-01-01 of as_of.
SELECT DISTINCT
    customer_id,
    CAST(CAST(as_of AS DATE) - DATE '1970-01-01' AS INT) AS as_of_day
FROM query_pairs
