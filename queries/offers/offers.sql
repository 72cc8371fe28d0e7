-- Offer fit and next best offer (see rfm/offers for every formula).
-- Reads the normalised order lines ({lines}), the order table ({orders}) and
-- the customer scores ({scores}, with their churn columns {churn}); the offer
-- catalogue is a small table ({catalogue}: one row per offer, category lists
-- as LIST columns) registered by rfm/offers.  Values are $parameters, never
-- text; tables are {placeholders} the engine fills.

-- name: lines_all
-- The order lines offers learn from: kept lines (a customer id, a status not
-- excluded: the view's excluded column), duplicates kept as they are.
-- params: none
-- tables: lines
SELECT customer_id, order_id, order_date, amount, category
FROM {lines}
WHERE customer_id IS NOT NULL AND NOT excluded;

-- name: lines_distinct
-- As offer_lines_all, but exact duplicate lines count once (input.duplicates: drop).
-- params: none
-- tables: lines
SELECT DISTINCT ON (customer_id, order_id, line_hash) customer_id, order_id, order_date, amount, category
FROM {lines}
WHERE customer_id IS NOT NULL AND NOT excluded;

-- name: category_cells
-- THE one grouped pass over the order lines: one row per (customer, category)
-- with the decayed spend, the decayed and plain counts of purchase orders that
-- hold the category, and the last day it was bought.  Lines dated after
-- $as_of are ignored.  A line of age a days (a = $as_of - order_date) weighs
-- 0.5 ^ (a / $half_life_days).  Lines are first summed per (customer, order,
-- category) so an order with two lines in a category counts once; a cell with
-- a line >= 0 is a purchase of the category (all-negative cells are returns:
-- they lower spend and are not purchases).  NULL category lines form their
-- own cell: they count in the customer's totals and in no category.
-- params: as_of, half_life_days
-- tables: offer_lines
WITH per_order AS (
    SELECT
        customer_id,
        order_id,
        category,
        min(order_date) AS order_date,
        sum(amount * pow(0.5, date_diff('day', order_date, $as_of) / $half_life_days)) AS decayed_spend,
        bool_or(amount >= 0) AS purchased
    FROM {offer_lines}
    WHERE order_date <= $as_of
    GROUP BY customer_id, order_id, category
)
SELECT
    customer_id,
    category,
    sum(decayed_spend) AS decayed_spend,
    coalesce(sum(pow(0.5, date_diff('day', order_date, $as_of) / $half_life_days)) FILTER (WHERE purchased), 0)
        AS decayed_orders,
    count(*) FILTER (WHERE purchased) AS orders,
    max(order_date) FILTER (WHERE purchased) AS last_bought
FROM per_order
GROUP BY customer_id, category;

-- name: customer_totals
-- Per scored customer: purchase orders on or before $as_of (n, the evidence
-- behind the shares) and their decayed count (the order-share denominator),
-- from the order table, so an order with lines in several categories counts once.
-- params: as_of, half_life_days
-- tables: scores, orders
SELECT
    r.customer_id,
    count(o.order_id) AS n_orders,
    coalesce(sum(pow(0.5, date_diff('day', o.order_date, $as_of) / $half_life_days)), 0) AS decayed_orders
FROM {scores} AS r
LEFT JOIN {orders} AS o
    ON o.customer_id = r.customer_id AND o.line_class = 'kept' AND o.is_purchase AND o.order_date <= $as_of
GROUP BY r.customer_id;

-- name: affinity
-- Raw (unsmoothed) shares per (customer, category) for scored customers:
--   spend_share = max(0, decayed spend in c) / sum over the customer's cells of max(0, decayed spend)
--   order_share = decayed orders holding c / decayed purchase orders
-- (0 when the denominator is 0).  NULL categories are left out here but
-- counted in the denominators.
-- params: none
-- tables: cells, totals
WITH spend AS (
    SELECT customer_id, sum(greatest(decayed_spend, 0)) AS total_spend
    FROM {cells}
    GROUP BY customer_id
)
SELECT
    c.customer_id,
    c.category,
    CASE WHEN s.total_spend > 0 THEN greatest(c.decayed_spend, 0) / s.total_spend ELSE 0 END AS spend_share,
    CASE WHEN t.decayed_orders > 0 THEN least(1.0, c.decayed_orders / t.decayed_orders) ELSE 0 END AS order_share,
    c.orders,
    t.n_orders,
    c.last_bought
FROM {cells} AS c
JOIN {totals} AS t USING (customer_id)
JOIN spend AS s USING (customer_id)
WHERE c.category IS NOT NULL;

-- name: population
-- Population share of each category: the mean over all scored customers of
-- their raw shares (customers who never bought c count as 0), the prior the
-- customer shares are smoothed toward.
-- params: none
-- tables: affinity, totals
WITH n AS (SELECT count(*) AS customers FROM {totals})
SELECT
    a.category,
    sum(a.spend_share) / any_value(n.customers) AS spend_share,
    sum(a.order_share) / any_value(n.customers) AS order_share
FROM {affinity} AS a
CROSS JOIN n
GROUP BY a.category;

-- name: categories_seen
-- Categories bought on or before as_of, for the unknown-category check.
-- params: none
-- tables: cells
SELECT DISTINCT category FROM {cells} WHERE category IS NOT NULL ORDER BY category;

-- name: vectors
-- Per customer, the raw shares of the categories offers name ($categories,
-- in that order) as dense lists: spend_shares[i], order_shares[i],
-- orders[i] (purchase orders holding category i) and last_bought[i] (NULL:
-- never).  A pair (customer, offer) then reads its categories by index, so
-- customers x offers needs no join with a (customer x offer) table.  The
-- customer's cells are gathered as ONE list of structs (Spark keeps no common
-- order across several collected lists); slot[i] is the cell of category i.
-- params: categories
-- tables: affinity
WITH sparse AS (
    SELECT
        customer_id,
        list({
            'ix': list_position($categories, category),
            'spend_share': spend_share,
            'order_share': order_share,
            'orders': orders,
            'last_bought': last_bought
        }) AS cells
    FROM {affinity}
    WHERE list_contains($categories, category)
    GROUP BY customer_id
),
dense AS (
    SELECT
        customer_id,
        cells,
        list_transform(range(1, len($categories) + 1), lambda i: list_position(list_transform(cells, lambda e: e.ix), i))
            AS slot
    FROM sparse
)
SELECT
    customer_id,
    list_transform(slot, lambda j: coalesce(cells[j].spend_share, 0.0)) AS spend_shares,
    list_transform(slot, lambda j: coalesce(cells[j].order_share, 0.0)) AS order_shares,
    list_transform(slot, lambda j: coalesce(cells[j].orders, 0)) AS orders,
    list_transform(slot, lambda j: cells[j].last_bought) AS last_bought
