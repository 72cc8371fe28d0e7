WITH totals AS (
  SELECT
    *,
    gross + refunds AS net
  FROM __rfm_table_totals
  WHERE
    NOT customer_id IS NULL AND NOT first_order_date IS NULL
)
SELECT
  customer_id,
  first_order_date,
  last_order_date,
  CAST(DATEDIFF(DAY, last_order_date, CAST(:as_of AS DATE)) AS INT) AS recency_days,
  CAST(frequency AS INT) AS frequency,
  CAST(CASE :monetary
    WHEN 'gross'
    THEN gross
    WHEN 'aov'
    THEN CASE
      WHEN frequency > 0
      THEN CAST(net AS DOUBLE) / CAST(frequency AS DOUBLE)
      ELSE 0
    END
    ELSE net
  END AS DOUBLE) AS monetary,
  CAST(gross AS DOUBLE) AS gross,
  CAST(refunds AS DOUBLE) AS refunds,
  CAST(net AS DOUBLE) AS net,
  CAST(CASE WHEN frequency > 0 THEN CAST(net AS DOUBLE) / CAST(frequency AS DOUBLE) END AS DOUBLE) AS aov,
  CAST(DATEDIFF(DAY, first_order_date, CAST(:as_of AS DATE)) AS INT) AS tenure_days
FROM totals
