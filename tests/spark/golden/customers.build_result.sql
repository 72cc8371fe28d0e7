WITH s AS (
  SELECT
    c.*,
    CAST(1 + SIZE(FILTER(:recency_cuts, x -> c.recency_days <= x)) AS INT) AS r_score,
    CAST(1 + SIZE(FILTER(:frequency_cuts, x -> c.frequency > x)) AS INT) AS f_score,
    CAST(1 + SIZE(FILTER(:monetary_cuts, x -> c.monetary > x)) AS INT) AS m_score
  FROM __rfm_table_customers AS c
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
  CASE
    WHEN :bins < 10
    THEN CAST(s.r_score AS STRING) || CAST(s.f_score AS STRING) || CAST(s.m_score AS STRING)
    ELSE CAST(s.r_score AS STRING) || '-' || CAST(s.f_score AS STRING) || '-' || CAST(s.m_score AS STRING)
  END AS rfm_cell,
  TRY_ELEMENT_AT(
    :segments,
    (
      (
        s.r_score - 1
      ) * :bins + s.f_score - 1
    ) * :bins + s.m_score
  ) AS segment,
  TRY_ELEMENT_AT(
    :actions,
    (
      (
        s.r_score - 1
      ) * :bins + s.f_score - 1
    ) * :bins + s.m_score
  ) AS action,
  s.net <= 0 AS nonpositive_value,
  CAST(:as_of AS DATE) AS as_of
FROM s
ORDER BY
  s.customer_id NULLS LAST
