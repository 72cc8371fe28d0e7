-- Tie-safe R/F/M scores, segments and the customer table (see docs/metrics.md, "Scores").

-- name: fit_cut_points
-- Tie-safe quantile cut points (see docs/metrics.md, "Scores").  For frequency and
-- monetary (higher is better) cut k is the smallest value v with
-- share(value <= v) >= k / bins; for recency_days (lower is better) the
-- largest d with share(recency_days > d) >= k / bins.  Integer arithmetic on
-- counts, so no float rounding decides a boundary.  A customer's score is then
-- 1 + floor(bins * share of customers strictly worse), equal values share it.
-- params: bins
-- tables: customers
WITH vals AS (
    SELECT 'recency_days' AS metric, CAST(recency_days AS DOUBLE) AS v, count(*) AS n FROM {customers} GROUP BY ALL
    UNION ALL
    SELECT 'frequency', CAST(frequency AS DOUBLE), count(*) FROM {customers} GROUP BY ALL
    UNION ALL
    SELECT 'monetary', monetary, count(*) FROM {customers} GROUP BY ALL
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

-- name: build_result
-- Final customer table: metrics, scores, segment and action, one row per
-- customer in customer_id order (deterministic output).
-- Scores from cut points: each cut is the inclusive upper bound of its bin.
-- F and M: 1 + number of cuts below the value.  R: 1 + number of cuts at or
-- above recency_days (fewer days is better).  The condition mask has bit k
-- set when the customer's metric $cond_metrics[k] (1 recency_days,
-- 2 frequency, 3 monetary, 4 tenure_days) lies in [$cond_lo[k], $cond_hi[k]]
-- (the rule set's absolute metric bounds; one weight-0 placeholder when it has
-- none).  Segment and action are read from the resolved grid passed as two
-- lists in (r, f, m, mask) order: a list lookup per customer instead of a join.
-- params: as_of, bins, recency_cuts, frequency_cuts, monetary_cuts, segments, actions, masks, cond_metrics, cond_lo, cond_hi, cond_weights
-- tables: customers
WITH s AS (
    SELECT
        c.*,
        CAST(1 + len(list_filter($recency_cuts, lambda x: c.recency_days <= x)) AS INTEGER) AS r_score,
        CAST(1 + len(list_filter($frequency_cuts, lambda x: c.frequency > x)) AS INTEGER) AS f_score,
        CAST(1 + len(list_filter($monetary_cuts, lambda x: c.monetary > x)) AS INTEGER) AS m_score,
        CAST(coalesce(list_sum(list_transform(range(1, len($cond_weights) + 1), lambda k:
            CASE WHEN (
                CASE $cond_metrics[k]
                    WHEN 1 THEN CAST(c.recency_days AS DOUBLE)
                    WHEN 2 THEN CAST(c.frequency AS DOUBLE)
                    WHEN 3 THEN CAST(c.monetary AS DOUBLE)
                    ELSE CAST(c.tenure_days AS DOUBLE)
                END
            ) BETWEEN $cond_lo[k] AND $cond_hi[k] THEN $cond_weights[k] ELSE 0 END
        )), 0) AS INTEGER) AS rule_mask
    FROM {customers} AS c
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
    $segments[(((s.r_score - 1) * $bins + s.f_score - 1) * $bins + s.m_score - 1) * $masks + s.rule_mask + 1] AS segment,
    $actions[(((s.r_score - 1) * $bins + s.f_score - 1) * $bins + s.m_score - 1) * $masks + s.rule_mask + 1] AS action,
    s.net <= 0 AS nonpositive_value,
    CAST($as_of AS DATE) AS as_of
FROM s
ORDER BY s.customer_id;

-- name: score_bins
-- Size of every bin actually produced, per dimension.
-- params: none
-- tables: scores
SELECT 'recency_days' AS metric, r_score AS score, count(*) AS customers,
       min(recency_days)::DOUBLE AS min_value, max(recency_days)::DOUBLE AS max_value
FROM {scores} GROUP BY ALL
UNION ALL
SELECT 'frequency', f_score, count(*), min(frequency), max(frequency) FROM {scores} GROUP BY ALL
UNION ALL
SELECT 'monetary', m_score, count(*), min(monetary), max(monetary) FROM {scores} GROUP BY ALL
ORDER BY metric, score;

-- name: result_counts
-- Customers scored, and those flagged with net value <= 0.
-- params: none
-- tables: scores
SELECT count(*) AS customers, count(*) FILTER (WHERE nonpositive_value) AS nonpositive_customers
FROM {scores};

-- name: segment_summary
-- Per segment: size, revenue (net value in the window) and typical metrics.
-- params: none
-- tables: scores, grid
WITH totals AS (
    SELECT count(*) AS customers, sum(net) AS revenue FROM {scores}
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
FROM {scores} AS r
CROSS JOIN totals AS t
JOIN (SELECT DISTINCT segment, segment_order FROM {grid}) AS g USING (segment)
GROUP BY r.segment
ORDER BY segment_order;

-- name: no_churn
-- The churn columns when no churn step ran: no rows, so a LEFT JOIN gives
-- every customer NULLs.  The churn step's own table has exactly these columns,
-- so what reads churn (offers, reports) reads one shape either way.
-- params: none
-- tables: scores
SELECT
    customer_id,
    CAST(NULL AS DOUBLE) AS p_alive,
    CAST(NULL AS DOUBLE) AS churn_risk,
    CAST(NULL AS DOUBLE) AS expected_orders,
    CAST(NULL AS DATE) AS expected_next_order_date,
    CAST(NULL AS DOUBLE) AS expected_aov,
    CAST(NULL AS DOUBLE) AS clv,
    CAST(NULL AS DOUBLE) AS p_no_order
FROM {scores}
WHERE false;
