WITH classed AS (
  SELECT
    *,
    CASE
      WHEN customer_id IS NULL
      THEN 'null_customer_id'
      WHEN bad_date
      THEN 'bad_date'
      WHEN excluded
      THEN 'excluded_status'
      ELSE 'kept'
    END AS line_class
  FROM __rfm_table_groups
), lines AS (
  /* a kept line's amount as an exact 4-decimal value, as in build_customer_totals: */
  /* both paths round every line once and decide purchase / return on that value */
  SELECT
    customer_id,
    order_id,
    line_class,
    order_date,
    copies,
    CASE
      WHEN line_class = 'kept'
      THEN IF(
        ISNAN(CAST(amount AS DOUBLE))
        OR ABS(CAST(amount AS DOUBLE)) = CAST('Infinity' AS DOUBLE),
        RAISE_ERROR('CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL'),
        CAST(CAST(ROUND(amount * 10000) AS DECIMAL(38, 0)) * 0.0001 AS DECIMAL(18, 4))
      )
    END AS amount,
    CASE WHEN :drop_duplicates THEN 1 ELSE copies END AS weight
  FROM classed
)
SELECT
  customer_id,
  order_id,
  line_class,
  order_date,
  SUM(copies) AS n_lines,
  SUM(copies) - COUNT(*) AS n_duplicate_lines, /* cheaper than sum(copies - 1) */
  IF(
    ISNAN(CAST(COALESCE(SUM(amount * weight), 0) AS DOUBLE))
    OR ABS(CAST(COALESCE(SUM(amount * weight), 0) AS DOUBLE)) = CAST('Infinity' AS DOUBLE),
    RAISE_ERROR('CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL'),
    CAST(CAST(ROUND(COALESCE(SUM(amount * weight), 0) * 10000) AS DECIMAL(38, 0)) * 0.0001 AS DECIMAL(18, 4))
  ) AS net,
  IF(
    ISNAN(CAST(COALESCE(SUM(amount * weight) FILTER(WHERE
      amount > 0), 0) AS DOUBLE))
    OR ABS(CAST(COALESCE(SUM(amount * weight) FILTER(WHERE
      amount > 0), 0) AS DOUBLE)) = CAST('Infinity' AS DOUBLE),
    RAISE_ERROR('CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL'),
    CAST(CAST(ROUND(COALESCE(SUM(amount * weight) FILTER(WHERE
      amount > 0), 0) * 10000) AS DECIMAL(38, 0)) * 0.0001 AS DECIMAL(18, 4))
  ) AS gross,
  IF(
    ISNAN(CAST(COALESCE(SUM(amount * weight) FILTER(WHERE
      amount < 0), 0) AS DOUBLE))
    OR ABS(CAST(COALESCE(SUM(amount * weight) FILTER(WHERE
      amount < 0), 0) AS DOUBLE)) = CAST('Infinity' AS DOUBLE),
    RAISE_ERROR('CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL'),
    CAST(CAST(ROUND(COALESCE(SUM(amount * weight) FILTER(WHERE
      amount < 0), 0) * 10000) AS DECIMAL(38, 0)) * 0.0001 AS DECIMAL(18, 4))
  ) AS refunds,
  SUM(copies) FILTER(WHERE
    amount < 0) AS n_return_lines,
  BOOL_OR(amount >= 0) AS is_purchase
FROM lines
GROUP BY ALL