FROM dense;

-- name: customers
-- The scored customers offers are fitted to: segment, action, monetary, usual
-- basket (aov), churn risk (0-100; NULL when no churn step ran), purchase
-- orders and category vectors.
-- params: none
-- tables: scores, churn, totals, vectors
SELECT
    r.customer_id, r.segment, r.action, r.monetary, r.aov, CAST(k.churn_risk AS DOUBLE) AS churn_risk, t.n_orders,
    v.spend_shares, v.order_shares, v.orders, v.last_bought
FROM {scores} AS r
JOIN {totals} AS t USING (customer_id)
LEFT JOIN {churn} AS k USING (customer_id)
LEFT JOIN {vectors} AS v USING (customer_id);

-- name: priors
-- Population shares of each offer's categories, summed (order share capped at 1).
-- params: none
-- tables: catalogue, population
SELECT
    o.position,
    coalesce(sum(p.spend_share), 0) AS pop_spend,
    least(1.0, coalesce(sum(p.order_share), 0)) AS pop_orders
FROM (SELECT position, unnest(categories) AS category FROM {catalogue}) AS o
LEFT JOIN {population} AS p USING (category)
GROUP BY o.position;

-- The formulas, each defined once as a macro (both offer_rank and offer_fits use them).

-- name: macro_sum_at
-- Sum of a customer's category vector over an offer's category indexes (0 when none).
-- params: none
CREATE OR REPLACE TEMP MACRO rfm_offer_sum_at(vec, ix) AS
    coalesce(list_sum(list_transform(ix, lambda i: vec[i])), 0);

-- name: macro_max_at
-- Largest value of a customer's category vector over an offer's category indexes.
-- params: none
CREATE OR REPLACE TEMP MACRO rfm_offer_max_at(vec, ix) AS
    list_max(list_transform(ix, lambda i: vec[i]));

