-- Churn risk and customer value (see rfm/churn and docs/churn.md).
-- Transactions follow the BG/NBD convention: one per customer per purchase day.
-- Every block reads the order table ({orders}, queries/customers/orders.sql)
-- or what an earlier block of this file built.

-- name: build_stats
-- Per customer as of $as_of, from the order table (no second scan of the lines):
-- x = purchase days - 1 (repeat transactions), t_x = last - first purchase day,
-- T = as_of - first purchase day, both in units of $time_unit_days days;
-- mean spend of the repeat days (first day excluded) and of all days.
-- params: as_of, time_unit_days
-- tables: orders
WITH days AS (
    SELECT customer_id, order_date AS day, sum(CAST(net AS DECIMAL(18, 4))) AS spend
    FROM {orders}
    WHERE line_class = 'kept' AND is_purchase AND order_date <= $as_of
    GROUP BY customer_id, order_date
),
per_customer AS (
    SELECT
        customer_id,
        count(*) - 1 AS x,
        min(day) AS first_day,
        max(day) AS last_day,
        sum(spend) AS total_spend,
        sum(spend) - arg_min(spend, day) AS repeat_spend
    FROM days
    GROUP BY customer_id
)
SELECT
    customer_id,
    CAST(x AS INTEGER) AS x,
    date_diff('day', first_day, last_day) / $time_unit_days AS t_x,
    date_diff('day', first_day, CAST($as_of AS DATE)) / $time_unit_days AS T,
    CAST(CASE WHEN x > 0 THEN repeat_spend / x END AS DOUBLE) AS mean_repeat_spend,
    CAST(total_spend / (x + 1) AS DOUBLE) AS mean_spend,
    CASE WHEN x > 0 THEN date_diff('day', first_day, last_day) / x END AS avg_gap_days,
    date_diff('day', last_day, CAST($as_of AS DATE)) AS recency_days,
    date_diff('day', first_day, CAST($as_of AS DATE)) AS age_days
FROM per_customer;

-- name: triples
-- Identical (x, t_x, T) triples once, with their count: the BG/NBD likelihood
-- and every prediction depend on the triple only.
-- params: none
-- tables: stats
SELECT x, t_x, T, count(*) AS n
FROM {stats}
GROUP BY ALL
ORDER BY x, t_x, T;

-- name: spend_groups
-- Repeat buyers' (x, mean repeat-day spend) with counts, for the Gamma-Gamma fit.
-- params: none
-- tables: stats
SELECT x, mean_repeat_spend, count(*) AS n
FROM {stats}
WHERE x > 0
GROUP BY ALL
ORDER BY x, mean_repeat_spend;

-- name: typical_gap
-- The population's typical gap between purchase days: median over repeat
-- buyers; without any, the median customer age (no one came back sooner).
-- params: none
-- tables: stats
SELECT
    coalesce(median(avg_gap_days), median(age_days)) AS gap_days,
    count(avg_gap_days) AS repeat_buyers
FROM {stats};

