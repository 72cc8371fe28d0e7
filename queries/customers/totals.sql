-- Per-customer totals as of a date, by one of two routes to the same numbers
-- (a property test holds them equal), then one row per scored customer.

-- name: build_customer_totals
-- The one-scan route of a single as-of run (input.duplicates: unchecked, no
-- order table yet): one scan of the lines, one hash aggregate per customer.
-- Every line is classed by filters inside the aggregate, so dropped lines are
-- counted in the same pass: the NULL customer_id group holds the lines without
-- customer, excluded_lines the excluded statuses, after_as_of_lines the kept
-- lines dated after $as_of (NULL: no cut, the default as_of is known only
-- after the scan).  A purchase line (amount >= 0) makes its order a purchase
-- on that date, so first/last purchase dates and the distinct purchase order
-- ids come straight from the lines: the values customer_totals_from_orders
-- derives from the order table.  The flags are computed once per line and
-- the aggregate list kept short: every aggregate costs about 5 % of the scan.
-- Amounts are summed as exact 4-decimal values: the same output on every run
-- and thread count.
-- params: as_of, window_start
-- tables: lines
WITH lines AS (
    SELECT
        customer_id,
        order_id,
        order_date,
        -- only kept lines must fit DECIMAL(18, 4): a dropped line may hold anything
        CASE WHEN customer_id IS NOT NULL AND NOT excluded THEN CAST(amount AS DECIMAL(18, 4)) END AS amount,
        excluded,
        bad_date,
        ($as_of IS NULL OR order_date <= $as_of) AS in_time,
        ($window_start IS NULL OR order_date >= $window_start) AS in_window
    FROM {lines}
),
flags AS (
    SELECT
        *,
        NOT excluded AND in_time AS kept,
        NOT excluded AND in_time AND amount >= 0 AS purchase,
        NOT excluded AND in_time AND in_window AS counted
    FROM lines
)
SELECT
    customer_id,
    count(*) AS n_lines,
    count(*) FILTER (WHERE excluded AND NOT bad_date) AS excluded_lines,
    count(*) FILTER (WHERE bad_date) AS bad_date_lines,
    count(*) FILTER (WHERE NOT excluded AND NOT in_time) AS after_as_of_lines,
    count(*) FILTER (WHERE kept AND amount < 0) AS return_lines,
    max(order_date) FILTER (WHERE NOT excluded) AS last_kept_date,
    min(order_date) FILTER (WHERE purchase) AS first_order_date,
    max(order_date) FILTER (WHERE purchase) AS last_order_date,
    count(DISTINCT order_id) FILTER (WHERE purchase AND in_window) AS frequency,
    coalesce(sum(amount) FILTER (WHERE counted AND amount > 0), 0) AS gross,
    coalesce(sum(amount) FILTER (WHERE counted AND amount < 0), 0) AS refunds
FROM flags
GROUP BY customer_id;

-- name: totals_stats
-- What build_customer_totals read and dropped, and the last kept date.
-- params: none
-- tables: totals
SELECT
    coalesce(sum(n_lines), 0) AS lines_read,
    coalesce(sum(n_lines) FILTER (WHERE customer_id IS NULL), 0) AS null_customer_id_lines,
    coalesce(sum(excluded_lines) FILTER (WHERE customer_id IS NOT NULL), 0) AS excluded_status_lines,
    coalesce(sum(bad_date_lines) FILTER (WHERE customer_id IS NOT NULL), 0) AS bad_date_lines,
    coalesce(sum(after_as_of_lines) FILTER (WHERE customer_id IS NOT NULL), 0) AS after_as_of_lines,
    0 AS duplicate_lines,
    coalesce(sum(return_lines) FILTER (WHERE customer_id IS NOT NULL), 0) AS return_lines,
    coalesce(sum(n_lines - excluded_lines - bad_date_lines - after_as_of_lines) FILTER (WHERE customer_id IS NOT NULL), 0)
        AS kept_lines,
    max(last_kept_date) FILTER (WHERE customer_id IS NOT NULL) AS last_date
FROM {totals};

