WITH days AS (
  SELECT
    customer_id,
    order_date AS day,
    SUM(
      IF(
        ISNAN(CAST(net AS DOUBLE))
        OR ABS(CAST(net AS DOUBLE)) = CAST('Infinity' AS DOUBLE),
        RAISE_ERROR('CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL'),
        CAST(CAST(ROUND(net * 10000) AS DECIMAL(38, 0)) * 0.0001 AS DECIMAL(18, 4))
      )
    ) AS spend
  FROM __rfm_table_orders
  WHERE
    line_class = 'kept' AND is_purchase AND order_date <= :as_of
  GROUP BY
    customer_id,
    order_date
), per_customer AS (
  SELECT
    customer_id,
    COUNT(*) - 1 AS x,
    MIN(day) AS first_day,
    MAX(day) AS last_day,
    SUM(spend) AS total_spend,
    SUM(spend) - MIN_BY(spend, day) AS repeat_spend
  FROM days
  GROUP BY
    customer_id
)
SELECT
  customer_id,
  CAST(x AS INT) AS x,
  CAST(DATEDIFF(DAY, first_day, last_day) AS DOUBLE) / CAST(:time_unit_days AS DOUBLE) AS t_x,
  CAST(DATEDIFF(DAY, first_day, CAST(:as_of AS DATE)) AS DOUBLE) / CAST(:time_unit_days AS DOUBLE) AS T,
  CAST(CASE WHEN x > 0 THEN CAST(repeat_spend AS DOUBLE) / CAST(x AS DOUBLE) END AS DOUBLE) AS mean_repeat_spend,
  CAST(CAST(total_spend AS DOUBLE) / CAST((
    x + 1
  ) AS DOUBLE) AS DOUBLE) AS mean_spend,
  CASE
    WHEN x > 0
    THEN CAST(DATEDIFF(DAY, first_day, last_day) AS DOUBLE) / CAST(x AS DOUBLE)
  END AS avg_gap_days,
  DATEDIFF(DAY, last_day, CAST(:as_of AS DATE)) AS recency_days,
  DATEDIFF(DAY, first_day, CAST(:as_of AS DATE)) AS age_days
FROM per_customer
