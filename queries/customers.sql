-- Customer metrics, R/F/M scores and segments.
-- Every block reads the normalised view rfm_order_lines (see rfm/sources.py)
-- or the tables built by earlier blocks.  Values are $parameters, never text.

-- name: line_groups_checked
-- Exact duplicate lines (same customer, order and hash of every input column)
-- collapse into one group with a count of copies.  One hash aggregate over the
-- lines: the price of checking for duplicates.
-- params: none
CREATE OR REPLACE TEMP VIEW rfm_line_groups AS
SELECT
    customer_id, order_id, line_hash,
    any_value(order_date) AS order_date,
    any_value(amount) AS amount,
    any_value(status) AS status,
    any_value(excluded) AS excluded,
    count(*) AS copies
FROM rfm_order_lines
GROUP BY customer_id, order_id, line_hash;

-- name: line_groups_unchecked
-- input.duplicates: unchecked, every line passes as its own group.
-- params: none
CREATE OR REPLACE TEMP VIEW rfm_line_groups AS
SELECT customer_id, order_id, line_hash, order_date, amount, status, excluded, 1 AS copies
FROM rfm_order_lines;

-- name: line_class_type
-- The class of an order table row as a small enum: a one-byte group key
-- where a text key cost 20 % of the build; comparisons with 'kept' still read.
-- params: none
CREATE TYPE IF NOT EXISTS rfm_line_class AS ENUM ('kept', 'null_customer_id', 'excluded_status');

-- name: build_orders
-- One scan of the order lines: lines of an order on one date are summed.
-- An order with lines on several dates (a later return or addition under the
-- same order id) keeps one row per date, so a line dated after as_of never
-- changes a score taken before it.  Duplicate copies count once with
-- $drop_duplicates, else every copy counts.  Lines are classed, not filtered,
-- so dropped rows can be counted afterwards without a second scan.  Kept
-- amounts are exact 4-decimal values (each line rounded once, as in
-- build_customer_totals), so sums do not depend on the order threads add
-- lines in.  The table does not depend on as_of: every as-of date reuses it.
-- params: drop_duplicates
CREATE OR REPLACE TEMP TABLE rfm_orders AS
WITH classed AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'null_customer_id'
            WHEN excluded THEN 'excluded_status'
            ELSE 'kept'
        END::rfm_line_class AS line_class
    FROM rfm_line_groups
),
lines AS (
    -- a kept line's amount as an exact 4-decimal value, as in build_customer_totals:
    -- both paths round every line once and decide purchase / return on that value
    SELECT
        customer_id, order_id, line_class, order_date, copies,
        CASE WHEN line_class = 'kept' THEN CAST(amount AS DECIMAL(18, 4)) END AS amount,
        CASE WHEN $drop_duplicates THEN 1 ELSE copies END AS weight
    FROM classed
)
SELECT
    customer_id,
    order_id,
    line_class,
    order_date,
    sum(copies) AS n_lines,
    sum(copies) - count(*) AS n_duplicate_lines,  -- cheaper than sum(copies - 1)
    CAST(coalesce(sum(amount * weight), 0) AS DECIMAL(18, 4)) AS net,
    CAST(coalesce(sum(amount * weight) FILTER (WHERE amount > 0), 0) AS DECIMAL(18, 4)) AS gross,
    CAST(coalesce(sum(amount * weight) FILTER (WHERE amount < 0), 0) AS DECIMAL(18, 4)) AS refunds,
    sum(copies) FILTER (WHERE amount < 0) AS n_return_lines,
    bool_or(amount >= 0) AS is_purchase
FROM lines
GROUP BY ALL;

-- name: line_stats
-- What was read and what was dropped, from the order table (not the lines).
-- params: as_of
SELECT
    coalesce(sum(n_lines), 0) AS lines_read,
    coalesce(sum(n_lines) FILTER (WHERE line_class = 'null_customer_id'), 0) AS null_customer_id_lines,
    coalesce(sum(n_lines) FILTER (WHERE line_class = 'excluded_status'), 0) AS excluded_status_lines,
    coalesce(sum(n_lines) FILTER (WHERE line_class = 'kept' AND order_date > $as_of), 0) AS after_as_of_lines,
    coalesce(sum(n_duplicate_lines), 0) AS duplicate_lines,
    coalesce(sum(n_return_lines) FILTER (WHERE line_class = 'kept' AND order_date <= $as_of), 0) AS return_lines
FROM rfm_orders;

-- name: spanning_orders
-- Orders whose kept lines carry more than one date (each date is a row).
-- params: none
SELECT count(*) AS orders
FROM (
    SELECT customer_id, order_id
    FROM rfm_orders
    WHERE line_class = 'kept'
    GROUP BY customer_id, order_id
    HAVING count(*) > 1
);

