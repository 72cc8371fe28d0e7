-- Report aggregates (see rfm/reporting/data.py).  Every chart is drawn from a
-- few rows computed here; no report embeds one row per customer beyond the
-- top-N previews.  The snapshot table keeps the report independent of later
-- re-scorings on the same connection (the churn report scores a second date).

-- name: report_source_live
-- The scores to report on are the connection's latest scoring.
-- params: none
CREATE OR REPLACE TEMP VIEW rfm_report_source AS SELECT * FROM rfm_result;

-- name: report_drop_source
-- params: none
DROP VIEW IF EXISTS rfm_report_source;

-- name: report_snapshot_with_churn
-- The customer table of the report (from rfm_report_source: the live rfm_result,
-- or the rows of an earlier scoring registered by rfm/reporting/data.py), with
-- net revenue in the $recent_days days ending at $as_of (for "revenue at risk").
-- params: as_of, recent_days
CREATE OR REPLACE TEMP TABLE rfm_report_customers AS
SELECT
    r.customer_id, r.first_order_date, r.last_order_date, r.recency_days, r.frequency, r.monetary, r.net,
    r.r_score, r.f_score, r.m_score, r.segment, r.action,
    r.p_alive, r.churn_risk, r.expected_orders, r.expected_aov, r.clv,
    coalesce(o.recent_revenue, 0) AS recent_revenue
FROM rfm_report_source AS r
LEFT JOIN (
    SELECT customer_id, CAST(sum(net) AS DOUBLE) AS recent_revenue
    FROM rfm_orders
    WHERE line_class = 'kept'
      AND order_date > CAST($as_of AS DATE) - CAST($recent_days AS INTEGER)
      AND order_date <= CAST($as_of AS DATE)
    GROUP BY customer_id
) AS o USING (customer_id);

-- name: report_snapshot_without_churn
-- As report_snapshot_with_churn when no churn model was scored: the churn
-- columns are NULL, so every later query reads the same columns.
-- params: as_of, recent_days
CREATE OR REPLACE TEMP TABLE rfm_report_customers AS
SELECT
    r.customer_id, r.first_order_date, r.last_order_date, r.recency_days, r.frequency, r.monetary, r.net,
    r.r_score, r.f_score, r.m_score, r.segment, r.action,
    CAST(NULL AS DOUBLE) AS p_alive, CAST(NULL AS DOUBLE) AS churn_risk, CAST(NULL AS DOUBLE) AS expected_orders,
    CAST(NULL AS DOUBLE) AS expected_aov, CAST(NULL AS DOUBLE) AS clv,
    coalesce(o.recent_revenue, 0) AS recent_revenue
FROM rfm_report_source AS r
LEFT JOIN (
    SELECT customer_id, CAST(sum(net) AS DOUBLE) AS recent_revenue
    FROM rfm_orders
    WHERE line_class = 'kept'
      AND order_date > CAST($as_of AS DATE) - CAST($recent_days AS INTEGER)
      AND order_date <= CAST($as_of AS DATE)
    GROUP BY customer_id
) AS o USING (customer_id);

-- name: report_no_offers
-- An empty offer table (no catalogue given): campaign lists keep their columns.
-- params: none
CREATE OR REPLACE TEMP TABLE rfm_report_offers AS
SELECT customer_id, CAST(NULL AS VARCHAR) AS next_best_offer, CAST(NULL AS DOUBLE) AS offer_fit,
       CAST(NULL AS VARCHAR) AS offer_reason
FROM rfm_report_customers
WHERE false;

-- name: report_offers
-- The next best offer per customer, from the frame registered as rfm_report_offers_in.
-- params: none
CREATE OR REPLACE TEMP TABLE rfm_report_offers AS
SELECT customer_id, CAST(next_best_offer AS VARCHAR) AS next_best_offer, CAST(offer_fit AS DOUBLE) AS offer_fit,
       CAST(reason AS VARCHAR) AS offer_reason
FROM rfm_report_offers_in;

