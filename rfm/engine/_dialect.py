"""DuckDB SQL to Spark SQL: the blocks of ``queries/`` are written once.

The Spark engine reads every block through :func:`spark_block`: sqlglot parses
the DuckDB SQL, the project transform below fixes what sqlglot's own DuckDB ->
Spark translation gets wrong or cannot know for our blocks, and the result is
cached per block.  Parameters are bound per call as typed literals
(:func:`literal`) in the tree, never spliced into text: a string is always a
quoted literal, a float a ``DOUBLE``, a date a ``DATE``.

What the transform does, and why:

* ``$param`` -> a typed literal (Spark reads ``1.5`` as a DECIMAL; we want DOUBLE).
* ``{table}`` -> the engine's quoted table name.
* ``x / y`` -> ``CAST(x AS DOUBLE) / CAST(y AS DOUBLE)``: DuckDB divides in
  double precision whatever the operand types; Spark would divide DECIMALs as
  DECIMALs and round differently.
* ``list[i]`` -> ``try_element_at(list, i)``: DuckDB lists are 1-based, Spark's
  ``[]`` is 0-based (an untouched index silently gives another element).
* ``len(list)`` -> ``size(list)`` (no block takes the length of a string).
* ``list_position(l, x)`` -> ``CAST(nullif(array_position(l, x), 0) AS INT)`` (DuckDB: an INTEGER, NULL when absent).
* ``list_sum(l)`` -> ``aggregate(l, 0D, ...)``; ``try_strptime`` ->
  ``try_to_timestamp`` with the format translated; ``error()`` -> ``raise_error()``.
* ``range(a, b) AS t(k)`` as a table -> ``(SELECT explode(sequence(a, b - 1)) AS k) AS t``.
* ``CAST(x AS <enum type>)`` -> ``x`` (enums are a DuckDB storage choice).
* ``quantile_cont(x, p)`` and ``percentile_cont(p) WITHIN GROUP (ORDER BY x)`` ->
  ``percentile(x, p)``: Spark's exact percentile interpolates linearly at
  ``(n - 1) * p`` as DuckDB does (sqlglot would write Spark's one-argument
  ``percentile_cont`` wrongly, or ``percentile_approx``).  ``median`` stays
  ``median`` (Spark's is ``percentile(x, 0.5)``).  Same results for INTEGER and
  DOUBLE columns; of a DECIMAL column DuckDB's is a DECIMAL of the column's scale,
  Spark's a DOUBLE (cast the column to DOUBLE in the block for the same number).
* ``rfm_*`` macro calls (``CREATE MACRO`` blocks) -> the macro body, arguments
  substituted: Spark SQL has no macros.
* ``max_by(x, y, n)`` / ``min_by(x, y, n)`` (Spark has only the two-argument
  form) -> ``transform(slice(sort_array(collect_list(struct(y, x)), desc), 1, n), e -> e.v)``:
  the ``x`` of the ``n`` largest (smallest) ``y``, in that order; rows with a
  NULL ``x`` or ``y`` are skipped, as DuckDB does.  Equal ``y``: DuckDB's order
  is arbitrary, Spark's is by ``x``; give the key a tie-break to make it exact.
* Every rule also applies inside what another rule rewrote (sqlglot's
  ``transform`` does not descend into a replaced node; :func:`_fix_all` does).

A block that cannot be expressed this way has a Spark variant next to it in
``queries/`` (``-- name: <block>__spark``), which :func:`spark_block` prefers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.spark import Spark
from sqlglot.time import format_time

from rfm.engine._queries import Query, load_queries

_TABLE_PREFIX = "__rfm_table_"
_TABLE_USE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_MACRO = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+MACRO\s+(\w+)\s*\(([^)]*)\)\s+AS\s+(.*)$", re.I | re.S)
SPARK_SUFFIX = "__spark"


class TranspileError(Exception):
    """A block that the transform cannot express in Spark SQL."""


# --- literals -------------------------------------------------------------------------------


def literal(value: Any) -> exp.Expression:
    """A Python value as a typed SQL literal (the only way a value enters Spark SQL)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity") if math.isinf(value) else repr(value)
        return exp.cast(exp.Literal.string(text), exp.DataType.build("DOUBLE"))
    if isinstance(value, Decimal):
        return exp.cast(exp.Literal.string(str(value)), exp.DataType.build("DOUBLE"))
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, (list, tuple)):
        items = [literal(v) for v in value]
        if not items:  # an empty list needs a type: DuckDB's lists here are of text or numbers
            return exp.cast(exp.Array(expressions=[]), exp.DataType.build("ARRAY<STRING>", dialect="spark"))
        return exp.Array(expressions=items)
    raise TypeError(f"cannot bind a {type(value).__name__} as a SQL literal")


