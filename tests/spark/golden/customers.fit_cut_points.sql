WITH vals AS (
  SELECT
    'recency_days' AS metric,
    CAST(recency_days AS DOUBLE) AS v,
    COUNT(*) AS n
  FROM __rfm_table_customers
  GROUP BY ALL
  UNION ALL
  SELECT
    'frequency',
    CAST(frequency AS DOUBLE),
    COUNT(*)
  FROM __rfm_table_customers
  GROUP BY ALL
  UNION ALL
  SELECT
    'monetary',
    monetary,
    COUNT(*)
  FROM __rfm_table_customers
  GROUP BY ALL
), cum AS (
  SELECT
    metric,
    v,
    SUM(n) OVER (PARTITION BY metric ORDER BY v NULLS LAST) AS n_le,
    SUM(n) OVER (PARTITION BY metric) AS total
  FROM vals
)
SELECT
  metric,
  k,
  CASE
    WHEN metric = 'recency_days'
    THEN COALESCE(MAX(v) FILTER(WHERE
      (
        total - n_le
      ) * :bins >= k * total), MIN(v) - 1)
    ELSE MIN(v) FILTER(WHERE
      n_le * :bins >= k * total)
  END AS cut
FROM cum
CROSS JOIN (
  SELECT
    EXPLODE(SEQUENCE(1, (
      :bins
    ) - 1)) AS k
) AS t
GROUP BY
  metric,
  k
ORDER BY
  metric NULLS LAST,
  k NULLS LAST
