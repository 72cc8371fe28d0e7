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
* ``CAST(x AS DECIMAL(p, s))`` rounds the binary value as DuckDB does, and fails on NaN
  and infinity as DuckDB does (Spark would make them a NULL decimal, silently dropped from sums).
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
import numbers
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

try:  # numpy's bool is not an int: bind it as a boolean
    from numpy import bool_ as numpy_bool
except ImportError:  # pragma: no cover - numpy ships with polars' peers here
    numpy_bool = bool  # type: ignore[misc,assignment]

from rfm.engine._queries import Query, load_queries
from rfm.errors import EngineError

_TABLE_PREFIX = "__rfm_table_"
_TABLE_USE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_MACRO = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+MACRO\s+(\w+)\s*\(([^)]*)\)\s+AS\s+(.*)$", re.I | re.S)
SPARK_SUFFIX = "__spark"


class TranspileError(EngineError):
    """A block that the transform cannot express in Spark SQL (a programming error, reported in one line)."""


class _DuckDB(DuckDB):
    """DuckDB as sqlglot reads it, but list indexes left as written (1-based): the transform
    maps every ``l[i]`` to ``try_element_at(l, i)`` unchanged, literal, negative or computed."""

    INDEX_OFFSET = 0


# --- literals -------------------------------------------------------------------------------


def literal(value: Any) -> exp.Expression:
    """A Python value as a typed SQL literal (the only way a value enters Spark SQL)."""
    if value is None:
        return exp.Null()
    if isinstance(value, (bool, numpy_bool)):
        return exp.Boolean(this=bool(value))
    if isinstance(value, numbers.Integral):
        return exp.Literal.number(int(value))
    if isinstance(value, Decimal):  # DuckDB binds a DECIMAL: so does this
        digits = value.as_tuple()
        scale = max(0, -int(digits.exponent))  # type: ignore[arg-type]
        precision = min(38, max(len(digits.digits), scale + 1))
        return exp.cast(exp.Literal.string(str(value)), exp.DataType.build(f"DECIMAL({precision}, {scale})"))
    if isinstance(value, numbers.Real):  # float, numpy floats
        x = float(value)
        text = "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity") if math.isinf(x) else repr(x)
        return exp.cast(exp.Literal.string(text), exp.DataType.build("DOUBLE"))
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


# strptime directives -> Java pattern letters that parse as leniently as DuckDB does: one or
# two digits for day, month, hour, minute, second; %y is handled apart (its century pivot).
_JAVA = {
    "Y": "yyyy", "y": "yy", "m": "M", "d": "d", "e": "d", "H": "H", "I": "h", "M": "m", "S": "s",
    "f": "SSSSSS", "p": "a", "b": "MMM", "h": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE",
    "j": "D", "z": "xx", "Z": "zzz", "%": "%",
}


def java_pattern(fmt: str) -> str:
    """A strptime format (DuckDB's) as a Java DateTimeFormatter pattern; literal text quoted."""
    out, i, text = [], 0, []

    def flush() -> None:
        if text:
            chunk = "".join(text).replace("'", "''")
            out.append(chunk if not any(c.isalpha() for c in chunk) else f"'{chunk}'")
            text.clear()

    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            if code not in _JAVA:
                raise TranspileError(f"date format {fmt!r}: %{code} has no Spark equivalent; use another format")
            if code == "%":
                text.append("%")
            else:
                flush()
                letters = _JAVA[code]
                # a one-letter field next to another field (%Y%m%d) cannot know where it ends: fixed width
                touching = fmt[i + 2:i + 3] == "%" or _after_field(fmt, i)
                if len(letters) == 1 and letters in "MdHhms" and touching:
                    letters *= 2
                out.append(letters)
            i += 2
        else:
            text.append(fmt[i])
            i += 1
    flush()
    return "".join(out)


def _after_field(fmt: str, i: int) -> bool:
    """The directive at ``i`` follows another directive with nothing between them."""
    return i >= 2 and fmt[i - 2] == "%" and fmt[i - 1] in _JAVA


def _parse_time(value: exp.Expression, fmt: exp.Expression, *, safe: bool) -> exp.Expression:
    """``strptime`` (raises) / ``try_strptime`` (NULL) on Spark, with DuckDB's %y century pivot
    (69-99 -> 19xx; Java's ``yy`` is always 20xx)."""
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        raise TranspileError(f"a date format must be a literal on Spark, not {fmt.sql('duckdb')}")
    parsed = _fn("try_to_timestamp" if safe else "to_timestamp", value, exp.Literal.string(java_pattern(fmt.this)))
    if "%y" not in fmt.this:
        return parsed
    ts = exp.to_identifier("ts")
    pivot = exp.If(
        this=exp.GTE(this=_fn("year", exp.column(ts)), expression=exp.Literal.number(2069)),
        true=_fn("add_months", exp.column(ts), exp.Literal.number(-1200)),
        false=exp.column(ts),
    )
    # a lambda over a one-element array: the timestamp is parsed once
    return _fn("element_at", _fn("transform", exp.Array(expressions=[parsed]), exp.Lambda(this=pivot, expressions=[ts])),
               exp.Literal.number(1))


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
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        return _fn("try_element_at", node.this, node.expressions[0])  # parsed 1-based (_DuckDB)
    if isinstance(node, exp.StrToTime):  # strptime(x, fmt)
        return _parse_time(node.this, node.args["format"], safe=bool(node.args.get("safe")))
    if isinstance(node, exp.Round) and node.args.get("decimals") is not None:
        return _round(node.this, node.args["decimals"])
    if (isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DECIMAL and len(node.to.expressions) == 2
            and not node.meta.get("rfm_rounded")):
        return _to_decimal(node)
    if isinstance(node, exp.Length):
        return exp.ArraySize(this=node.this)
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        args = node.expressions
        if name == "error":
            return _fn("raise_error", *args)
        if name == "try_strptime":
            return _parse_time(args[0], args[1], safe=True)
        if name == "list_position":
            position = _fn("nullif", _fn("array_position", *args), exp.Literal.number(0))
            return exp.cast(position, exp.DataType.build("INT"))  # DuckDB: INTEGER (an index Spark accepts)
        if name == "list_sum":  # NULL elements skipped, NULL for an empty list: as DuckDB
            acc, x = exp.to_identifier("acc"), exp.to_identifier("x")
            known = exp.Lambda(this=exp.Not(this=exp.Is(this=exp.column(x), expression=exp.Null())), expressions=[x])
            add = exp.Lambda(
                this=exp.Add(this=exp.Coalesce(this=exp.column(acc), expressions=[exp.Literal.number(0)]),
                             expression=exp.column(x)),
                expressions=[acc, x],
            )
            return _fn("aggregate", _fn("filter", args[0], known), exp.cast(exp.Null(), exp.DataType.build("DOUBLE")), add)
    return node


