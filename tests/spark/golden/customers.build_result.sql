WITH s AS (
  SELECT
    c.*,
    CAST(1 + SIZE(FILTER(:recency_cuts, x -> c.recency_days <= x)) AS INT) AS r_score,
    CAST(1 + SIZE(FILTER(:frequency_cuts, x -> c.frequency > x)) AS INT) AS f_score,
    CAST(1 + SIZE(FILTER(:monetary_cuts, x -> c.monetary > x)) AS INT) AS m_score,
    CAST(COALESCE(
      AGGREGATE(
        FILTER(
          TRANSFORM(
            IF(
              (
                SIZE(:cond_weights) + 1 - 1
              ) < 1,
              ARRAY(),
              SEQUENCE(1, (
                SIZE(:cond_weights) + 1 - 1
              ))
            ),
            k -> CASE
              WHEN (
                CASE TRY_ELEMENT_AT(:cond_metrics, k)
                  WHEN 1
                  THEN CAST(c.recency_days AS DOUBLE)
                  WHEN 2
                  THEN CAST(c.frequency AS DOUBLE)
                  WHEN 3
                  THEN CAST(c.monetary AS DOUBLE)
                  ELSE CAST(c.tenure_days AS DOUBLE)
                END
              ) BETWEEN TRY_ELEMENT_AT(:cond_lo, k) AND TRY_ELEMENT_AT(:cond_hi, k)
              THEN TRY_ELEMENT_AT(:cond_weights, k)
              ELSE 0
            END
          ),
          x -> NOT x IS NULL
        ),
        CAST(NULL AS DOUBLE),
        (acc, x) -> COALESCE(acc, 0) + x
      ),
      0
    ) AS INT) AS rule_mask
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
        (
          s.r_score - 1
        ) * :bins + s.f_score - 1
      ) * :bins + s.m_score - 1
    ) * :masks + s.rule_mask + 1
  ) AS segment,
  TRY_ELEMENT_AT(
    :actions,
    (
      (
        (
          s.r_score - 1
        ) * :bins + s.f_score - 1
      ) * :bins + s.m_score - 1
    ) * :masks + s.rule_mask + 1
  ) AS action,
  s.net <= 0 AS nonpositive_value,
  CAST(:as_of AS DATE) AS as_of
FROM s
ORDER BY
  s.customer_id NULLS LAST
