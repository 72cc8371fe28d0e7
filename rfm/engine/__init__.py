"""The one seam to the database.

Every statement ``rfm`` runs goes through an :class:`Engine`: DuckDB in
process by default (:class:`DuckDBEngine`), or Apache Spark
(:class:`SparkEngine`, the ``rfm[spark]`` extra) for order histories that live
in a lakehouse.  An engine owns the connection and its settings, runs the
named blocks of ``queries/<capability>/*.sql`` with bound parameters, names and
drops the tables it materialises, registers small frames, reads the inputs
into a normalised order-line view, and hands results back as polars frames
or streams them to files.  No module outside this package imports ``duckdb``
or ``pyspark`` or writes SQL.

>>> engine = open_engine(EngineSettings(memory_limit="4GB"))     # doctest: +SKIP
>>> totals = engine.create("customers.build_customer_totals",    # doctest: +SKIP
...                        {"lines": lines}, as_of=day, window_start=None)
>>> engine.fetch("customers.totals_stats", {"totals": totals})   # doctest: +SKIP
"""

from rfm.engine._duckdb import DuckDBEngine
from rfm.engine._engine import Engine, is_spark_frame
from rfm.engine._errors import NOT_UTF8, first_line
from rfm.engine._postgres import check_writable as check_database_output
from rfm.engine._postgres import is_url as is_database_url
from rfm.engine._postgres import read_arrow as read_database_table
from rfm.engine._postgres import redact
from rfm.engine._postgres import source_label as database_label
from rfm.engine._queries import Query, load_queries, queries_dir, query
from rfm.engine._settings import EngineSettings, open_engine
from rfm.engine._sources import LineSpec, type_class
from rfm.engine._tables import QueryRows, Relation, Table, quote_ident

__all__ = [
    "NOT_UTF8",
    "DuckDBEngine",
    "Engine",
    "EngineSettings",
    "LineSpec",
    "Query",
    "QueryRows",
    "Relation",
    "Table",
    "check_database_output",
    "database_label",
    "first_line",
    "is_database_url",
    "is_spark_frame",
    "read_database_table",
    "load_queries",
    "open_engine",
    "queries_dir",
    "query",
    "quote_ident",
    "redact",
    "type_class",
]
