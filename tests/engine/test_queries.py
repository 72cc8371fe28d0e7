"""The SQL block loader: every block parsed, and a broken block fails at load time naming file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rfm.engine import load_queries, query, quote_ident
from rfm.engine._queries import parse_file
from rfm.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "demo"
    folder.mkdir(exist_ok=True)
    path = folder / "blocks.sql"
    path.write_text(text)
    return path


def test_shipped_blocks_are_folder_qualified_and_declare_what_they_read():
    queries = load_queries()
    assert {name.split(".")[0] for name in queries} == {"customers", "churn", "offers", "reports"}
    q = query("customers.build_customers")
    assert (q.params, q.tables, q.file, q.returns_rows) == (("as_of", "monetary"), ("totals",), "customers/totals.sql", True)
    assert query("customers.line_class_type").returns_rows is False  # a statement: run(), never create()


def test_render_quotes_the_engine_names_and_binds_only_declared_params():
    q = query("customers.refund_only_customers")
    sql = q.render({"totals": 'rfm_7_"totals'}, quote_ident)
    assert 'FROM "rfm_7_""totals"' in sql and "{totals}" not in sql
    with pytest.raises(TypeError, match=r"reads tables \['totals'\]; missing \['totals'\], unexpected \['orders'\]"):
        q.render({"orders": "x"}, quote_ident)
    with pytest.raises(TypeError, match=r"takes params \['as_of', 'monetary'\]; missing \['monetary'\], unexpected \['x'\]"):
        query("customers.build_customers").bind({"as_of": 1, "x": 2})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- name: a\n-- params: none\n", r"blocks\.sql:1: query 'a' has an empty body"),
        ("-- name: a\nSELECT 1", r"blocks\.sql:1: query 'a' has no '-- params:' line"),
        ("-- name: a\n-- params: none\nSELECT $x", r"blocks\.sql:1: query 'a' uses undeclared parameter\(s\) \['x'\]"),
        ("-- name: a\n-- params: x\nSELECT 1", r"blocks\.sql:1: query 'a' declares parameter\(s\) \['x'\] it never uses"),
        ("-- name: a\n-- params: none\nSELECT * FROM {t}", r"query 'a' uses undeclared table\(s\) \['t'\]; add them to '-- tables:'"),
        ("-- name: a\n-- params: none\n-- tables: t, u\nSELECT * FROM {t}", r"query 'a' declares table\(s\) \['u'\] it never uses"),
        ("-- name: a\n-- params: none\nSELECT 1;\n-- name: a\n-- params: none\nSELECT 2",
         r"blocks\.sql:4: duplicate query name 'a' \(first at line 1\)"),
        ("SELECT 1\n-- name: a\n-- params: none\nSELECT 1", r"blocks\.sql:1: SQL before the first '-- name:' line"),
    ],
)
def test_a_broken_block_fails_at_load_naming_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        parse_file(path, prefix="demo.")


def test_placeholders_inside_strings_and_comments_are_not_tables(tmp_path):
    path = write(tmp_path, "-- name: a\n-- params: none\nSELECT '{not_a_table}' AS x -- {nor_this}\n")
    q = parse_file(path, prefix="demo.")["demo.a"]
    assert q.tables == () and q.render({}, quote_ident) == "SELECT '{not_a_table}' AS x -- {nor_this}"


def test_a_file_outside_a_capability_folder_is_refused(tmp_path):
    (tmp_path / "stray.sql").write_text("-- name: a\n-- params: none\nSELECT 1\n")
    with pytest.raises(ConfigError, match=r"stray\.sql is not in a capability folder; move it to queries/<capability>/"):
        load_queries.__wrapped__(tmp_path)