-- name: macro_affinity
-- affinity = b * S~ + (1 - b) * O~ with X~ = (n * X + k * pop_X) / (n + k):
-- the customer's spend and order shares of the offer's categories, smoothed
-- toward the population with k pseudo-orders (0 when n + k = 0).
-- params: none
CREATE OR REPLACE TEMP MACRO rfm_offer_affinity(n, spend_share, order_share, pop_spend, pop_orders, k, b) AS
    CASE WHEN n + k > 0
        THEN b * (n * spend_share + k * pop_spend) / (n + k)
             + (1 - b) * (n * order_share + k * pop_orders) / (n + k)
        ELSE 0.0
    END;

-- name: macro_log_price_ratio
-- r = ln(price / aov); for a range [low, high] 0 when aov lies inside, else
-- the ratio to the nearer end; NULL when aov <= 0 (no usual basket).
-- params: none
CREATE OR REPLACE TEMP MACRO rfm_offer_log_price_ratio(aov, price_low, price_high) AS
    CASE
        WHEN aov IS NULL OR aov <= 0 THEN NULL
        WHEN aov < price_low THEN ln(price_low / aov)
        WHEN aov > price_high THEN ln(price_high / aov)
        ELSE 0.0
    END;

-- name: macro_price_fit
-- price_fit = 2 ^ -(r / ln T)^2: 1 at the usual basket, 0.5 at T times (or
-- 1/T of) it; ln T = log_up above the basket, log_down below; 0 when r is NULL.
-- params: none
CREATE OR REPLACE TEMP MACRO rfm_offer_price_fit(r, log_up, log_down) AS
    CASE
        WHEN r IS NULL THEN 0.0
        WHEN r > 0 THEN pow(2.0, -pow(r / log_up, 2))
        ELSE pow(2.0, -pow(r / log_down, 2))
    END;

-- name: macro_audience_match
-- How the offer's targets meet the customer: 1 segment targeted, 2 action
-- targeted, 3 offer with no targets (everyone), 4 neither.
-- params: none
CREATE OR REPLACE TEMP MACRO rfm_offer_audience_match(target_segments, target_actions, segment, action) AS
    CASE
        WHEN list_contains(target_segments, segment) THEN 1
        WHEN list_contains(target_actions, action) THEN 2
        WHEN len(target_segments) + len(target_actions) = 0 THEN 3
        ELSE 4
    END;

-- name: macro_audience_fit
-- Audience fit of a match code (see rfm_offer_audience_match).
-- params: none
CREATE OR REPLACE TEMP MACRO rfm_offer_audience_fit(match, for_segment, for_action, for_everyone, for_other) AS
    CASE match WHEN 1 THEN for_segment WHEN 2 THEN for_action WHEN 3 THEN for_everyone ELSE for_other END;

-- name: macro_blend
-- offer_fit = 100 * (w_a * affinity + w_p * price_fit + w_u * audience),
-- weights normalised per offer, rounded to 2 decimals.
-- params: none
CREATE OR REPLACE TEMP MACRO rfm_offer_blend(w_affinity, affinity, w_price, price_fit, w_audience, audience_fit) AS
    round(100 * (w_affinity * affinity + w_price * price_fit + w_audience * audience_fit), 2);

-- name: rank
-- The top $top_k eligible offers of every customer: (customer_id, position,
-- rank).  Customers x offers is the only cross product (offers are few); a
-- pair reads the customer's category vectors at the offer's category_ix,
-- never the lines.  Shares of several categories are summed (order share
-- capped at 1).  Eligibility: monetary >= min_monetary; churn_risk <=
-- max_churn_risk (when $check_churn; unknown risk fails); no purchase in the
-- offer's categories in the exclude_days days ending at $as_of.  Rank: fit
-- descending, then catalogue order, kept by one hash aggregate holding
-- integers only (the key packs the fit in hundredths above the position).
-- params: as_of, smoothing, spend_share_weight, log_scale_up, log_scale_down, audience_segment, audience_action, audience_everyone, audience_other, check_churn, top_k
-- tables: customers, catalogue, priors
WITH fits AS (
    SELECT
        c.customer_id,
        o.position,
        rfm_offer_blend(
            o.w_affinity,
            rfm_offer_affinity(
                c.n_orders,
                rfm_offer_sum_at(c.spend_shares, o.category_ix),
                least(1.0, rfm_offer_sum_at(c.order_shares, o.category_ix)),
                pr.pop_spend, pr.pop_orders, $smoothing, $spend_share_weight
            ),
            o.w_price,
            rfm_offer_price_fit(rfm_offer_log_price_ratio(c.aov, o.price_low, o.price_high), $log_scale_up, $log_scale_down),
            o.w_audience,
            rfm_offer_audience_fit(
                rfm_offer_audience_match(o.target_segments, o.target_actions, c.segment, c.action),
                $audience_segment, $audience_action, $audience_everyone, $audience_other
            )
        ) AS offer_fit
    FROM {customers} AS c
    CROSS JOIN ({catalogue} AS o JOIN {priors} AS pr USING (position))
    WHERE (o.min_monetary IS NULL OR c.monetary >= o.min_monetary)
      AND (o.max_churn_risk IS NULL OR NOT $check_churn OR coalesce(c.churn_risk <= o.max_churn_risk, false))
      AND (o.exclude_days IS NULL
           OR coalesce(date_diff('day', rfm_offer_max_at(c.last_bought, o.category_ix), $as_of) >= o.exclude_days, true))
),
ranked AS (
    SELECT
        customer_id,
        max_by(position, CAST(round(offer_fit * 100) AS BIGINT) * 1000000 - position, $top_k) AS top
    FROM fits
    GROUP BY customer_id
)
SELECT customer_id, position, CAST(list_position(top, position) AS INTEGER) AS rank  -- positions in top are distinct
FROM (SELECT customer_id, top, unnest(top) AS position FROM ranked) AS kept;