-- name: date_range
-- First and last date of the kept orders (the default as_of is the day after the last).
-- params: none
SELECT min(order_date) AS first_date, max(order_date) AS last_date
FROM rfm_orders
WHERE line_class = 'kept';

-- name: duplicate_example
-- One order holding exact duplicate lines, for the warning.
-- params: none
SELECT customer_id, order_id, n_duplicate_lines
FROM rfm_orders
WHERE n_duplicate_lines > 0
ORDER BY n_duplicate_lines DESC, customer_id, order_id
LIMIT 1;

-- name: build_customer_totals
-- The fast path of a single as-of run (input.duplicates: unchecked): one scan
-- of the lines, one hash aggregate per customer, no order table.  Every line
-- is classed by filters inside the aggregate, so dropped lines are counted in
-- the same pass: the NULL customer_id group holds the lines without customer,
-- excluded_lines the excluded statuses, after_as_of_lines the kept lines
-- dated after $as_of (NULL: no cut, the default as_of is known only after the
-- scan).  A purchase line (amount >= 0) makes its order a purchase on that
-- date, so first/last purchase dates and the distinct purchase order ids come
-- straight from the lines: the values customer_totals_from_orders derives
-- from the order table (a property test holds the two paths equal).  The
-- flags are computed once per line and the aggregate list kept short: every
-- aggregate costs about 5 % of the scan.  Amounts are summed as exact
-- 4-decimal values: the same output on every run and thread count.
-- params: as_of, window_start
CREATE OR REPLACE TEMP TABLE rfm_customer_totals AS
WITH lines AS (
    SELECT
        customer_id,
        order_id,
        order_date,
        -- only kept lines must fit DECIMAL(18, 4): a dropped line may hold anything
        CASE WHEN customer_id IS NOT NULL AND NOT excluded THEN CAST(amount AS DECIMAL(18, 4)) END AS amount,
        excluded,
        ($as_of IS NULL OR order_date <= $as_of) AS in_time,
        ($window_start IS NULL OR order_date >= $window_start) AS in_window
    FROM rfm_order_lines
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
    count(*) FILTER (WHERE excluded) AS excluded_lines,
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
SELECT
    coalesce(sum(n_lines), 0) AS lines_read,
    coalesce(sum(n_lines) FILTER (WHERE customer_id IS NULL), 0) AS null_customer_id_lines,
    coalesce(sum(excluded_lines) FILTER (WHERE customer_id IS NOT NULL), 0) AS excluded_status_lines,
    coalesce(sum(after_as_of_lines) FILTER (WHERE customer_id IS NOT NULL), 0) AS after_as_of_lines,
    0 AS duplicate_lines,
    coalesce(sum(return_lines) FILTER (WHERE customer_id IS NOT NULL), 0) AS return_lines,
    coalesce(sum(n_lines - excluded_lines - after_as_of_lines) FILTER (WHERE customer_id IS NOT NULL), 0)
        AS kept_lines,
    max(last_kept_date) FILTER (WHERE customer_id IS NOT NULL) AS last_date
FROM rfm_customer_totals;

-- name: customer_totals_from_orders
-- Per customer as of $as_of from the order table (the path every other run
-- takes: several as-of dates, churn, offers, reports, checked duplicates).
-- A purchase order has at least one line with amount >= 0; an order whose
-- lines are all negative is a return: it lowers net value but is not a visit.
-- Frequency and monetary use the orders on or after $window_start (NULL: all).
-- params: as_of, window_start
CREATE OR REPLACE TEMP TABLE rfm_customer_totals AS
WITH kept AS (
    SELECT
        customer_id, order_id, order_date, n_return_lines, gross, refunds, is_purchase,
        ($window_start IS NULL OR order_date >= $window_start) AS in_window
    FROM rfm_orders
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
-- from rfm_customer_totals (either path).  Net value = gross + refunds.
-- params: as_of, monetary
CREATE OR REPLACE TEMP TABLE rfm_customers AS
WITH totals AS (
    SELECT *, gross + refunds AS net
    FROM rfm_customer_totals
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
SELECT
    count(*) FILTER (WHERE return_lines > 0 AND first_order_date IS NULL) AS refund_only_customers,
    coalesce(sum(frequency), 0) AS purchase_orders
FROM rfm_customer_totals
WHERE customer_id IS NOT NULL;

-- name: fit_cut_points
-- Tie-safe quantile cut points (see README, "Scores").  For frequency and
-- monetary (higher is better) cut k is the smallest value v with
-- share(value <= v) >= k / bins; for recency_days (lower is better) the
-- largest d with share(recency_days > d) >= k / bins.  Integer arithmetic on
-- counts, so no float rounding decides a boundary.  A customer's score is then
-- 1 + floor(bins * share of customers strictly worse), equal values share it.
-- params: bins
WITH vals AS (
    SELECT 'recency_days' AS metric, CAST(recency_days AS DOUBLE) AS v, count(*) AS n FROM rfm_customers GROUP BY ALL
    UNION ALL
    SELECT 'frequency', CAST(frequency AS DOUBLE), count(*) FROM rfm_customers GROUP BY ALL
    UNION ALL
    SELECT 'monetary', monetary, count(*) FROM rfm_customers GROUP BY ALL
),
cum AS (
    SELECT
        metric, v,
        sum(n) OVER (PARTITION BY metric ORDER BY v) AS n_le,
        sum(n) OVER (PARTITION BY metric) AS total
    FROM vals
)
SELECT
    metric,
    k,
    CASE
        WHEN metric = 'recency_days'
            THEN coalesce(max(v) FILTER (WHERE (total - n_le) * $bins >= k * total), min(v) - 1)
        ELSE min(v) FILTER (WHERE n_le * $bins >= k * total)
    END AS cut
FROM cum CROSS JOIN range(1, $bins) AS t(k)
GROUP BY metric, k
ORDER BY metric, k;

-- name: score_bins
-- Size of every bin actually produced, per dimension.
-- params: none
SELECT 'recency_days' AS metric, r_score AS score, count(*) AS customers,
       min(recency_days)::DOUBLE AS min_value, max(recency_days)::DOUBLE AS max_value
FROM rfm_result GROUP BY ALL
UNION ALL
SELECT 'frequency', f_score, count(*), min(frequency), max(frequency) FROM rfm_result GROUP BY ALL
UNION ALL
SELECT 'monetary', m_score, count(*), min(monetary), max(monetary) FROM rfm_result GROUP BY ALL
ORDER BY metric, score;

-- name: build_result
-- Final customer table: metrics, scores, segment and action, one row per
-- customer in customer_id order (deterministic output).
-- Scores from cut points: each cut is the inclusive upper bound of its bin.
-- F and M: 1 + number of cuts below the value.  R: 1 + number of cuts at or
-- above recency_days (fewer days is better).  Segment and action are read
-- from the resolved grid passed as two lists in (r, f, m) order: a list
-- lookup per customer instead of a join.
-- params: as_of, bins, recency_cuts, frequency_cuts, monetary_cuts, segments, actions
CREATE OR REPLACE TEMP TABLE rfm_result AS
WITH s AS (
    SELECT
        c.*,
        CAST(1 + len(list_filter($recency_cuts, lambda x: c.recency_days <= x)) AS INTEGER) AS r_score,
        CAST(1 + len(list_filter($frequency_cuts, lambda x: c.frequency > x)) AS INTEGER) AS f_score,
        CAST(1 + len(list_filter($monetary_cuts, lambda x: c.monetary > x)) AS INTEGER) AS m_score
    FROM rfm_customers AS c
)
SELECT
    s.customer_id,
    s.first_order_date,
    s.last_order_date,
    s.recency_days,
    s.frequency,
    s.monetary,
    s.gross,
    s.refunds,
    s.net,
    s.aov,
    s.tenure_days,
    s.r_score,
    s.f_score,
    s.m_score,
    CASE WHEN $bins < 10
        THEN s.r_score::VARCHAR || s.f_score::VARCHAR || s.m_score::VARCHAR
        ELSE s.r_score::VARCHAR || '-' || s.f_score::VARCHAR || '-' || s.m_score::VARCHAR
    END AS rfm_cell,
    $segments[((s.r_score - 1) * $bins + s.f_score - 1) * $bins + s.m_score] AS segment,
    $actions[((s.r_score - 1) * $bins + s.f_score - 1) * $bins + s.m_score] AS action,
    s.net <= 0 AS nonpositive_value,
    CAST($as_of AS DATE) AS as_of
FROM s
ORDER BY s.customer_id;

-- name: segment_summary
-- Per segment: size, revenue (net value in the window) and typical metrics.
-- params: none
WITH totals AS (
    SELECT count(*) AS customers, sum(net) AS revenue FROM rfm_result
)
SELECT
    r.segment,
    any_value(r.action) AS action,
    count(*) AS customers,
    count(*) / any_value(t.customers) AS customer_share,
    sum(r.net) AS revenue,
    CASE WHEN any_value(t.revenue) <> 0 THEN sum(r.net) / any_value(t.revenue) END AS revenue_share,
    median(r.recency_days) AS median_recency_days,
    median(r.frequency) AS median_frequency,
    median(r.monetary) AS median_monetary,
    min(g.segment_order) AS segment_order
FROM rfm_result AS r
CROSS JOIN totals AS t
JOIN (SELECT DISTINCT segment, segment_order FROM rfm_segment_grid) AS g USING (segment)
GROUP BY r.segment
ORDER BY segment_order;
