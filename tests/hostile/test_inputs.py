"""Hostile inputs, as real exports and real command lines bring them (issue 14).

Every case runs ``rfm score`` through the CLI with a previous output already in
place and asserts the exit code and either the exact ``error:`` line (the
previous output then byte-identical, no temp file left) or the scores a person
computed by hand from the lines (``customer,first order,last order,frequency,
monetary``).  No case may print a traceback.
"""

from __future__ import annotations

import codecs
import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rfm.cli import main

HEADER = "customer_id,order_id,order_date,amount\n"
BASE = HEADER + "A,1,2024-01-01,10\nB,2,2024-02-01,20\nA,3,2024-03-01,5\n"
BASE_SCORES = ["A,2024-01-01,2024-03-01,2,15.0", "B,2024-02-01,2024-02-01,1,20.0"]
PREVIOUS = b"the previous scores\n"


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, bytes]  # written into the test's folder; "o.csv" is the orders unless args say
    args: tuple[str, ...] = ()  # after "score {d}/o.csv"; {d} is the folder
    code: int = 0
    error: str | None = None  # the exact error line, {d} the folder
    scores: list[str] | None = None  # customer,first_order_date,last_order_date,frequency,monetary
    stderr: tuple[str, ...] = ()  # text the summary or a warning must say
    orders: str = "o.csv"
    as_of: str | None = "2024-06-01"
    extra: dict[str, bytes] = field(default_factory=dict)


def csv(text: str) -> dict[str, bytes]:
    return {"o.csv": text.encode()}


def config(yaml: str, orders: str = BASE) -> dict[str, bytes]:
    return {"o.csv": orders.encode(), "c.yaml": yaml.encode()}


LONG_ID = "X" * 5000
FILES = [
    Case("empty-file", {"o.csv": b""}, code=2, error="{d}/o.csv: the file is empty (0 bytes); export the orders again"),
    Case("header-only", csv(HEADER), code=2,
         error="{d}/o.csv: no order lines (the input has a header but no rows); export the orders again"),
    Case("utf8-bom", {"o.csv": codecs.BOM_UTF8 + BASE.encode()}, scores=BASE_SCORES),
    Case("crlf", {"o.csv": BASE.replace("\n", "\r\n").encode()}, scores=BASE_SCORES),
    Case("no-final-newline", csv(BASE.rstrip("\n")), scores=BASE_SCORES),
    Case("semicolons-sniffed", csv(BASE.replace(",", ";")), scores=BASE_SCORES),
    Case("tab-separated", {"o.tsv": BASE.replace(",", "\t").encode()}, orders="o.tsv", scores=BASE_SCORES),
    Case("quoted-newline-in-a-field", csv('customer_id,order_id,order_date,amount,category\n'
                                          'A,1,2024-01-01,10,"Books\nand more"\nB,2,2024-02-01,20,Toys\n'),
         scores=["A,2024-01-01,2024-01-01,1,10.0", "B,2024-02-01,2024-02-01,1,20.0"]),
    Case("gzip", {"o.csv.gz": gzip.compress(BASE.encode(), mtime=0)}, orders="o.csv.gz", scores=BASE_SCORES),
    Case("gzip-cut-short", {"o.csv.gz": gzip.compress((BASE * 2000).encode(), mtime=0)[:400]}, orders="o.csv.gz",
         code=2, error="{d}/o.csv.gz: the .gz file is cut short (a copy or download that did not finish); copy it again"),
    Case("gz-name-not-gzip", {"o.csv.gz": BASE.encode()}, orders="o.csv.gz", code=2,
         error="{d}/o.csv.gz: has a .gz name but is not gzip-compressed; rename it without .gz or compress it"),
    Case("glob-matches-nothing", {}, orders="2023-*.csv", code=2,
         error="{d}/2023-*.csv: no file matches this pattern; check the path and the * or ? in it"),
    Case("glob-of-two-files", {"2024-01.csv": (HEADER + "A,1,2024-01-01,10\n").encode(),
                               "2024-02.csv": (HEADER + "B,2,2024-02-01,20\nA,3,2024-03-01,5\n").encode()},
         orders="2024-*.csv", scores=BASE_SCORES),
    Case("missing-file", {}, orders="nope.csv", code=2, error="{d}/nope.csv: file not found; check the path"),
    Case("spreadsheet-file", {"o.xlsx": b"PK\x03\x04"}, orders="o.xlsx", code=2,
         error="{d}/o.xlsx: unknown file type; use .csv/.tsv/.txt (optionally .gz), .parquet, or a DuckDB .duckdb/.db file"),
    Case("duplicate-header", csv("customer_id,order_id,order_date,amount,amount\nA,1,2024-01-01,10,11\n"), code=2,
         error='{d}/o.csv: the header names "amount" twice (columns 4 and 5); rename one of them so each column '
               "has its own name"),
    Case("wrong-delimiter-configured", config('input:\n  csv:\n    delimiter: ","\n', BASE.replace(",", ";")),
         args=("-c", "{d}/c.yaml"), code=2,
         error='{d}/o.csv: the file has one column, "customer_id;order_id;order_date;amount", which looks '
               '";"-separated; set input.csv.delimiter: ";"'),
    Case("no-amount-column", csv("customer_id,order_id,order_date\nA,1,2024-01-01\n"), code=2,
         error='{d}/o.csv: required column "amount" not found (columns: customer_id, order_id, order_date); '
               "map it in the config: input.columns.amount: <column name>"),
]