-- name: report_headline
-- The headline figures: one row.  "Active" = last order within $active_days;
-- revenue at risk = recent revenue of customers weighted by 1 - p_alive.
-- params: active_days
SELECT
    count(*) AS customers,
    CAST(sum(net) AS DOUBLE) AS revenue,
    count(*) FILTER (WHERE recency_days <= $active_days) AS active_customers,
    CAST(sum(recent_revenue) AS DOUBLE) AS recent_revenue,
    sum(clv) AS clv,
    avg(churn_risk) AS mean_churn_risk,
    count(*) FILTER (WHERE p_alive < 0.5) AS likely_gone,
    sum(recent_revenue * (1 - p_alive)) AS revenue_at_risk
FROM rfm_report_customers;

-- name: report_segments
-- Per segment, in rule order (segments of the rule set with no customer are left out).
-- params: none
WITH totals AS (
    SELECT count(*) AS customers, sum(net) AS revenue FROM rfm_report_customers
), orders AS (
    SELECT DISTINCT segment, segment_order FROM rfm_report_grid
)
SELECT
    c.segment,
    any_value(c.action) AS action,
    count(*) AS customers,
    count(*) / any_value(t.customers) AS customer_share,
    CAST(sum(c.net) AS DOUBLE) AS revenue,
    CASE WHEN any_value(t.revenue) <> 0 THEN CAST(sum(c.net) / any_value(t.revenue) AS DOUBLE) END AS revenue_share,
    median(c.recency_days) AS median_recency_days,
    median(c.frequency) AS median_frequency,
    CAST(median(c.monetary) AS DOUBLE) AS median_monetary,
    CAST(avg(c.monetary) AS DOUBLE) AS mean_monetary,
    avg(c.churn_risk) AS mean_churn_risk,
    median(c.churn_risk) AS median_churn_risk,
    avg(CASE WHEN c.p_alive < 0.5 THEN 1.0 WHEN c.p_alive >= 0.5 THEN 0.0 END) AS likely_gone_share,
    sum(c.clv) AS clv,
    CAST(sum(c.recent_revenue) AS DOUBLE) AS recent_revenue,
    sum(c.recent_revenue * (1 - c.p_alive)) AS revenue_at_risk,
    min(o.segment_order) AS segment_order
FROM rfm_report_customers AS c
CROSS JOIN totals AS t
LEFT JOIN orders AS o USING (segment)
GROUP BY c.segment
ORDER BY segment_order, c.segment;

-- name: report_rf_grid
-- Every R x F cell ($bins squared rows, empty cells included): customers,
-- mean monetary value and revenue.
-- params: bins
WITH cells AS (
    SELECT CAST(r.range AS INTEGER) AS r_score, CAST(f.range AS INTEGER) AS f_score
    FROM range(1, $bins + 1) AS r CROSS JOIN range(1, $bins + 1) AS f
), agg AS (
    SELECT r_score, f_score, count(*) AS customers, CAST(avg(monetary) AS DOUBLE) AS mean_monetary,
           CAST(sum(net) AS DOUBLE) AS revenue
    FROM rfm_report_customers
    GROUP BY r_score, f_score
)
SELECT cells.r_score, cells.f_score, coalesce(agg.customers, 0) AS customers, agg.mean_monetary,
       coalesce(agg.revenue, 0) AS revenue
FROM cells LEFT JOIN agg USING (r_score, f_score)
ORDER BY cells.r_score DESC, cells.f_score;

-- name: report_rf_segments
-- The largest segment of every non-empty R x F cell, with its share of the cell.
-- params: none
SELECT r_score, f_score, segment, customers, customers / sum(customers) OVER (PARTITION BY r_score, f_score) AS cell_share
FROM (SELECT r_score, f_score, segment, count(*) AS customers FROM rfm_report_customers GROUP BY ALL)
QUALIFY row_number() OVER (PARTITION BY r_score, f_score ORDER BY customers DESC, segment) = 1
ORDER BY r_score DESC, f_score;