-- name: customer_totals_from_orders
-- Per customer as of $as_of from the order table (the route every other run
-- takes: several as-of dates, churn, offers, reports, checked duplicates).
-- A purchase order has at least one line with amount >= 0; an order whose
-- lines are all negative is a return: it lowers net value but is not a visit.
-- Frequency and monetary use the orders on or after $window_start (NULL: all).
-- Frequency counts rows: exact when no order's lines carry several dates
-- (one row per order), three times cheaper than count(DISTINCT order_id);
-- orders spanning dates take customer_totals_from_spanning_orders.
-- params: as_of, window_start
-- tables: orders
WITH kept AS (
    SELECT
        customer_id, order_id, order_date, n_return_lines, gross, refunds, is_purchase,
        ($window_start IS NULL OR order_date >= $window_start) AS in_window
    FROM {orders}
    WHERE line_class = 'kept' AND order_date <= $as_of
)
SELECT
    customer_id,
    coalesce(sum(n_return_lines), 0) AS return_lines,
    min(order_date) FILTER (WHERE is_purchase) AS first_order_date,
    max(order_date) FILTER (WHERE is_purchase) AS last_order_date,
    count(*) FILTER (WHERE is_purchase AND in_window) AS frequency,
    coalesce(sum(CAST(gross AS DECIMAL(18, 4))) FILTER (WHERE in_window), 0) AS gross,
    coalesce(sum(CAST(refunds AS DECIMAL(18, 4))) FILTER (WHERE in_window), 0) AS refunds
FROM kept
GROUP BY customer_id;

-- name: customer_totals_from_spanning_orders
-- As customer_totals_from_orders when some order's lines carry several dates
-- (one row per date): such an order counts once, on each date its lines have.
-- params: as_of, window_start
-- tables: orders
WITH kept AS (
    SELECT
        customer_id, order_id, order_date, n_return_lines, gross, refunds, is_purchase,
        ($window_start IS NULL OR order_date >= $window_start) AS in_window
    FROM {orders}
    WHERE line_class = 'kept' AND order_date <= $as_of
)
SELECT
    customer_id,
    coalesce(sum(n_return_lines), 0) AS return_lines,
    min(order_date) FILTER (WHERE is_purchase) AS first_order_date,
    max(order_date) FILTER (WHERE is_purchase) AS last_order_date,
    count(DISTINCT order_id) FILTER (WHERE is_purchase AND in_window) AS frequency,
    coalesce(sum(CAST(gross AS DECIMAL(18, 4))) FILTER (WHERE in_window), 0) AS gross,
    coalesce(sum(CAST(refunds AS DECIMAL(18, 4))) FILTER (WHERE in_window), 0) AS refunds
FROM kept
GROUP BY customer_id;

-- name: build_customers
-- One row per customer with at least one purchase order on or before $as_of,
-- from the totals (either route).  Net value = gross + refunds.
-- params: as_of, monetary
-- tables: totals
WITH totals AS (
    SELECT *, gross + refunds AS net
    FROM {totals}
    WHERE customer_id IS NOT NULL AND first_order_date IS NOT NULL
)
SELECT
    customer_id,
    first_order_date,
    last_order_date,
    CAST(date_diff('day', last_order_date, CAST($as_of AS DATE)) AS INTEGER) AS recency_days,
    CAST(frequency AS INTEGER) AS frequency,
    CAST(
        CASE $monetary
            WHEN 'gross' THEN gross
            WHEN 'aov' THEN CASE WHEN frequency > 0 THEN net / frequency ELSE 0 END
            ELSE net
        END AS DOUBLE
    ) AS monetary,
    CAST(gross AS DOUBLE) AS gross,
    CAST(refunds AS DOUBLE) AS refunds,
    CAST(net AS DOUBLE) AS net,
    CAST(CASE WHEN frequency > 0 THEN net / frequency END AS DOUBLE) AS aov,
    CAST(date_diff('day', first_order_date, CAST($as_of AS DATE)) AS INTEGER) AS tenure_days
FROM totals;

-- name: refund_only_customers
-- Customers with kept lines on or before as_of but no purchase order: not
-- scored, counted.  Also the orders counted in frequency, summed.
-- params: none
-- tables: totals
SELECT
    count(*) FILTER (WHERE return_lines > 0 AND first_order_date IS NULL) AS refund_only_customers,
    coalesce(sum(frequency), 0) AS purchase_orders
FROM {totals}
WHERE customer_id IS NOT NULL;
