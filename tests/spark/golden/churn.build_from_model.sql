WITH c AS (
  SELECT
    s.customer_id,
    p.p_alive,
    p.p_no_order,
    ROUND(CAST(100 * p.p_no_order AS DOUBLE) * 10) / CAST(10 AS DOUBLE) AS churn_risk,
    p.expected_orders,
    CASE
      WHEN p.p_no_order <= 0.5 AND NOT p.wait_units IS NULL
      THEN CAST(:as_of AS DATE) + CAST(CEIL(p.wait_units * :time_unit_days) AS INT)
    END AS expected_next_order_date,
    GREATEST(
      CASE
        WHEN s.mean_spend <= 0
        THEN 0
        WHEN :use_gg
        THEN CAST((
          :gg_p * :gg_gamma + :gg_p * s.x * GREATEST(COALESCE(s.mean_repeat_spend, 0), 0)
        ) AS DOUBLE) / CAST((
          :gg_p * s.x + :gg_q - 1
        ) AS DOUBLE)
        ELSE s.mean_spend
      END,
      0
    ) AS expected_aov,
    p.discounted_orders
  FROM __rfm_table_stats AS s
  JOIN __rfm_table_triples AS p
    USING (x, t_x, T)
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
