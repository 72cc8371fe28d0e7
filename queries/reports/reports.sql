-- Report aggregates (see rfm/reporting/_data.py).  Every chart is drawn from a
-- few rows computed here; no report embeds one row per customer beyond the
-- top-N previews.  {customers} is the report's snapshot of one scoring
-- (snapshot below), {grid} the segment grid, {offers} the next best offers.

-- name: snapshot
-- The customer table of the report: the scores ({scores}) with their churn
-- columns ({churn}: NULL when no churn step ran) and net revenue in the
-- $recent_days days ending at $as_of (the recent revenue beside the revenue at risk).
-- params: as_of, recent_days
-- tables: scores, churn, orders
SELECT
    r.customer_id, r.first_order_date, r.last_order_date, r.recency_days, r.frequency, r.monetary, r.net,
    r.r_score, r.f_score, r.m_score, r.segment, r.action,
    k.p_alive, k.churn_risk, k.expected_orders, k.expected_aov, k.clv,
    coalesce(o.recent_revenue, 0) AS recent_revenue
FROM {scores} AS r
LEFT JOIN {churn} AS k USING (customer_id)
LEFT JOIN (
    SELECT customer_id, CAST(sum(net) AS DOUBLE) AS recent_revenue
    FROM {orders}
    WHERE line_class = 'kept'
      AND order_date > CAST($as_of AS DATE) - CAST($recent_days AS INTEGER)
      AND order_date <= CAST($as_of AS DATE)
    GROUP BY customer_id
) AS o USING (customer_id);

-- name: no_offers
-- An empty offer table (no catalogue given): campaign lists keep their columns.
-- params: none
-- tables: customers
SELECT customer_id, CAST(NULL AS VARCHAR) AS next_best_offer, CAST(NULL AS DOUBLE) AS offer_fit,
       CAST(NULL AS VARCHAR) AS offer_reason
FROM {customers}
WHERE false;

-- name: offers
-- The next best offer per customer, from the offer step's best table ({best}).
-- params: none
-- tables: best
SELECT customer_id, CAST(next_best_offer AS VARCHAR) AS next_best_offer, CAST(offer_fit AS DOUBLE) AS offer_fit,
       CAST(reason AS VARCHAR) AS offer_reason
FROM {best};

-- name: headline
-- The headline figures: one row.  "Active" = last order within $active_days;
-- revenue at risk = each customer's expected value (clv) weighted by the
-- chance of no order in the churn horizon (churn_risk / 100).
-- params: active_days
-- tables: customers
SELECT
    count(*) AS customers,
    CAST(sum(net) AS DOUBLE) AS revenue,
    count(*) FILTER (WHERE recency_days <= $active_days) AS active_customers,
    CAST(sum(recent_revenue) AS DOUBLE) AS recent_revenue,
    sum(clv) AS clv,
    avg(churn_risk) AS mean_churn_risk,
    count(*) FILTER (WHERE p_alive < 0.5) AS likely_gone,
    sum(churn_risk / 100.0 * clv) AS revenue_at_risk
FROM {customers};