-- name: fits
-- The kept (customer, offer) rows with their components and reason.  The
-- reason names the largest weighted component (ties: affinity, price,
-- audience): affinity "buys X often" (at least $often_share of the
-- customer's orders hold the offer's categories) / "bought X before" (some)
-- / "X is popular" (none), X the offer category the customer spends most on
-- (equal shares: the first listed); price "price near usual basket"
-- (|r| <= $log_near) / "cheaper than usual basket" / "a step up from usual
-- basket"; audience "for <segment>" / "for <action> customers" / "open to
-- everyone"; "no strong fit" when all parts are 0.
-- params: smoothing, spend_share_weight, log_scale_up, log_scale_down, audience_segment, audience_action, audience_everyone, audience_other, often_share, log_near
-- tables: ranked, customers, catalogue, priors
WITH kept AS (
    SELECT
        r.customer_id,
        r.rank,
        o.offer_id,
        o.categories,
        o.w_affinity,
        o.w_price,
        o.w_audience,
        c.segment,
        c.action,
        c.n_orders,
        rfm_offer_sum_at(c.orders, o.category_ix) AS orders_in_categories,
        coalesce(
            list_position(
                list_transform(o.category_ix, lambda i: c.spend_shares[i]),
                rfm_offer_max_at(c.spend_shares, o.category_ix)
            ),
            1
        ) AS top_idx,
        rfm_offer_affinity(
            c.n_orders,
            rfm_offer_sum_at(c.spend_shares, o.category_ix),
            least(1.0, rfm_offer_sum_at(c.order_shares, o.category_ix)),
            pr.pop_spend, pr.pop_orders, $smoothing, $spend_share_weight
        ) AS affinity,
        rfm_offer_log_price_ratio(c.aov, o.price_low, o.price_high) AS log_price_ratio,
        rfm_offer_price_fit(log_price_ratio, $log_scale_up, $log_scale_down) AS price_fit,
        rfm_offer_audience_match(o.target_segments, o.target_actions, c.segment, c.action) AS audience_match,
        rfm_offer_audience_fit(audience_match, $audience_segment, $audience_action, $audience_everyone, $audience_other)
            AS audience_fit
    FROM {ranked} AS r
    JOIN {customers} AS c USING (customer_id)
    JOIN {catalogue} AS o USING (position)
    JOIN {priors} AS pr USING (position)
),
parts AS (
    SELECT
        *,
        w_affinity * affinity AS part_affinity,
        w_price * price_fit AS part_price,
        w_audience * audience_fit AS part_audience
    FROM kept
)
SELECT
    customer_id,
    offer_id,
    rfm_offer_blend(w_affinity, affinity, w_price, price_fit, w_audience, audience_fit) AS offer_fit,
    CASE WHEN w_affinity > 0 THEN round(affinity, 4) END AS affinity,
    round(price_fit, 4) AS price_fit,
    round(audience_fit, 4) AS audience_fit,
    CASE
        WHEN part_affinity + part_price + part_audience <= 0 THEN 'no strong fit'
        WHEN w_affinity > 0 AND part_affinity >= part_price AND part_affinity >= part_audience THEN CASE
            WHEN n_orders > 0 AND least(1.0, orders_in_categories / n_orders) >= $often_share
                THEN 'buys ' || categories[top_idx] || ' often'
            WHEN orders_in_categories > 0 THEN 'bought ' || categories[top_idx] || ' before'
            ELSE categories[top_idx] || ' is popular'
        END
        WHEN part_price >= part_audience THEN CASE
            WHEN abs(log_price_ratio) <= $log_near THEN 'price near usual basket'
            WHEN log_price_ratio < 0 THEN 'cheaper than usual basket'
            ELSE 'a step up from usual basket'
        END
        ELSE CASE audience_match
            WHEN 1 THEN 'for ' || segment
            WHEN 2 THEN 'for ' || action || ' customers'
            ELSE 'open to everyone'
        END
    END AS reason,
    rank
