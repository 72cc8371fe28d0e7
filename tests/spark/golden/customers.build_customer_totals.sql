WITH lines AS (
  SELECT
    customer_id,
    order_id,
    order_date,
    CASE
      WHEN NOT customer_id IS NULL AND NOT excluded
      THEN IF(
        ISNAN(CAST(amount AS DOUBLE))
        OR ABS(CAST(amount AS DOUBLE)) = CAST('Infinity' AS DOUBLE),
        RAISE_ERROR('CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL'),
        CAST(CAST(ROUND(amount * 10000) AS DECIMAL(38, 0)) * 0.0001 AS DECIMAL(18, 4))
      )
    END AS amount, /* only kept lines must fit DECIMAL(18, 4): a dropped line may hold anything */
    excluded,
    bad_date,
    (
      :as_of IS NULL OR order_date <= :as_of
    ) AS in_time,
    (
      :window_start IS NULL OR order_date >= :window_start
    ) AS in_window
  FROM __rfm_table_lines
), flags AS (
  SELECT
    *,
    NOT excluded AND in_time AS kept,
    NOT excluded AND in_time AND amount >= 0 AS purchase,
    NOT excluded AND in_time AND in_window AS counted
  FROM lines
)
SELECT
  customer_id,
  COUNT(*) AS n_lines,
  COUNT(*) FILTER(WHERE
    excluded AND NOT bad_date) AS excluded_lines,
  COUNT(*) FILTER(WHERE
    bad_date) AS bad_date_lines,
  COUNT(*) FILTER(WHERE
    NOT excluded AND NOT in_time) AS after_as_of_lines,
  COUNT(*) FILTER(WHERE
    kept AND amount < 0) AS return_lines,
  MAX(order_date) FILTER(WHERE
    NOT excluded) AS last_kept_date,
  MIN(order_date) FILTER(WHERE
    purchase) AS first_order_date,
  MAX(order_date) FILTER(WHERE
    purchase) AS last_order_date,
  COUNT(DISTINCT order_id) FILTER(WHERE
    purchase AND in_window) AS frequency,
  COALESCE(SUM(amount) FILTER(WHERE
    counted AND amount > 0), 0) AS gross,
  COALESCE(SUM(amount) FILTER(WHERE
    counted AND amount < 0), 0) AS refunds
FROM flags
GROUP BY
  customer_id
