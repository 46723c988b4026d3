-- customer_lines: order lines of customer_orders, with what the features need of the product.
-- Grain: one row per order line (order_items has no key; a repeated line stays repeated);
--   only the columns the daily aggregates read (a narrow table is cheaper to materialise).
-- Checks: every line's order is in customer_orders; amount = quantity * unit_price;
--   usual_discount = max(0, 1 - unit_price / list_price) (list_price > 0 by contract).
SELECT
    o.customer_id,
    o.day_number,
    i.product_id,
    p.category,
    p.price_tier,
    p.is_fresh,
    i.quantity,
    i.quantity * i.unit_price AS amount,
    i.is_promo,
    GREATEST(0.0, 1.0 - i.unit_price / p.list_price) AS usual_discount
FROM order_items AS i
JOIN customer_orders AS o ON o.order_id = i.order_id
LEFT JOIN products AS p ON p.product_id = i.product_id
