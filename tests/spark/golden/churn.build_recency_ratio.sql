WITH g AS (
  SELECT
    *,
    GREATEST(COALESCE(avg_gap_days, :typical_gap), 1.0) AS gap
  FROM __rfm_table_stats
), c AS (
  SELECT
    customer_id,
    EXP(CAST(-recency_days AS DOUBLE) / CAST(gap AS DOUBLE)) AS p_alive,
    ROUND(
      CAST(100 * (
        1 - EXP(CAST(-recency_days AS DOUBLE) / CAST(gap AS DOUBLE)) + EXP(CAST(-recency_days AS DOUBLE) / CAST(gap AS DOUBLE)) * EXP(CAST(-:horizon_days AS DOUBLE) / CAST(gap AS DOUBLE))
      ) AS DOUBLE) * 10
    ) / CAST(10 AS DOUBLE) AS churn_risk,
    1 - EXP(CAST(-recency_days AS DOUBLE) / CAST(gap AS DOUBLE)) + EXP(CAST(-recency_days AS DOUBLE) / CAST(gap AS DOUBLE)) * EXP(CAST(-:horizon_days AS DOUBLE) / CAST(gap AS DOUBLE)) AS p_no_order,
    CAST(EXP(CAST(-recency_days AS DOUBLE) / CAST(gap AS DOUBLE)) * :horizon_days AS DOUBLE) / CAST(gap AS DOUBLE) AS expected_orders,
    CASE
      WHEN EXP(CAST(-recency_days AS DOUBLE) / CAST(gap AS DOUBLE)) * (
        1 - EXP(CAST(-:horizon_days AS DOUBLE) / CAST(gap AS DOUBLE))
      ) >= 0.5
      THEN CAST(:as_of AS DATE) + CAST(CEIL(gap) AS INT)
    END AS expected_next_order_date,
    GREATEST(mean_spend, 0) AS expected_aov,
    EXP(CAST(-recency_days AS DOUBLE) / CAST(gap AS DOUBLE)) * (
      CAST(30.4375 AS DOUBLE) / CAST(gap AS DOUBLE)
    ) * :annuity AS discounted_orders
  FROM g
)
SELECT
  customer_id,
  p_alive,
  churn_risk,
  expected_orders,
  expected_next_order_date,
  expected_aov,
  discounted_orders * expected_aov AS clv,
  p_no_order
FROM c