def _round(value: exp.Expression, decimals: exp.Expression) -> exp.Expression:
    """``round(x, n)`` as DuckDB computes it for a double: ``round(x * 10^n) / 10^n`` (Spark rounds the
    shortest decimal text instead: round(1.005, 2) is 1.01 there, 1.0 on DuckDB)."""
    if not (isinstance(decimals, exp.Literal) and not decimals.is_string):
        raise TranspileError(f"round(x, n): n must be a number literal on Spark, not {decimals.sql('duckdb')}")
    n = int(decimals.this)
    if n <= 0:
        return exp.Round(this=value, decimals=decimals)
    scale = exp.Literal.number(10**n)
    scaled = exp.Round(this=exp.Mul(this=_as_double(value), expression=scale))
    return exp.Div(this=scaled, expression=_as_double(scale))


def _to_decimal(node: exp.Cast) -> exp.Expression:
    """``CAST(x AS DECIMAL(p, s))`` rounding as DuckDB does, on the binary value: exact for a
    DECIMAL input, ``round(x * 10^s)`` for a double (0.00015 -> 0.0001 on both engines)."""
    p, s = (int(e.this.this) for e in node.to.expressions)
    if s == 0:
        return node
    units = exp.cast(exp.Round(this=exp.Mul(this=node.this, expression=exp.Literal.number(10**s))),
                     exp.DataType.build("DECIMAL(38, 0)"))
    step = exp.Literal.number(f"{Decimal(1).scaleb(-s):f}")  # 0.0001: a DECIMAL(s, s) literal on Spark
    value = exp.cast(exp.Mul(this=units, expression=step), exp.DataType.build(f"DECIMAL({p}, {s})"))
    value.meta["rfm_rounded"] = True  # done: the rules do not rewrite it again
    # Spark casts NaN and infinity to a NULL decimal, silently; DuckDB fails the cast: so does this
    double = _as_double(node.this.copy())
    unusable = exp.or_(_fn("isnan", double), exp.EQ(this=_fn("abs", double.copy()),
                                                    expression=exp.cast(exp.Literal.string("Infinity"),
                                                                        exp.DataType.build("DOUBLE"))))
    fail = _fn("raise_error", exp.Literal.string("CAST_INVALID_INPUT: NaN or infinity cannot be a DECIMAL"))
    return exp.If(this=unusable, true=fail, false=value)


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
            found[m.group(1).lower()] = (params, sqlglot.parse_one(m.group(3), read=_DuckDB))
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
        tree = sqlglot.parse_one(sql, read=_DuckDB)
    except sqlglot.errors.ParseError as exc:
        raise TranspileError(f"{q.file}:{q.line}: {q.name}: sqlglot cannot parse it ({exc})") from None
    return _expand_macros(tree).transform(_fix_all)


def spark_block(q: Query, names: Mapping[str, str], params: Mapping[str, Any]) -> str:
    """Spark SQL of block ``q`` with its tables named and its parameters bound as literals."""
    tree = spark_tree(q.name).copy()
    return _finish(tree, names, params, where=f"{q.file}:{q.line}: {q.name}")


def spark_sql(sql: str, params: Mapping[str, Any] | None = None) -> str:
    """Generated DuckDB SQL (the order-line view, the error path) in Spark's dialect."""
    tree = sqlglot.parse_one(sql, read=_DuckDB)
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


def order_keys(sql: str, columns: list[str]) -> tuple[str, ...]:
    """The top-level ORDER BY of a Spark query as keys on its output ``columns``, to read the
    materialised table back in that order.  A key that is not an output column is refused: the
    table would come back unordered on Spark only."""
    tree = sqlglot.parse_one(sql, read="spark")
    order = tree.args.get("order")
    if order is None:
        return ()
    keys = []
    for ordered in order.expressions:
        if not isinstance(ordered.this, exp.Column) or ordered.this.name not in columns:
            raise TranspileError(
                f"ORDER BY {ordered.sql('spark')}: a table built by a block is read back by its output "
                "columns; order by a column of the SELECT list"
            )
        key = exp.Ordered(this=exp.column(ordered.this.name, quoted=True), desc=ordered.args.get("desc"),
                          nulls_first=ordered.args.get("nulls_first"))
        keys.append(key.sql(dialect="spark"))
    return tuple(keys)