# --- the transform --------------------------------------------------------------------------


def _java_format(fmt: exp.Expression) -> exp.Expression:
    """A strptime format literal in Java's pattern letters (DuckDB -> sqlglot's own -> Spark's)."""
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        raise TranspileError(f"a date format must be a literal on Spark, not {fmt.sql('duckdb')}")
    internal = format_time(fmt.this, DuckDB.TIME_MAPPING, DuckDB.TIME_TRIE) or fmt.this
    return exp.Literal.string(format_time(internal, Spark.INVERSE_TIME_MAPPING, Spark.INVERSE_TIME_TRIE) or internal)


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _as_double(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DOUBLE:
        return node
    return exp.cast(node, exp.DataType.build("DOUBLE"))


def _range_table(node: exp.Table) -> exp.Expression:
    """``range(a, b) AS t(k)`` -> ``(SELECT explode(sequence(a, b - 1)) AS k) AS t``."""
    series: exp.GenerateSeries = node.this
    alias = node.args.get("alias")
    column = alias.columns[0].name if alias is not None and alias.columns else "range"
    name = alias.name if alias is not None and alias.name else "range"
    end = series.args["end"]
    if series.args.get("is_end_exclusive"):
        end = exp.Sub(this=exp.paren(end.copy(), copy=False), expression=exp.Literal.number(1))
    seq = _fn("sequence", series.args["start"].copy(), end)
    select = exp.select(exp.alias_(_fn("explode", seq), column)).subquery(name)
    return select


def _fix(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
        return _range_table(node)
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.USERDEFINED:
        return node.this
    if isinstance(node, exp.PercentileCont) and node.expression is not None:  # DuckDB quantile_cont(x, p)
        return _fn("percentile", node.this, node.expression)
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        keys = node.expression.expressions if isinstance(node.expression, exp.Order) else []
        if len(keys) != 1 or keys[0].args.get("desc"):
            raise TranspileError(f"{node.sql('duckdb')}: write quantile_cont(x, p) for Spark")
        return _fn("percentile", keys[0].this, node.this.this)
    if isinstance(node, (exp.ArgMax, exp.ArgMin)) and node.args.get("count") is not None:
        return _top_n(node)
    if isinstance(node, exp.Div):
        return exp.Div(this=_as_double(node.this), expression=_as_double(node.expression))
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1 and not node.args.get("offset"):
        index = node.expressions[0]
        if isinstance(index, exp.Literal) and not index.is_string:  # sqlglot made a literal 0-based when parsing
            index = exp.Literal.number(int(index.this) + 1)
        return _fn("try_element_at", node.this, index)
    if isinstance(node, exp.Length):
        return exp.ArraySize(this=node.this)
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        args = node.expressions
        if name == "error":
            return _fn("raise_error", *args)
        if name == "try_strptime":
            return _fn("try_to_timestamp", args[0], _java_format(args[1]))
        if name == "list_position":
            position = _fn("nullif", _fn("array_position", *args), exp.Literal.number(0))
            return exp.cast(position, exp.DataType.build("INT"))  # DuckDB: INTEGER (an index Spark accepts)
        if name == "list_sum":
            acc, x = exp.to_identifier("acc"), exp.to_identifier("x")
            add = exp.Lambda(this=exp.Add(this=exp.column(acc), expression=exp.column(x)), expressions=[acc, x])
            return _fn("aggregate", args[0], exp.cast(exp.Literal.number(0), exp.DataType.build("DOUBLE")), add)
    return node


def _top_n(node: exp.ArgMax | exp.ArgMin) -> exp.Expression:
    """``max_by(x, y, n)`` (``min_by``) as Spark SQL: see the module docstring."""
    x, y = node.this, node.expression
    known = exp.and_(exp.Not(this=exp.Is(this=x.copy(), expression=exp.Null())),
                     exp.Not(this=exp.Is(this=y.copy(), expression=exp.Null())))
    pair = exp.case().when(known, _fn("struct", exp.alias_(y, "k"), exp.alias_(x, "v")))  # else NULL: not collected
    ordered = _fn("sort_array", _fn("collect_list", pair), exp.Boolean(this=isinstance(node, exp.ArgMin)))
    first_n = _fn("slice", ordered, exp.Literal.number(1), node.args["count"])
    e = exp.to_identifier("e")
    return _fn("transform", first_n, exp.Lambda(this=exp.column("v", table=e), expressions=[e]))


def _fix_all(node: exp.Expression) -> exp.Expression:
    """:func:`_fix`, also inside a node it rewrote (sqlglot's transform skips a replaced node's parts)."""
    new = _fix(node)
    if new is not node:
        for child in list(new.iter_expressions()):
            child.replace(child.transform(_fix_all, copy=False))
    return new


@cache
def _macros() -> dict[str, tuple[list[str], exp.Expression]]:
    """Every ``CREATE MACRO`` block: name -> (parameter names, body tree)."""
    found: dict[str, tuple[list[str], exp.Expression]] = {}
    for q in load_queries().values():
        m = _MACRO.match(q.sql)
        if m:
            params = [p.strip() for p in m.group(2).split(",") if p.strip()]
            found[m.group(1).lower()] = (params, sqlglot.parse_one(m.group(3), read="duckdb"))
    return found


def is_macro(q: Query) -> bool:
    return bool(_MACRO.match(q.sql))


def _expand_macros(tree: exp.Expression) -> exp.Expression:
    macros = _macros()

    def expand(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() in macros:
            params, body = macros[node.name.lower()]
            args = dict(zip(params, node.expressions))
            if len(args) != len(params):
                raise TranspileError(f"macro {node.name} takes {len(params)} arguments")

            def substitute(inner: exp.Expression) -> exp.Expression:
                if isinstance(inner, exp.Column) and not inner.table and inner.name in args:
                    return exp.paren(args[inner.name].copy(), copy=False)
                return inner

            return _expand_macros(body.copy().transform(substitute))
        return node

    return tree.transform(expand)


@cache
def spark_tree(name: str) -> exp.Expression:
    """The block ``name`` in Spark's dialect, parameters still placeholders (cached)."""
    queries = load_queries()
    q = queries.get(name + SPARK_SUFFIX, queries[name])
    sql = _TABLE_USE.sub(lambda m: _TABLE_PREFIX + m.group(1), q.sql)
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise TranspileError(f"{q.file}:{q.line}: {q.name}: sqlglot cannot parse it ({exc})") from None
    return _expand_macros(tree).transform(_fix_all)


def spark_block(q: Query, names: Mapping[str, str], params: Mapping[str, Any]) -> str:
    """Spark SQL of block ``q`` with its tables named and its parameters bound as literals."""
    tree = spark_tree(q.name).copy()
    return _finish(tree, names, params, where=f"{q.file}:{q.line}: {q.name}")


def spark_sql(sql: str, params: Mapping[str, Any] | None = None) -> str:
    """Generated DuckDB SQL (the order-line view, the error path) in Spark's dialect."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = _bind(tree, params or {})  # formats must be literals before try_strptime is rewritten
    return _finish(tree.transform(_fix_all), {}, {}, where="generated SQL")


def _bind(tree: exp.Expression, params: Mapping[str, Any]) -> exp.Expression:
    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in params:
            return literal(params[node.name])
        return node

    return tree.transform(bind)


def _finish(tree: exp.Expression, names: Mapping[str, str], params: Mapping[str, Any], where: str) -> str:
    tree = _bind(tree, params)

    def name_tables(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name.startswith(_TABLE_PREFIX):
            key = node.name[len(_TABLE_PREFIX):]
            node.set("this", exp.to_identifier(names[key], quoted=True))
        return node

    tree = tree.transform(name_tables)
    left = [p.name for p in tree.find_all(exp.Placeholder)]
    if left:
        raise TranspileError(f"{where}: parameter ${left[0]} is not bound")
    return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)


def order_keys(sql: str) -> tuple[str, ...]:
    """The top-level ORDER BY of a Spark query as keys on its output columns (empty if any key is an expression)."""
    tree = sqlglot.parse_one(sql, read="spark")
    order = tree.args.get("order")
    if order is None:
        return ()
    keys = []
    for ordered in order.expressions:
        if not isinstance(ordered.this, exp.Column):
            return ()
        key = exp.Ordered(this=exp.column(ordered.this.name, quoted=True), desc=ordered.args.get("desc"),
                          nulls_first=ordered.args.get("nulls_first"))
        keys.append(key.sql(dialect="spark"))
    return tuple(keys)