-- name: build_from_model
-- BG/NBD or Pareto/NBD: churn_risk = 100 * P(no order in the next horizon), from the model.
-- Join the per-triple predictions ({triples}, computed by the fitted model)
-- back to customers.  p_no_order (unrounded churn_risk / 100) stays in this
-- table for the backtest's log-loss; the customer table shows churn_risk.  expected_aov (never below 0) is the Gamma-Gamma
-- conditional mean spend when $use_gg, else the customer's own mean spend.
-- The next order is expected one gap at the posterior mean purchase rate after
-- as_of: 1 / E[lambda | alive] = (alpha + T)/(r + x) time units, shown only
-- when an order within the horizon is at least as likely as not
-- (P(no order) <= 0.5); otherwise no date means anything.  A customer who never
-- spent anything (every purchase day at 0 or below) is expected to spend 0, as
-- under every method.  clv = discounted expected orders x expected_aov.
-- params: as_of, use_gg, gg_p, gg_q, gg_gamma, time_unit_days
-- tables: stats, triples
WITH c AS (
    SELECT
        s.customer_id,
        p.p_alive,
        p.p_no_order,
        round(100 * p.p_no_order, 1) AS churn_risk,
        p.expected_orders,
        CASE WHEN p.p_no_order <= 0.5 AND p.wait_units IS NOT NULL
            THEN CAST($as_of AS DATE) + CAST(ceil(p.wait_units * $time_unit_days) AS INTEGER)
        END AS expected_next_order_date,
        greatest(CASE WHEN s.mean_spend <= 0 THEN 0 WHEN $use_gg
            THEN ($gg_p * $gg_gamma + $gg_p * s.x * greatest(coalesce(s.mean_repeat_spend, 0), 0)) / ($gg_p * s.x + $gg_q - 1)
            ELSE s.mean_spend
        END, 0) AS expected_aov,
        p.discounted_orders
    FROM {stats} AS s
    JOIN {triples} AS p USING (x, t_x, T)
)
SELECT
    customer_id, p_alive, churn_risk, expected_orders, expected_next_order_date, expected_aov,
    discounted_orders * expected_aov AS clv, p_no_order
FROM c;

-- name: build_recency_ratio
-- recency_ratio: a customer's expected gap is their own mean gap between
-- purchase days, or the population's typical gap ($typical_gap) for one-time
-- buyers.  Buying as a Poisson process at that pace, an active customer goes
-- r = recency_days / gap gaps without an order with probability exp(-r):
-- p_alive = exp(-r).  churn_risk = 100 * P(no order in the next $horizon_days)
-- = 100 * (1 - p_alive + p_alive * exp(-horizon / gap)).  Expected orders in the
-- next $horizon_days: p_alive * horizon / gap; discounted orders over the CLV
-- horizon: p_alive * (30.4375 / gap) * $annuity (sum of monthly discount
-- factors); clv = discounted orders x expected_aov.  The next order is expected
-- one gap after as_of, shown only when an order within the horizon is at least
-- as likely as not: p_alive * (1 - exp(-horizon / gap)) >= 0.5.
-- params: as_of, typical_gap, horizon_days, annuity
-- tables: stats
WITH g AS (
    SELECT *, greatest(coalesce(avg_gap_days, $typical_gap), 1.0) AS gap
    FROM {stats}
),
c AS (
    SELECT
        customer_id,
        exp(-recency_days / gap) AS p_alive,
        round(100 * (1 - exp(-recency_days / gap) + exp(-recency_days / gap) * exp(-$horizon_days / gap)), 1)
            AS churn_risk,
        1 - exp(-recency_days / gap) + exp(-recency_days / gap) * exp(-$horizon_days / gap) AS p_no_order,
        exp(-recency_days / gap) * $horizon_days / gap AS expected_orders,
        CASE WHEN exp(-recency_days / gap) * (1 - exp(-$horizon_days / gap)) >= 0.5
            THEN CAST($as_of AS DATE) + CAST(ceil(gap) AS INTEGER)
        END AS expected_next_order_date,
        greatest(mean_spend, 0) AS expected_aov,
        exp(-recency_days / gap) * (30.4375 / gap) * $annuity AS discounted_orders
    FROM g
)
SELECT
    customer_id, p_alive, churn_risk, expected_orders, expected_next_order_date, expected_aov,
    discounted_orders * expected_aov AS clv, p_no_order
FROM c;

-- name: attach
-- The customer table with the churn columns added, in customer order.
-- params: method
-- tables: scores, churn
SELECT
    r.*,
    c.p_alive,
    c.churn_risk,
    c.expected_orders,
    c.expected_next_order_date,
    c.expected_aov,
    c.clv,
    CAST($method AS VARCHAR) AS churn_method
FROM {scores} AS r
LEFT JOIN {churn} AS c USING (customer_id)
ORDER BY r.customer_id;
