WITH days AS (
  SELECT
    customer_id,
    order_date AS day,
    BOOL_OR(is_purchase) AS purchase,
    COUNT(*) FILTER(WHERE
      is_purchase) AS orders,
    SUM(net) FILTER(WHERE
      is_purchase) AS spend,
    SUM(gross) AS gross,
    -SUM(refunds) AS refunded
  FROM __rfm_table_orders
  WHERE
    line_class = 'kept' AND order_date <= :as_of
  GROUP BY
    customer_id,
    order_date
), gaps AS (
  SELECT
    *,
    DATEDIFF(DAY, day, CAST(:as_of AS DATE)) AS age,
    CASE
      WHEN purchase
      THEN DATEDIFF(DAY, LAG(day) OVER (PARTITION BY customer_id, purchase ORDER BY day NULLS LAST), day)
    END AS gap
  FROM days
)
SELECT
  customer_id,
  CAST(MIN(age) FILTER(WHERE
    purchase) AS DOUBLE) AS recency_days,
  CAST(COUNT(*) FILTER(WHERE
    purchase) AS DOUBLE) AS purchase_days,
  CAST(SUM(orders) AS DOUBLE) AS orders,
  CAST(MAX(age) FILTER(WHERE
    purchase) AS DOUBLE) AS tenure_days,
  CAST(SUM(spend) AS DOUBLE) / CAST(COUNT(*) FILTER(WHERE
    purchase) AS DOUBLE) AS mean_spend,
  CAST(COALESCE(SUM(spend), 0) AS DOUBLE) AS total_spend,
  CAST(SUM(gap) AS DOUBLE) / CAST(COUNT(gap) AS DOUBLE) AS gap_mean_days,
  CASE
    WHEN COUNT(gap) > 1
    THEN SQRT(
      GREATEST(
        CAST((
          CAST(SUM(gap * gap) AS DOUBLE) - CAST(CAST(SUM(gap) AS DOUBLE) * SUM(gap) AS DOUBLE) / CAST(COUNT(gap) AS DOUBLE)
        ) AS DOUBLE) / CAST((
          COUNT(gap) - 1
        ) AS DOUBLE),
        0
      )
    )
  END AS gap_sd_days,
  CAST(COUNT(*) FILTER(WHERE
    purchase AND age < :period_days) AS DOUBLE) AS days_last_period,
  CAST(COUNT(*) FILTER(WHERE
    purchase AND age >= :period_days AND age < 2 * :period_days) AS DOUBLE) AS days_prior_period,
  CAST(COALESCE(SUM(spend) FILTER(WHERE
    age < :period_days), 0) AS DOUBLE) AS spend_last_period,
  CAST(COALESCE(SUM(spend) FILTER(WHERE
    age >= :period_days AND age < 2 * :period_days), 0) AS DOUBLE) AS spend_prior_period,
  CAST(COUNT(*) FILTER(WHERE
    purchase AND age < 365) AS DOUBLE) AS days_last_year,
  CASE
    WHEN SUM(gross) > 0
    THEN CAST(SUM(refunded) AS DOUBLE) / CAST(SUM(gross) AS DOUBLE)
    ELSE 0
  END AS returns_share
FROM gaps
GROUP BY
  customer_id
HAVING
  COUNT(*) FILTER(WHERE
    purchase) > 0
ORDER BY
  customer_id NULLS LAST
