-- The order table: one scan of the order lines into one row per order and
-- date, as-of independent, read by every run that needs more than one view of
-- the orders (churn, offers, reports, backtests, several as-of dates, the
-- duplicate check).  {lines} is the normalised order-line view (rfm/inputs).
-- Values are $parameters, never text; tables are {placeholders} the engine fills.

-- name: line_groups_checked
-- Exact duplicate lines (same customer, order and hash of every input column)
-- collapse into one group with a count of copies.  One hash aggregate over the
-- lines: the price of checking for duplicates.
-- params: none
-- tables: lines
SELECT
    customer_id, order_id, line_hash,
    any_value(order_date) AS order_date,
    any_value(amount) AS amount,
    any_value(status) AS status,
    any_value(excluded) AS excluded,
    any_value(bad_date) AS bad_date,
    count(*) AS copies
FROM {lines}
GROUP BY customer_id, order_id, line_hash;

-- name: line_groups_unchecked
-- input.duplicates: unchecked, every line passes as its own group.
-- params: none
-- tables: lines
SELECT customer_id, order_id, line_hash, order_date, amount, status, excluded, bad_date, 1 AS copies
FROM {lines};

-- name: line_class_type
-- The class of an order table row as a small enum: a one-byte group key
-- where a text key cost 20 % of the build; comparisons with 'kept' still read.
-- params: none
CREATE TYPE IF NOT EXISTS rfm_line_class AS ENUM ('kept', 'null_customer_id', 'excluded_status', 'bad_date');

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
-- tables: groups
WITH classed AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'null_customer_id'
            WHEN bad_date THEN 'bad_date'
            WHEN excluded THEN 'excluded_status'
            ELSE 'kept'
        END::rfm_line_class AS line_class
    FROM {groups}
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
-- tables: orders
SELECT
    coalesce(sum(n_lines), 0) AS lines_read,
    coalesce(sum(n_lines) FILTER (WHERE line_class = 'null_customer_id'), 0) AS null_customer_id_lines,
    coalesce(sum(n_lines) FILTER (WHERE line_class = 'excluded_status'), 0) AS excluded_status_lines,
    coalesce(sum(n_lines) FILTER (WHERE line_class = 'bad_date'), 0) AS bad_date_lines,
    coalesce(sum(n_lines) FILTER (WHERE line_class = 'kept' AND order_date > $as_of), 0) AS after_as_of_lines,
    coalesce(sum(n_duplicate_lines), 0) AS duplicate_lines,
    coalesce(sum(n_return_lines) FILTER (WHERE line_class = 'kept' AND order_date <= $as_of), 0) AS return_lines
FROM {orders};

-- name: spanning_orders
-- Orders whose kept lines carry more than one date (each date is a row).
-- params: none
-- tables: orders
SELECT count(*) AS orders
FROM (
    SELECT customer_id, order_id
    FROM {orders}
    WHERE line_class = 'kept'
    GROUP BY customer_id, order_id
    HAVING count(*) > 1
);

-- name: date_range
-- First and last date of the kept orders (the default as_of is the day after the last).
-- params: none
-- tables: orders
SELECT min(order_date) AS first_date, max(order_date) AS last_date
FROM {orders}
WHERE line_class = 'kept';

-- name: duplicate_example
-- One order holding exact duplicate lines, for the warning.
-- params: none
-- tables: orders
SELECT customer_id, order_id, n_duplicate_lines
FROM {orders}
WHERE n_duplicate_lines > 0
ORDER BY n_duplicate_lines DESC, customer_id, order_id
LIMIT 1;
