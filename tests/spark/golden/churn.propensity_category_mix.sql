WITH l AS (
  SELECT
    customer_id,
    category,
    ANY_VALUE(order_date) IGNORE NULLS AS order_date,
    CASE
      WHEN :drop_duplicates
      THEN ANY_VALUE(
        IF(
          ISNAN(CAST(amount AS DOUBLE))
          OR ABS(CAST(amount AS DOUBLE)) = CAST('Infinity' AS DOUBLE),
          RAISE_ERROR('CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL'),
          CAST(CAST(ROUND(amount * 10000) AS DECIMAL(38, 0)) * 0.0001 AS DECIMAL(18, 4))
        )
      ) IGNORE NULLS
      ELSE SUM(
        IF(
          ISNAN(CAST(amount AS DOUBLE))
          OR ABS(CAST(amount AS DOUBLE)) = CAST('Infinity' AS DOUBLE),
          RAISE_ERROR('CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL'),
          CAST(CAST(ROUND(amount * 10000) AS DECIMAL(38, 0)) * 0.0001 AS DECIMAL(18, 4))
        )
      )
    END AS amount
  FROM __rfm_table_lines
  WHERE
    NOT customer_id IS NULL
    AND NOT excluded
    AND NOT bad_date
    AND NOT category IS NULL
    AND order_date <= :as_of
  GROUP BY
    customer_id,
    order_id,
    line_hash,
    category
), cells AS (
  SELECT
    customer_id,
    category,
    GREATEST(COALESCE(SUM(amount) FILTER(WHERE
      order_date <= :train_end), 0), 0) AS spend_train,
    GREATEST(SUM(amount), 0) AS spend
  FROM l
  GROUP BY
    customer_id,
    category
)
SELECT
  customer_id,
  CAST(COUNT(*) FILTER(WHERE
    spend_train > 0) AS DOUBLE) AS categories_train,
  CASE
    WHEN SUM(spend_train) > 0
    THEN CAST(MAX(spend_train) AS DOUBLE) / CAST(SUM(spend_train) AS DOUBLE)
  END AS main_category_share_train,
  CAST(COUNT(*) FILTER(WHERE
    spend > 0) AS DOUBLE) AS categories,
  CASE
    WHEN SUM(spend) > 0
    THEN CAST(MAX(spend) AS DOUBLE) / CAST(SUM(spend) AS DOUBLE)
  END AS main_category_share
FROM cells
GROUP BY
  customer_id
ORDER BY
  customer_id NULLS LAST