FROM parts;

-- name: top
-- The top-k table: every kept (customer, offer) row, plus one row with no
-- offer (offer_id NULL, reason 'no eligible offer') for each scored customer
-- no offer is eligible for: the customers joined to their kept rows (not a
-- UNION ALL with an anti join: Spark 4.0 fails to checkpoint that union of a
-- checkpointed table).  Sorted by customer, then rank.  Kept in the engine
-- (it has k rows per customer): Python reads it only when asked.
-- params: none
-- tables: fits, customers
SELECT
    c.customer_id,
    f.offer_id,
    f.offer_fit,
    f.affinity,
    f.price_fit,
    f.audience_fit,
    CASE WHEN f.customer_id IS NULL THEN 'no eligible offer' ELSE f.reason END AS reason,
    f.rank
FROM {customers} AS c
LEFT JOIN {fits} AS f ON f.customer_id = c.customer_id
ORDER BY customer_id, rank NULLS LAST;

-- name: best
-- The next best offer per scored customer: rank 1, or the no-offer row.
-- params: none
-- tables: top
SELECT customer_id, offer_id AS next_best_offer, offer_fit, reason
FROM {top}
WHERE rank IS NULL OR rank = 1;

-- name: reach
-- How many customers each offer was kept for (in their top k), for the
-- "offer reaches nobody" warning.
-- params: none
-- tables: catalogue, fits
SELECT o.offer_id, count(f.customer_id) AS customers, count(f.customer_id) FILTER (WHERE f.rank = 1) AS best_for
FROM {catalogue} AS o
LEFT JOIN {fits} AS f USING (offer_id)
GROUP BY o.offer_id, o.position
ORDER BY o.position;

-- name: hit_rate
-- Backtest of the top offer over the holdout [$start, $end]: a customer with
-- a recommended offer is a hit when they bought (a kept
-- line with amount >= 0) in one of its categories in the holdout.  Baseline:
-- the most bought category before $start (most purchase orders holding it;
-- ties by name) recommended to the same customers.  {best} holds
-- (customer_id, next_best_offer).
-- params: start, end
-- tables: best, catalogue, offer_lines
WITH recommended AS (
    SELECT b.customer_id, o.categories
    FROM {best} AS b
    JOIN {catalogue} AS o ON o.offer_id = b.next_best_offer
),
holdout AS (
    SELECT DISTINCT customer_id, category
    FROM {offer_lines}
    WHERE order_date BETWEEN $start AND $end AND amount >= 0
),
popular AS (
    SELECT category
    FROM (
        SELECT DISTINCT customer_id, order_id, category
        FROM {offer_lines}
        WHERE order_date < $start AND amount >= 0 AND category IS NOT NULL
    )
    GROUP BY category
    ORDER BY count(*) DESC, category
    LIMIT 1
),
per_customer AS (
    SELECT
        r.customer_id,
        bool_or(list_contains(r.categories, h.category)) AS hit,
        bool_or(h.category = (SELECT category FROM popular)) AS baseline_hit,
        bool_or(h.customer_id IS NOT NULL) AS active
    FROM recommended AS r
    LEFT JOIN holdout AS h USING (customer_id)
    GROUP BY r.customer_id
)
SELECT
    count(*) AS customers,
    count(*) FILTER (WHERE active) AS active_customers,
    count(*) FILTER (WHERE hit) AS hits,
    count(*) FILTER (WHERE baseline_hit) AS baseline_hits,
    (SELECT category FROM popular) AS baseline_category
FROM per_customer;

-- name: attach
-- The customer table with the next best offer (offer_best) added, in customer order.
-- params: none
-- tables: scores, best
SELECT r.*, b.next_best_offer, b.offer_fit, b.reason AS offer_reason
FROM {scores} AS r
LEFT JOIN {best} AS b USING (customer_id)
ORDER BY r.customer_id;
