-- Backtest: what happened after the calibration end (see rfm/churn/_backtest.py).

-- name: holdout_actuals
-- Per customer scored at the calibration end: purchase days (transactions, the
-- models' unit) and net revenue in the holdout ($start, $end], from the order table.
-- params: start, end
-- tables: scores, orders
SELECT
    r.customer_id,
    coalesce(h.transactions, 0) AS actual_orders,
    coalesce(h.revenue, 0) AS actual_revenue
FROM {scores} AS r
LEFT JOIN (
    SELECT
        customer_id,
        count(DISTINCT order_date) FILTER (WHERE is_purchase) AS transactions,
        CAST(sum(CAST(net AS DECIMAL(18, 4))) AS DOUBLE) AS revenue
    FROM {orders}
    WHERE line_class = 'kept' AND order_date > $start AND order_date <= $end
    GROUP BY customer_id
) AS h USING (customer_id)
ORDER BY r.customer_id;

-- name: calibration_repeats
-- Repeat purchase days in the calibration period per customer (x of BG/NBD).
-- params: as_of
-- tables: orders
SELECT customer_id, CAST(count(DISTINCT order_date) - 1 AS INTEGER) AS x
FROM {orders}
WHERE line_class = 'kept' AND is_purchase AND order_date <= $as_of
GROUP BY customer_id
ORDER BY customer_id;
