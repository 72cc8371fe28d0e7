-- The learned churn propensity (churn.method: propensity; rfm/churn/_propensity.py).
-- Features are computed as of a cut-off date and read nothing after it; the
-- label block reads one window that the Python side keeps at or before as_of.
-- Transactions are purchase days, as in the models and the backtest.

-- name: propensity_features
-- Per customer with a purchase on or before $as_of, from the order table:
-- recency, purchase days and orders, tenure, mean and total spend per purchase
-- day, the mean and standard deviation of the gaps between purchase days,
-- purchase days and spend in the last $period_days and in the period before
-- (the trend), purchase days in the last 365 days, and the returns share
-- (refunded / gross amount of every kept order up to $as_of).  Sums are exact
-- (decimal amounts, integer gaps) before one division, so the features are
-- the same on any thread count and on either engine.
-- params: as_of, period_days
-- tables: orders
WITH days AS (
    SELECT
        customer_id,
        order_date AS day,
        bool_or(is_purchase) AS purchase,
        count(*) FILTER (WHERE is_purchase) AS orders,
        sum(net) FILTER (WHERE is_purchase) AS spend,
        sum(gross) AS gross,
        -sum(refunds) AS refunded
    FROM {orders}
    WHERE line_class = 'kept' AND order_date <= $as_of
    GROUP BY customer_id, order_date
),
gaps AS (
    SELECT
        *,
        date_diff('day', day, CAST($as_of AS DATE)) AS age,
        CASE WHEN purchase THEN date_diff(
            'day', lag(day) OVER (PARTITION BY customer_id, purchase ORDER BY day), day
        ) END AS gap
    FROM days
)
SELECT
    customer_id,
    CAST(min(age) FILTER (WHERE purchase) AS DOUBLE) AS recency_days,
    CAST(count(*) FILTER (WHERE purchase) AS DOUBLE) AS purchase_days,
    CAST(sum(orders) AS DOUBLE) AS orders,
    CAST(max(age) FILTER (WHERE purchase) AS DOUBLE) AS tenure_days,
    CAST(sum(spend) AS DOUBLE) / count(*) FILTER (WHERE purchase) AS mean_spend,
    CAST(coalesce(sum(spend), 0) AS DOUBLE) AS total_spend,
    CAST(sum(gap) AS DOUBLE) / count(gap) AS gap_mean_days,
    CASE WHEN count(gap) > 1 THEN sqrt(greatest(
        (CAST(sum(gap * gap) AS DOUBLE) - CAST(sum(gap) AS DOUBLE) * sum(gap) / count(gap)) / (count(gap) - 1), 0
    )) END AS gap_sd_days,
    CAST(count(*) FILTER (WHERE purchase AND age < $period_days) AS DOUBLE) AS days_last_period,
    CAST(count(*) FILTER (WHERE purchase AND age >= $period_days AND age < 2 * $period_days) AS DOUBLE)
        AS days_prior_period,
    CAST(coalesce(sum(spend) FILTER (WHERE age < $period_days), 0) AS DOUBLE) AS spend_last_period,
    CAST(coalesce(sum(spend) FILTER (WHERE age >= $period_days AND age < 2 * $period_days), 0) AS DOUBLE)
        AS spend_prior_period,
    CAST(count(*) FILTER (WHERE purchase AND age < 365) AS DOUBLE) AS days_last_year,
    CASE WHEN sum(gross) > 0 THEN CAST(sum(refunded) AS DOUBLE) / CAST(sum(gross) AS DOUBLE) ELSE 0 END
        AS returns_share
FROM gaps
GROUP BY customer_id
HAVING count(*) FILTER (WHERE purchase) > 0
ORDER BY customer_id;