-- name: report_metric_ranges
-- Range and 1st / 99th percentiles of the plotted metrics, to choose histogram bins.
-- params: none
SELECT 'recency_days' AS metric, CAST(min(recency_days) AS DOUBLE) AS lo, CAST(max(recency_days) AS DOUBLE) AS hi,
       CAST(quantile_cont(recency_days, 0.01) AS DOUBLE) AS p01, CAST(quantile_cont(recency_days, 0.99) AS DOUBLE) AS p99
FROM rfm_report_customers
UNION ALL
SELECT 'frequency', min(frequency), max(frequency), quantile_cont(frequency, 0.01), quantile_cont(frequency, 0.99)
FROM rfm_report_customers
UNION ALL
SELECT 'monetary', min(monetary), max(monetary), quantile_cont(monetary, 0.01), quantile_cont(monetary, 0.99)
FROM rfm_report_customers;

-- name: report_histogram
-- Customers per bin k = floor((value - $lo) / $step), clipped to 0 .. $bins - 1
-- (the end bins hold the values beyond the plotted range).  $metric picks the
-- column: recency_days, frequency or monetary.
-- params: metric, lo, step, bins
WITH v AS (
    SELECT CASE $metric
        WHEN 'recency_days' THEN CAST(recency_days AS DOUBLE)
        WHEN 'frequency' THEN CAST(frequency AS DOUBLE)
        WHEN 'monetary' THEN CAST(monetary AS DOUBLE)
    END AS value
    FROM rfm_report_customers
)
SELECT CAST(least(greatest(floor((value - $lo) / $step), 0), $bins - 1) AS INTEGER) AS k, count(*) AS customers
FROM v
WHERE value IS NOT NULL
GROUP BY k
ORDER BY k;

-- name: report_actions
-- Per action: list size, revenue and expected value (CLV; NULL without churn).
-- params: none
SELECT
    action,
    count(*) AS customers,
    CAST(sum(net) AS DOUBLE) AS revenue,
    sum(clv) AS clv,
    avg(churn_risk) AS mean_churn_risk
FROM rfm_report_customers
GROUP BY action
ORDER BY action;

-- name: report_campaign_list
-- Every customer with action $action, most valuable first (CLV, else monetary),
-- with the next best offer when a catalogue was scored.
-- params: action
SELECT
    c.customer_id, c.segment, c.action, c.recency_days, c.frequency, c.monetary, c.net,
    c.r_score, c.f_score, c.m_score, c.last_order_date,
    c.churn_risk, c.p_alive, c.clv,
    o.next_best_offer, o.offer_fit, o.offer_reason
FROM rfm_report_customers AS c
LEFT JOIN rfm_report_offers AS o USING (customer_id)
WHERE c.action = $action
ORDER BY c.clv DESC NULLS LAST, c.monetary DESC NULLS LAST, c.customer_id;

-- name: report_action_offers
-- The $top most frequent next best offers among customers with action $action.
-- params: action, top
SELECT o.next_best_offer AS offer_id, count(*) AS customers, avg(o.offer_fit) AS mean_offer_fit
FROM rfm_report_customers AS c
JOIN rfm_report_offers AS o USING (customer_id)
WHERE c.action = $action AND o.next_best_offer IS NOT NULL
GROUP BY o.next_best_offer
ORDER BY customers DESC, offer_id
LIMIT $top;

-- name: report_snapshot_before
-- Segments at the earlier as-of date (the current rfm_result), for the migration matrix.
-- params: none
CREATE OR REPLACE TEMP TABLE rfm_report_before AS
SELECT customer_id, segment FROM rfm_result;

-- name: report_migration
-- Customers by (segment at the earlier date, segment now); from_segment is NULL
-- for customers whose first order came after the earlier date.
-- params: none
SELECT b.segment AS from_segment, c.segment AS to_segment, count(*) AS customers
FROM rfm_report_customers AS c
LEFT JOIN rfm_report_before AS b USING (customer_id)
GROUP BY ALL
ORDER BY ALL;