-- name: segments
-- Per segment, in rule order (segments of the rule set with no customer are left out).
-- params: none
-- tables: customers, grid
WITH totals AS (
    SELECT count(*) AS customers, sum(net) AS revenue FROM {customers}
), orders AS (
    SELECT DISTINCT segment, segment_order FROM {grid}
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
    avg(CASE WHEN c.p_alive < 0.5 THEN 1 WHEN c.p_alive >= 0.5 THEN 0 END) AS likely_gone_share,
    sum(c.clv) AS clv,
    CAST(sum(c.recent_revenue) AS DOUBLE) AS recent_revenue,
    sum(c.churn_risk / 100.0 * c.clv) AS revenue_at_risk,
    min(o.segment_order) AS segment_order
FROM {customers} AS c
CROSS JOIN totals AS t
LEFT JOIN orders AS o USING (segment)
GROUP BY c.segment
ORDER BY segment_order, c.segment;

-- name: rf_grid
-- Every R x F cell ($bins squared rows, empty cells included): customers,
-- mean monetary value and revenue.
-- params: bins
-- tables: customers
WITH cells AS (
    SELECT CAST(r.range AS INTEGER) AS r_score, CAST(f.range AS INTEGER) AS f_score
    FROM range(1, $bins + 1) AS r CROSS JOIN range(1, $bins + 1) AS f
), agg AS (
    SELECT r_score, f_score, count(*) AS customers, CAST(avg(monetary) AS DOUBLE) AS mean_monetary,
           CAST(sum(net) AS DOUBLE) AS revenue
    FROM {customers}
    GROUP BY r_score, f_score
)
SELECT cells.r_score, cells.f_score, coalesce(agg.customers, 0) AS customers, agg.mean_monetary,
       coalesce(agg.revenue, 0) AS revenue
FROM cells LEFT JOIN agg USING (r_score, f_score)
ORDER BY cells.r_score DESC, cells.f_score;

-- name: rf_segments
-- The largest segment of every non-empty R x F cell, with its share of the cell.
-- (A filter on the window in a subquery, not QUALIFY: Spark has none.)
-- params: none
-- tables: customers
SELECT r_score, f_score, segment, customers, cell_share
FROM (
    SELECT r_score, f_score, segment, customers,
           customers / sum(customers) OVER (PARTITION BY r_score, f_score) AS cell_share,
           row_number() OVER (PARTITION BY r_score, f_score ORDER BY customers DESC, segment) AS place
    FROM (
        SELECT r_score, f_score, segment, count(*) AS customers
        FROM {customers}
        GROUP BY r_score, f_score, segment
    ) AS cell_segments
) AS ranked
WHERE place = 1
ORDER BY r_score DESC, f_score;

-- name: metric_ranges
-- Range and 1st / 99th percentiles of the plotted metrics, to choose histogram bins.
-- params: none
-- tables: customers
SELECT 'recency_days' AS metric, CAST(min(recency_days) AS DOUBLE) AS lo, CAST(max(recency_days) AS DOUBLE) AS hi,
       CAST(quantile_cont(recency_days, 0.01) AS DOUBLE) AS p01, CAST(quantile_cont(recency_days, 0.99) AS DOUBLE) AS p99
FROM {customers}
UNION ALL
SELECT 'frequency', min(frequency), max(frequency), quantile_cont(frequency, 0.01), quantile_cont(frequency, 0.99)
FROM {customers}
UNION ALL
SELECT 'monetary', min(monetary), max(monetary), quantile_cont(monetary, 0.01), quantile_cont(monetary, 0.99)
FROM {customers};

-- name: histogram
-- Customers per bin k = floor((value - $lo) / $step), clipped to 0 .. $bins - 1
-- (the end bins hold the values beyond the plotted range).  $metric picks the
-- column: recency_days, frequency or monetary.
-- params: metric, lo, step, bins
-- tables: customers
WITH v AS (
    SELECT CASE $metric
        WHEN 'recency_days' THEN CAST(recency_days AS DOUBLE)
        WHEN 'frequency' THEN CAST(frequency AS DOUBLE)
        WHEN 'monetary' THEN CAST(monetary AS DOUBLE)
    END AS value
    FROM {customers}
)
SELECT CAST(least(greatest(floor((value - $lo) / $step), 0), $bins - 1) AS INTEGER) AS k, count(*) AS customers
FROM v
WHERE value IS NOT NULL
GROUP BY k
ORDER BY k;

-- name: actions
-- Per action: list size, revenue and expected value (CLV; NULL without churn).
-- params: none
-- tables: customers
SELECT
    action,
    count(*) AS customers,
    CAST(sum(net) AS DOUBLE) AS revenue,
    sum(clv) AS clv,
    avg(churn_risk) AS mean_churn_risk
FROM {customers}
GROUP BY action
ORDER BY action;

-- name: campaign_list
-- Every customer with action $action, most valuable first (CLV, else monetary),
-- with the next best offer when a catalogue was scored.
-- params: action
-- tables: customers, offers
SELECT
    c.customer_id, c.segment, c.action, c.recency_days, c.frequency, c.monetary, c.net,
    c.r_score, c.f_score, c.m_score, c.last_order_date,
    c.churn_risk, c.p_alive, c.clv,
    o.next_best_offer, o.offer_fit, o.offer_reason
FROM {customers} AS c
LEFT JOIN {offers} AS o USING (customer_id)
WHERE c.action = $action
ORDER BY c.clv DESC NULLS LAST, c.monetary DESC NULLS LAST, c.customer_id;

-- name: campaign_lists
-- Every campaign list in one table (rfm report campaign --lists-table): each
-- customer with their action and the as-of date, by action, most valuable first.
-- params: as_of
-- tables: customers, offers
SELECT
    c.customer_id, c.segment, c.action, c.recency_days, c.frequency, c.monetary, c.net,
    c.r_score, c.f_score, c.m_score, c.last_order_date,
    c.churn_risk, c.p_alive, c.clv,
    o.next_best_offer, o.offer_fit, o.offer_reason,
    CAST($as_of AS DATE) AS as_of
FROM {customers} AS c
LEFT JOIN {offers} AS o USING (customer_id)
ORDER BY c.action, c.clv DESC NULLS LAST, c.monetary DESC NULLS LAST, c.customer_id;

-- name: action_offers
-- The $top most frequent next best offers among customers with action $action.
-- params: action, top
-- tables: customers, offers
SELECT o.next_best_offer AS offer_id, count(*) AS customers, avg(o.offer_fit) AS mean_offer_fit
FROM {customers} AS c
JOIN {offers} AS o USING (customer_id)
WHERE c.action = $action AND o.next_best_offer IS NOT NULL
GROUP BY o.next_best_offer
ORDER BY customers DESC, offer_id
LIMIT $top;

-- name: migration
-- Customers by (segment at the earlier date, segment now); from_segment is NULL
-- for customers whose first order came after the earlier date ({before}: the
-- customer table scored at that date).
-- params: none
-- tables: customers, before
SELECT b.segment AS from_segment, c.segment AS to_segment, count(*) AS customers
FROM {customers} AS c
LEFT JOIN {before} AS b USING (customer_id)
GROUP BY b.segment, c.segment
ORDER BY from_segment, to_segment;