-- name: propensity_category_mix
-- One pass over the kept order lines for both cut-offs: per customer, the
-- number of categories bought and the share of the customer's positive spend
-- in their main category, as of $train_end (suffix _train) and as of $as_of.
-- Exact duplicate lines count once with $drop_duplicates.  Amounts are exact
-- 4-decimal values until the one division, as in the order table.  Lines after
-- $as_of are not read.
-- params: train_end, as_of, drop_duplicates
-- tables: lines
WITH l AS (
    SELECT
        customer_id,
        category,
        any_value(order_date) AS order_date,
        CASE WHEN $drop_duplicates THEN any_value(CAST(amount AS DECIMAL(18, 4)))
            ELSE sum(CAST(amount AS DECIMAL(18, 4))) END AS amount
    FROM {lines}
    WHERE customer_id IS NOT NULL AND NOT excluded AND NOT bad_date AND category IS NOT NULL
        AND order_date <= $as_of
    GROUP BY customer_id, order_id, line_hash, category
),
cells AS (
    SELECT
        customer_id,
        category,
        greatest(coalesce(sum(amount) FILTER (WHERE order_date <= $train_end), 0), 0) AS spend_train,
        greatest(sum(amount), 0) AS spend
    FROM l
    GROUP BY customer_id, category
)
SELECT
    customer_id,
    CAST(count(*) FILTER (WHERE spend_train > 0) AS DOUBLE) AS categories_train,
    CASE WHEN sum(spend_train) > 0 THEN CAST(max(spend_train) AS DOUBLE) / CAST(sum(spend_train) AS DOUBLE) END
        AS main_category_share_train,
    CAST(count(*) FILTER (WHERE spend > 0) AS DOUBLE) AS categories,
    CASE WHEN sum(spend) > 0 THEN CAST(max(spend) AS DOUBLE) / CAST(sum(spend) AS DOUBLE) END AS main_category_share
FROM cells
GROUP BY customer_id
ORDER BY customer_id;

-- name: propensity_labels
-- Purchase days per customer in the window ($start, $end]: the label
-- ("ordered in the horizon" = at least one) and the count the expected-orders
-- model learns.  Only customers with a purchase in the window are listed.
-- params: start, end
-- tables: orders
SELECT customer_id, CAST(count(DISTINCT order_date) AS DOUBLE) AS future_days
FROM {orders}
WHERE line_class = 'kept' AND is_purchase AND order_date > $start AND order_date <= $end
GROUP BY customer_id
ORDER BY customer_id;

-- name: build_from_propensity
-- The churn columns from the learned propensity ({predictions}: customer_id,
-- p_order, expected_orders per customer, computed by the fitted model):
-- churn_risk = 100 * (1 - p_order); p_alive is not modelled (NULL); expected_aov
-- is the customer's own mean spend per purchase day (0 when never positive);
-- the customer is taken to keep ordering at the predicted pace,
-- expected_orders per $horizon_days, for the CLV: discounted orders =
-- expected_orders / $horizon_days * 30.4375 * $annuity.  The next order is
-- expected $horizon_days / expected_orders days after as_of, shown only when
-- an order within the horizon is at least as likely as not.
-- params: as_of, horizon_days, annuity
-- tables: stats, predictions
WITH c AS (
    SELECT
        s.customer_id,
        CAST(NULL AS DOUBLE) AS p_alive,
        1 - p.p_order AS p_no_order,
        p.expected_orders,
        greatest(s.mean_spend, 0) AS expected_aov
    FROM {stats} AS s
    JOIN {predictions} AS p USING (customer_id)
)
SELECT
    customer_id,
    p_alive,
    round(100 * p_no_order, 1) AS churn_risk,
    expected_orders,
    CASE WHEN p_no_order <= 0.5 AND expected_orders > 0
        THEN CAST($as_of AS DATE) + CAST(ceil($horizon_days / expected_orders) AS INTEGER)
    END AS expected_next_order_date,
    expected_aov,
    expected_orders / $horizon_days * 30.4375 * $annuity * expected_aov AS clv,
    p_no_order
FROM c;