CAFE = HEADER + "Zoé,1,2024-01-01,10\nJosé,2,2024-02-01,20\n"
CAFE_SCORES = ["José,2024-02-01,2024-02-01,1,20.0", "Zoé,2024-01-01,2024-01-01,1,10.0"]
ENCODINGS = [
    Case("cp1252-unsaid", {"o.csv": CAFE.encode("cp1252")}, code=2,
         error="{d}/o.csv: not UTF-8 on line 2 (bytes b'\\xe9'); set input.csv.encoding: cp1252 (or latin-1)"),
    Case("cp1252-euro-unsaid", {"o.csv": (HEADER + "€1,1,2024-01-01,10\n").encode("cp1252")}, code=2,
         error="{d}/o.csv: not UTF-8 on line 2 (bytes b'\\x80'); set input.csv.encoding: cp1252"),
    Case("byte-cp1252-lacks", {"o.csv": HEADER.encode() + b"A\x81,1,2024-01-01,10\n"}, code=2,
         error="{d}/o.csv: not UTF-8 on line 2 (bytes b'\\x81'); set input.csv.encoding: latin-1"),
    Case("folder-of-csv", {"in/a.csv": (HEADER + "A,1,2024-01-01,10\n").encode(),
                           "in/b.csv": (HEADER + "B,2,2024-02-01,20\nA,3,2024-03-01,5\n").encode()},
         orders="in", scores=BASE_SCORES),
    Case("cp1252-said", {"o.csv": CAFE.encode("cp1252"), "c.yaml": b"input:\n  csv:\n    encoding: cp1252\n"},
         args=("-c", "{d}/c.yaml"), scores=CAFE_SCORES),
    Case("windows-1252-alias", {"o.csv": CAFE.encode("cp1252"), "c.yaml": b"input:\n  csv:\n    encoding: Windows-1252\n"},
         args=("-c", "{d}/c.yaml"), scores=CAFE_SCORES),
    Case("latin-1-said", {"o.csv": CAFE.encode("latin-1"), "c.yaml": b"input:\n  csv:\n    encoding: latin-1\n"},
         args=("-c", "{d}/c.yaml"), scores=CAFE_SCORES),
    Case("utf-16-le-bom", {"o.csv": CAFE.encode("utf-16")}, scores=CAFE_SCORES),
    Case("utf-16-be-bom", {"o.csv": codecs.BOM_UTF16_BE + CAFE.encode("utf-16-be")}, scores=CAFE_SCORES),
    Case("utf-16-without-bom", {"o.csv": CAFE.encode("utf-16-le")}, code=2,
         error="{d}/o.csv: holds a NUL byte on line 1 (a binary file, or UTF-16 read as UTF-8); export it again as "
               "text, or set input.csv.encoding: utf-16"),
    Case("utf-16-without-bom-said", {"o.csv": CAFE.encode("utf-16-le"), "c.yaml": b"input:\n  csv:\n    encoding: utf-16\n"},
         args=("-c", "{d}/c.yaml"), scores=CAFE_SCORES),
    Case("spreadsheet-renamed-csv", {"o.csv": b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"}, code=2,
         error="{d}/o.csv: holds a NUL byte on line 1 (a binary file, or UTF-16 read as UTF-8); export it again as "
               "text, or set input.csv.encoding: utf-16"),
    Case("utf8-said-cp1252", {"o.csv": CAFE.encode(), "c.yaml": b"input:\n  csv:\n    encoding: cp1252\n"},
         args=("-c", "{d}/c.yaml"), code=2,
         error='{d}/o.csv: input.csv.encoding is cp1252 but the file is UTF-8 (line 2: "Zoé,1,2024-01-01,10"); '
               "remove input.csv.encoding"),
    Case("not-utf8-far-down", {"o.csv": (BASE + "".join(f"C{i},{i + 9},2024-01-02,1\n" for i in range(30000))).encode()
                               + "Zoé,1,2024-01-01,10\n".encode("cp1252")}, code=2,
         error="{d}/o.csv: not UTF-8 on line 30005 (bytes b'\\xe9'); set input.csv.encoding: cp1252 (or latin-1)"),
    Case("unknown-encoding", config("input:\n  csv:\n    encoding: ebcdic\n"), args=("-c", "{d}/c.yaml"), code=3,
         error="{d}/c.yaml: input.csv.encoding: Input should be 'utf-8', 'latin-1', 'cp1252' or 'utf-16' (got 'ebcdic')"),
]

DATES = [
    Case("iso-timestamps", csv(HEADER + "A,1,2024-01-05 10:00,10\nA,2,2024-01-06T23:59:59.999,5\n"),
         scores=["A,2024-01-05,2024-01-06,2,15.0"]),
    Case("utc-offset-late-in-column", csv(HEADER + "A,1,2024-01-01,10\nA,2,2024-01-05T23:30:00-05:00,5\n"),
         scores=["A,2024-01-01,2024-01-06,2,15.0"]),
    Case("shopify-offset", csv(HEADER + "A,1,2024-01-05 23:30:00 -0500,10\nB,2,2024-01-06 01:30:00 +0300,5\n"),
         scores=["A,2024-01-06,2024-01-06,1,10.0", "B,2024-01-05,2024-01-05,1,5.0"]),
    Case("zulu", csv(HEADER + "A,1,2024-01-05T23:30:00Z,10\n"), scores=["A,2024-01-05,2024-01-05,1,10.0"]),
    Case("us-dates-ambiguous", csv(HEADER + "A,1,01/03/2024,10\nA,2,01/05/2024,10\nB,3,02/12/2024,5\nB,4,03/08/2024,5\n"),
         code=2, error='{d}/o.csv: column "order_date" is ambiguous: every date reads both as %d/%m/%Y and as %m/%d/%Y '
                       '(e.g. "01/03/2024" is 1 March 2024 or 3 January 2024); which is it? set input.date_format: '
                       '"%d/%m/%Y" or "%m/%d/%Y"'),
    Case("us-dates-settled", csv(HEADER + "A,1,01/03/2024,10\nA,2,01/05/2024,10\nB,3,02/12/2024,5\nB,4,03/13/2024,5\n"),
         scores=["A,2024-01-03,2024-01-05,2,20.0", "B,2024-02-12,2024-03-13,2,10.0"],
         stderr=('read 4 lines (dates read as %m/%d/%Y: "03/13/2024" cannot be %d/%m/%Y), scored 2 customers',)),
    Case("day-first-settled", csv(HEADER + "A,1,01/03/2024,10\nB,2,25/12/2023,5\n"),
         scores=["A,2024-03-01,2024-03-01,1,10.0", "B,2023-12-25,2023-12-25,1,5.0"],
         stderr=('(dates read as %d/%m/%Y: "25/12/2023" cannot be %m/%d/%Y)',)),
    Case("same-day-either-way", csv(HEADER + "A,1,01/01/2024,10\nB,2,02/02/2024,5\n"),
         scores=["A,2024-01-01,2024-01-01,1,10.0", "B,2024-02-02,2024-02-02,1,5.0"]),
    Case("day-first-with-time", csv(HEADER + "A,1,13/01/2024 18:05,10\n"), scores=["A,2024-01-13,2024-01-13,1,10.0"]),
    Case("ambiguity-said", config('input:\n  date_format: "%m/%d/%Y"\n', HEADER + "A,1,01/03/2024,10\n"),
         args=("-c", "{d}/c.yaml"), scores=["A,2024-01-03,2024-01-03,1,10.0"]),
    Case("erp-placeholder", csv(BASE + "C,4,9999-12-31,7\n"), scores=BASE_SCORES,
         stderr=("dropped 1 dated before 1900 or after 2099",)),
    Case("before-1900", csv(BASE + "C,4,1899-12-31,7\n"), scores=BASE_SCORES, as_of=None,
         stderr=("dropped 1 dated before 1900 or after 2099",)),
    Case("mixed-forms", csv(HEADER + "A,1,2024-01-01,3\nB,2,31/12/2023,4\n"), code=2,
         error='{d}/o.csv: column "order_date" has values that are not dates (first: "31/12/2023" on line 3); the '
               'column mixes date forms (first value: "2024-01-01"); write every date in one form'),
    Case("not-a-date", csv(BASE + "C,4,n/a,7\n"), code=2,
         error='{d}/o.csv: column "order_date" has values that are not dates (first: "n/a" on line 5); fix the value '
               "or set input.date_format to the format the column uses"),
    Case("impossible-day", csv(BASE + "C,4,2024-02-30,7\n"), code=2,
         error='{d}/o.csv: column "order_date" has values that are not dates (first: "2024-02-30" on line 5); fix the '
               "value or set input.date_format to the format the column uses"),
    Case("epoch-seconds", csv(HEADER + "A,1,1704844800,10\n"), code=2,
         error='{d}/o.csv: column "order_date" holds numbers (first: 1704844800) that look like Unix epoch seconds '
               "(2024-01-10), not dates; export the column as dates (or timestamps), e.g. in SQL: to_timestamp(order_date)"),
    Case("yyyymmdd-numbers", csv(HEADER + "A,1,20240110,10\n"), code=2,
         error='{d}/o.csv: column "order_date" holds numbers (first: 20240110), not dates; set input.date_format: '
               '"%Y%m%d" to read them as dates'),
    Case("yyyymmdd-said", config('input:\n  date_format: "%Y%m%d"\n', HEADER + "A,1,20240110,10\n"),
         args=("-c", "{d}/c.yaml"), scores=["A,2024-01-10,2024-01-10,1,10.0"]),
    Case("wrong-format-said", config('input:\n  date_format: "%d.%m.%Y"\n', BASE), args=("-c", "{d}/c.yaml"), code=2,
         error='{d}/o.csv: column "order_date" has values that are not dates (first: "2024-01-01" on line 2); set '
               'input.date_format: "%Y-%m-%d"'),
    Case("two-digit-years-day-first", csv(HEADER + "A,1,05/01/24,10\nB,2,25/12/23,5\n"),
         scores=["A,2024-01-05,2024-01-05,1,10.0", "B,2023-12-25,2023-12-25,1,5.0"],
         stderr=('(dates read as %d/%m/%y: "25/12/23" cannot be %m/%d/%y)',)),
    Case("two-digit-years-ambiguous", csv(HEADER + "A,1,05/01/24,10\nB,2,02/03/23,5\n"), code=2,
         error='{d}/o.csv: column "order_date" is ambiguous: every date reads both as %d/%m/%y and as %m/%d/%y '
               '(e.g. "02/03/23" is 2 March 2023 or 3 February 2023); which is it? set input.date_format: '
               '"%d/%m/%y" or "%m/%d/%y"'),
    Case("dashes-two-digit-years", csv(HEADER + "A,1,25-01-24,10\n"), scores=["A,2024-01-25,2024-01-25,1,10.0"]),
    Case("two-digit-year-after-iso", csv(HEADER + "A,1,2024-01-05,10\nA,2,25-01-24,5\n"), code=2,
         error='{d}/o.csv: column "order_date" has values that are not dates (first: "25-01-24" on line 3); the '
               'column mixes date forms (first value: "2024-01-05"); write every date in one form'),
    Case("padded-ambiguous-values", csv(HEADER + 'A,1,02/03/2024,10\nB,2," 01/05/2024",5\n'), code=2,
         error='{d}/o.csv: column "order_date" is ambiguous: every date reads both as %d/%m/%Y and as %m/%d/%Y '
               '(e.g. "01/05/2024" is 1 May 2024 or 5 January 2024); which is it? set input.date_format: '
               '"%d/%m/%Y" or "%m/%d/%Y"'),
    Case("trailing-spaces", csv(HEADER + 'A,1,"2024-01-05 ",10\nA,2,"2024-01-05 23:30:00 -0500 ",5\n'),
         scores=["A,2024-01-05,2024-01-06,2,15.0"]),
    Case("slashed-iso-with-times", csv(HEADER + "A,1,2024/01/05,10\nA,2,2024/01/07 10:30,5\n"),
         scores=["A,2024-01-05,2024-01-07,2,15.0"]),
    Case("dotted-day-first-with-time", csv(HEADER + "A,1,13.01.2024 18:05,10\nA,2,02.02.2024 09:00,5\n"),
         scores=["A,2024-01-13,2024-02-02,2,15.0"]),
    Case("settling-value-on-a-cancelled-line",
         csv("customer_id,order_id,order_date,amount,status\nX,9,25/12/2023,1,cancelled\nA,1,01/03/2024,10,paid\n"
             "B,2,02/12/2024,5,paid\n"), code=2,
         error='{d}/o.csv: column "order_date" is ambiguous: every date reads both as %d/%m/%Y and as %m/%d/%Y '
               '(e.g. "01/03/2024" is 1 March 2024 or 3 January 2024); which is it? set input.date_format: '
               '"%d/%m/%Y" or "%m/%d/%Y"'),
    Case("as-of-not-a-date", csv(BASE), as_of="yesterday", code=2,
         error='as_of: "yesterday" is not a date; write it as YYYY-MM-DD, e.g. 2024-01-31'),
]

AMOUNTS = [
    Case("nan", csv(BASE + "C,4,2024-03-02,nan\n"), code=2,
         error='{d}/o.csv: column "amount" has a value rfm cannot use (first: "nan" on line 5); amounts must be finite '
               "numbers below 100,000,000,000,000 in absolute value (they are summed exactly, as DECIMAL(18, 4)); "
               "fix or remove those lines"),
    Case("currency-sign", csv(BASE + "C,4,2024-03-02,$12.50\n"), code=2,
         error='{d}/o.csv: column "amount" has non-numeric values (first: "$12.50" on line 5); clean the column '
               "(numbers only, no currency signs)"),
    Case("decimal-comma", csv(HEADER.replace(",", ";") + "A;1;2024-01-01;12,50\n"), code=2,
         error='{d}/o.csv: column "amount" has non-numeric values (first: "12,50" on line 2); set input.csv.decimal: '
               '"," or clean the column'),
    Case("thousands-comma", csv(BASE + 'C,4,2024-03-02,"1,250.00"\n'), code=2,
         error='{d}/o.csv: column "amount" has non-numeric values (first: "1,250.00" on line 5); set '
               'input.csv.thousands: ","'),
    Case("thousands-comma-said", config('input:\n  csv:\n    thousands: ","\n', BASE + 'C,4,2024-03-02,"1,250.00"\n'),
         args=("-c", "{d}/c.yaml"), scores=[*BASE_SCORES, "C,2024-03-02,2024-03-02,1,1250.0"]),
    Case("french-amounts", config('input:\n  csv:\n    delimiter: ";"\n',
                                  HEADER.replace(",", ";") + 'A;1;2024-01-01;"1 250,00"\n'),
         args=("-c", "{d}/c.yaml"), code=2,
         error='{d}/o.csv: column "amount" has non-numeric values (first: "1 250,00" on line 2); set '
               'input.csv.thousands: " " and input.csv.decimal: ","'),
    Case("french-amounts-said",
         config('input:\n  csv:\n    delimiter: ";"\n    decimal: ","\n    thousands: " "\n',
                HEADER.replace(",", ";") + 'A;1;2024-01-01;"1 250,00"\nA;2;2024-01-02;"2\u202f000,5"\nB;3;2024-01-03;3,5\n'),
         args=("-c", "{d}/c.yaml"), scores=["A,2024-01-01,2024-01-02,2,3250.5", "B,2024-01-03,2024-01-03,1,3.5"]),
    Case("german-amounts-said",
         config('input:\n  csv:\n    delimiter: ";"\n    decimal: ","\n    thousands: "."\n',
                HEADER.replace(",", ";") + 'A;1;2024-01-01;"1.250,75"\nB;2;2024-01-02;-3,25\nB;3;2024-01-03;10\n'),
         args=("-c", "{d}/c.yaml"), scores=["A,2024-01-01,2024-01-01,1,1250.75", "B,2024-01-03,2024-01-03,1,6.75"]),
    Case("thousands-not-grouped", config('input:\n  csv:\n    thousands: ","\n', BASE + 'C,4,2024-03-02,"12,50"\n'),
         args=("-c", "{d}/c.yaml"), code=2,
         error='{d}/o.csv: column "amount" has non-numeric values (first: "12,50" on line 5); set input.csv.decimal: '
               '"," or clean the column'),
    Case("same-separators", config('input:\n  csv:\n    decimal: ","\n    thousands: ","\n'), args=("-c", "{d}/c.yaml"),
         code=3, error='{d}/c.yaml: input.csv: thousands and decimal are both ","; they must differ'),
    Case("empty-amount", csv(BASE + "C,4,2024-03-02,\n"), code=2,
         error='{d}/o.csv: column "amount" is empty on some order lines (first: customer C, row 4); fill in amount '
               "or remove those lines"),
    Case("refund-line", csv(BASE + "A,4,2024-03-05,-5\n"), scores=["A,2024-01-01,2024-03-01,2,10.0", BASE_SCORES[1]]),
    Case("cancelled-line-with-garbage", csv("customer_id,order_id,order_date,amount,status\nA,1,2024-01-01,10,paid\n"
                                            "A,2,soon,n/a,cancelled\n"),
         scores=["A,2024-01-01,2024-01-01,1,10.0"], stderr=("dropped 1 with an excluded status",)),
]

IDS = [
    Case("very-long-id", csv(HEADER + f"{LONG_ID},1,2024-01-01,10\n"), scores=[f"{LONG_ID},2024-01-01,2024-01-01,1,10.0"]),
    Case("emoji-id", csv(HEADER + "🦊 Fox,1,2024-01-01,10\n🦊 Fox,2,2024-01-02,5\n"),
         scores=["🦊 Fox,2024-01-01,2024-01-02,2,15.0"]),
    Case("zero-padded-id", csv(HEADER + "00123,1,2024-01-01,10\n123,2,2024-01-02,5\n"),
         scores=["00123,2024-01-01,2024-01-01,1,10.0", "123,2024-01-02,2024-01-02,1,5.0"]),
    Case("nul-in-id", {"o.csv": (HEADER + "A\x00B,1,2024-01-01,10\n").encode()}, code=2,
         error="{d}/o.csv: holds a NUL byte on line 2 (a binary file, or UTF-16 read as UTF-8); export it again as "
               "text, or set input.csv.encoding: utf-16"),
    # data outputs keep ids exactly (campaign lists, meant for spreadsheets, get a leading ')
    Case("formula-id-kept-exactly", csv(HEADER + '"=HYPERLINK(""http://x"")",1,2024-01-01,10\n'),
         scores=["=HYPERLINK(\"http://x\"),2024-01-01,2024-01-01,1,10.0"]),
    Case("missing-customer", csv(BASE + ",4,2024-03-02,9\n"), scores=BASE_SCORES,
         stderr=("dropped 1 with no customer id",)),
    Case("missing-order-id", csv(BASE + "C,,2024-03-02,9\n"), code=2,
         error='{d}/o.csv: column "order_id" is empty on some order lines (first: customer C, row 4); fill in '
               "order_id or remove those lines"),
]

CONFIGS = [
    Case("unknown-key", config("scoring:\n  binz: 4\n"), args=("-c", "{d}/c.yaml"), code=3,
         error='{d}/c.yaml: unknown key "binz" in scoring; did you mean "bins"? (known keys: bins, cut_points, '
               "monetary, window_days)"),
    Case("config-not-utf8", {"o.csv": BASE.encode(), "c.yaml": b"scoring:\n  bins: 4 # \xe9t\xe9\n"},
         args=("-c", "{d}/c.yaml"), code=3, error="{d}/c.yaml:2: not UTF-8 (byte 0xe9); save the file as UTF-8"),
    Case("config-bad-yaml", config("scoring:\n  bins: [5\n"), args=("-c", "{d}/c.yaml"), code=3,
         error="{d}/c.yaml:3: invalid YAML: expected ',' or ']', but got '<stream end>'; fix the syntax"),
    Case("date-format-not-strftime", config('input:\n  date_format: "x\'); DROP TABLE t; --"\n'), args=("-c", "{d}/c.yaml"),
         code=3, error='{d}/c.yaml: input.date_format: date_format must be a strftime pattern such as "%Y-%m-%d" or '
                       '"%d/%m/%Y" (got "x\'); DROP TABLE t; --")'),
    Case("config-missing", csv(BASE), args=("-c", "{d}/nope.yaml"), code=3,
         error="{d}/nope.yaml: file not found; check the path"),
]

ARGS = [
    Case("memory-limit-words", csv(BASE), args=("--memory-limit", "lots"), code=3,
         error='--memory-limit: "lots" is not a size; use e.g. 4GB, 512MB or 50%'),
    Case("threads-negative", csv(BASE), args=("--threads", "-1"), code=3,
         error="--threads: -1 is not a thread count; use a whole number of at least 1"),
    Case("memory-limit-without-unit", csv(BASE), args=("--memory-limit", "0"), code=3,
         error='--memory-limit: "0" is not a size; use e.g. 4GB, 512MB or 50%'),
    Case("threads-beyond-reason", csv(BASE), args=("--threads", "100000"), code=3,
         error=f"--threads: 100000 is far more than the {os.cpu_count()} cores here; use at most "
               f"{max(64, 8 * (os.cpu_count() or 1))}"),
    Case("out-unknown-extension", csv(BASE), args=("--out", "{d}/s.xlsx"), code=2,
         error="{d}/s.xlsx: cannot write .xlsx; use .parquet or .csv"),
    Case("out-read-only-directory", csv(BASE), args=("--out", "/sys/rfm-scores.csv"), code=2,
         error="/sys/rfm-scores.csv: directory /sys is not writable; choose another --out"),
    Case("out-missing-directory", csv(BASE), args=("--out", "{d}/no/such/s.csv"), code=2,
         error="{d}/no/such/s.csv: directory {d}/no/such does not exist; create it first"),
]

CASES = FILES + ENCODINGS + DATES + AMOUNTS + IDS + CONFIGS + ARGS


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path, capsys) -> None:
    for name, content in {**case.files, **case.extra}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(content)
    out = tmp_path / "scores.csv"
    out.write_bytes(PREVIOUS)
    args = [a.format(d=tmp_path) for a in case.args]
    if "--out" not in args:
        args += ["--out", str(out)]
    if case.as_of is not None:
        args += ["--as-of", case.as_of]
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    code = main(["score", str(tmp_path / case.orders), *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    if case.error is not None:
        assert (code, errors) == (case.code, ["error: " + case.error.format(d=tmp_path)])
        assert out.read_bytes() == PREVIOUS  # the previous output is untouched
        assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before  # nothing else left
        return
    assert (code, errors) == (0, [])
    for text in case.stderr:
        assert text in err
    rows = out.read_text(encoding="utf-8").splitlines()
    header = rows[0].split(",")
    wanted = [header.index(c) for c in ("customer_id", "first_order_date", "last_order_date", "frequency", "monetary")]
    got = []
    for row in rows[1:]:
        cells = _split(row)
        got.append(",".join(cells[i] for i in wanted))
    assert got == case.scores


def _split(row: str) -> list[str]:
    """A CSV row's cells with the quoting undone (ids with commas, quotes and newlines are legal)."""
    import csv as _csv

    return next(_csv.reader([row]))
