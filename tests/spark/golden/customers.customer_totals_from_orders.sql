WITH kept AS (
  SELECT
    customer_id,
    order_id,
    order_date,
    n_return_lines,
    gross,
    refunds,
    is_purchase,
    (
      :window_start IS NULL OR order_date >= :window_start
    ) AS in_window
  FROM __rfm_table_orders
  WHERE
    line_class = 'kept' AND order_date <= :as_of
)
SELECT
  customer_id,
  COALESCE(SUM(n_return_lines), 0) AS return_lines,
  MIN(order_date) FILTER(WHERE
    is_purchase) AS first_order_date,
  MAX(order_date) FILTER(WHERE
    is_purchase) AS last_order_date,
  COUNT(*) FILTER(WHERE
    is_purchase AND in_window) AS frequency,
  COALESCE(
    SUM(
      IF(
        ISNAN(CAST(gross AS DOUBLE))
        OR ABS(CAST(gross AS DOUBLE)) = CAST('Infinity' AS DOUBLE),
        RAISE_ERROR('CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL'),
        CAST(CAST(ROUND(gross * 10000) AS DECIMAL(38, 0)) * 0.0001 AS DECIMAL(18, 4))
      )
    ) FILTER(WHERE
      in_window),
    0
  ) AS gross,
  COALESCE(
    SUM(
      IF(
        ISNAN(CAST(refunds AS DOUBLE))
        OR ABS(CAST(refunds AS DOUBLE)) = CAST('Infinity' AS DOUBLE),
        RAISE_ERROR('CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL'),
        CAST(CAST(ROUND(refunds * 10000) AS DECIMAL(38, 0)) * 0.0001 AS DECIMAL(18, 4))
      )
    ) FILTER(WHERE
      in_window),
    0
  ) AS refunds
FROM kept
GROUP BY
  customer_id
