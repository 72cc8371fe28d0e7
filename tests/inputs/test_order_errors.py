"""Every bad input stops with one message naming file, column, value and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

import rfm
from rfm.cli import main
from rfm.errors import ConfigError, InputError

HEADER = "customer_id,order_id,order_date,amount\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_required_column(tmp_path):
    path = write(tmp_path, "orders.csv", "customer_id,order_id,order_date\nA,1,2024-01-01\n")
    with pytest.raises(InputError, match=r'orders.csv: required column "amount" not found \(columns: customer_id, '
                       r'order_id, order_date\); map it in the config: input.columns.amount: <column name>'):
        rfm.score(path)


def test_mapped_column_absent_has_hint(tmp_path):
    path = write(tmp_path, "orders.csv", HEADER + "A,1,2024-01-01,3\n")
    with pytest.raises(InputError, match=r'column "amont" \(input.columns.amount\) not found; did you mean "amount"\?'):
        rfm.score(path, {"input": {"columns": {"amount": "amont"}}})


def test_no_order_id_needs_explicit_fallback(tmp_path):
    path = write(tmp_path, "orders.csv", "customer_id,order_date,amount\nA,2024-01-01,3\nA,2024-01-01,4\n")
    with pytest.raises(InputError, match=r"input.order_id_fallback: customer_day"):
        rfm.score(path)
    table = rfm.score(path, {"input": {"order_id_fallback": "customer_day"}})
    assert (table["frequency"].item(), table["monetary"].item()) == (1, 7.0)
    table = rfm.score(path, {"input": {"order_id_fallback": "line"}})
    assert (table["frequency"].item(), table["monetary"].item()) == (2, 7.0)


def test_unknown_config_key_with_hint(tmp_path):
    cfg = write(tmp_path, "cfg.yaml", "scoring:\n  binz: 4\n")
    with pytest.raises(ConfigError, match=r'cfg.yaml: unknown key "binz" in scoring; did you mean "bins"\?'):
        rfm.load_config(cfg)


def test_unknown_top_level_key(tmp_path):
    cfg = write(tmp_path, "cfg.yaml", "segmants: {}\n")
    with pytest.raises(ConfigError, match=r'unknown key "segmants" in the top level; did you mean "segments"\?'):
        rfm.load_config(cfg)


def test_yaml_syntax_error_names_line(tmp_path):
    cfg = write(tmp_path, "cfg.yaml", "scoring:\n  bins: [5\n")
    with pytest.raises(ConfigError, match=r"cfg.yaml:3: invalid YAML"):
        rfm.load_config(cfg)


def test_unparseable_dates(tmp_path):
    path = write(tmp_path, "orders.csv", HEADER + "A,1,2024-01-01,3\nB,2,31/12/2023,4\n")
    with pytest.raises(InputError, match=r'orders.csv: column "order_date" has values that are not dates '
                       r'\(first: "31/12/2023" on line 3\); the column mixes date forms \(first value: "2024-01-01"\); '
                       r"write every date in one form"):
        rfm.score(path)
    path = write(tmp_path, "orders.csv", HEADER + "A,1,2024-13-45,3\n")
    with pytest.raises(InputError, match=r'not dates \(first: "2024-13-45" on line 2\); fix the value or set '
                       r"input.date_format to the format the column uses"):
        rfm.score(path)


def test_date_format_reads_day_first_dates(tmp_path):
    path = write(tmp_path, "orders.csv", HEADER + "A,1,01/02/2024,3\nB,2,31/12/2023,4\n")
    table = rfm.score(path, {"input": {"date_format": "%d/%m/%Y"}})
    assert [str(d) for d in table["last_order_date"]] == ["2024-02-01", "2023-12-31"]


def test_numeric_dates_need_a_format(tmp_path):
    path = write(tmp_path, "orders.csv", HEADER + "A,1,19970101,3\n")
    with pytest.raises(InputError, match=r'holds numbers \(first: 19970101\), not dates; set input.date_format: "%Y%m%d"'):
        rfm.score(path)


def test_non_numeric_amount_late_in_file(tmp_path):
    rows = "".join(f"C{i},{i},2024-01-01,{i % 7 + 1}.25\n" for i in range(30000))
    path = write(tmp_path, "orders.csv", HEADER + rows + "X,99999,2024-01-02,$12.50\n")
    with pytest.raises(InputError, match=r'column "amount" has non-numeric values \(first: "\$12.50" on line 30002\); '
                       r"clean the column"):
        rfm.score(path)


def test_decimal_comma_hint_and_fix(tmp_path):
    path = write(tmp_path, "orders.csv", 'customer_id;order_id;order_date;amount\nA;1;2024-01-01;"12,50"\n')
    cfg = {"input": {"csv": {"delimiter": ";"}}}
    with pytest.raises(InputError, match=r'non-numeric values \(first: "12,50" on line 2\); set input.csv.decimal: ","'):
        rfm.score(path, cfg)
    cfg["input"]["csv"]["decimal"] = ","
    assert rfm.score(path, cfg)["monetary"].item() == 12.5


def test_null_amount_is_an_error(tmp_path):
    path = write(tmp_path, "orders.csv", HEADER + "A,1,2024-01-01,3\nB,2,2024-01-02,\n")
    with pytest.raises(InputError, match=r'column "amount" is empty on some order lines \(first: customer B, row 2\)'):
        rfm.score(path)


def test_empty_file(tmp_path):
    path = write(tmp_path, "orders.csv", "")
    with pytest.raises(InputError, match=r"orders.csv: the file is empty \(0 bytes\)"):
        rfm.score(path)


def test_header_only(tmp_path):
    path = write(tmp_path, "orders.csv", HEADER)
    with pytest.raises(InputError, match=r"orders.csv: no order lines \(the input has a header but no rows\)"):
        rfm.score(path)


def test_all_lines_dropped(tmp_path):
    path = write(tmp_path, "orders.csv", "customer_id,order_id,order_date,amount,status\nA,1,2024-01-01,3,cancelled\n")
    with pytest.raises(InputError, match=r"all 1 lines were dropped \(0 without customer id, 1 with an excluded status\)"):
        rfm.score(path)


def test_as_of_before_first_order(golden_csv):
    with pytest.raises(InputError, match=r"as_of 2020-01-01 is before the first order \(2023-07-01\)"):
        rfm.score(golden_csv, as_of="2020-01-01")


def test_bad_as_of_text(golden_csv):
    with pytest.raises(InputError, match=r'as_of: "2024-13-01" is not a date; write it as YYYY-MM-DD'):
        rfm.score(golden_csv, as_of="2024-13-01")


def test_cut_points_not_increasing():
    with pytest.raises(ConfigError, match=r"scoring.cut_points.frequency: cut points must be strictly increasing, "
                       r"but 2 follows 4"):
        rfm.load_config({"scoring": {"cut_points": {"frequency": [1, 4, 2, 8]}}})


def test_cut_points_wrong_count():
    with pytest.raises(ConfigError, match=r"cut_points.recency_days has 2 cut points but bins is 5; give exactly 4"):
        rfm.load_config({"scoring": {"cut_points": {"recency_days": [30, 90]}}})


def test_segment_rule_unknown_score():
    rules = [{"name": "Best", "action": "retain", "r": 5, "freq": [4, 5]}]
    with pytest.raises(ConfigError, match=r'segment rule "Best" references unknown score "freq"; did you mean "f" \(a score\) or "frequency" \(a metric\)\?'):
        rfm.load_config({"segments": {"rules": rules}})


def test_segment_rule_unknown_action():
    rules = [{"name": "Best", "action": "retian", "r": 5}]
    with pytest.raises(ConfigError, match=r'segment "Best" has action "retian"; did you mean "retain"\?'):
        rfm.load_config({"segments": {"rules": rules}})


def test_segment_rule_out_of_range():
    rules = [{"name": "Best", "action": "retain", "r": [4, 6]}]
    with pytest.raises(ConfigError, match=r'segment "Best": r range \[4, 6\] lies outside the scores 1..5'):
        rfm.load_config({"segments": {"rules": rules}})


def test_preset_for_other_bins():
    with pytest.raises(ConfigError, match=r'segment preset "quartile" is written for 4 bins but scoring.bins is 5'):
        rfm.load_config({"segments": {"preset": "quartile"}})


def test_unknown_preset_hint():
    with pytest.raises(ConfigError, match=r'no rule set "defualt"; did you mean "default"\?'):
        rfm.load_config({"segments": {"preset": "defualt"}})


def test_unknown_file_type(tmp_path):
    path = write(tmp_path, "orders.xlsx", "x")
    with pytest.raises(InputError, match=r"orders.xlsx: unknown file type; use .csv"):
        rfm.score(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope.csv: file not found"):
        rfm.score(tmp_path / "nope.csv")


def test_cli_error_exit_code_and_no_output(tmp_path, capsys):
    bad = write(tmp_path, "orders.csv", HEADER + "A,1,not a date,3\n")
    out = tmp_path / "scores.parquet"
    assert main(["score", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith('error: ')
    assert 'column "order_date" has values that are not dates (first: "not a date" on line 2)' in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]  # no temp file left behind


def test_cli_failed_run_keeps_previous_output(tmp_path, golden_csv, capsys):
    out = tmp_path / "scores.csv"
    assert main(["score", str(golden_csv), "--out", str(out), "--as-of", "2024-06-30", "-q"]) == 0
    before = out.read_bytes()
    bad = write(tmp_path, "bad.csv", HEADER + "A,1,2024-01-01,abc\n")
    assert main(["score", str(bad), "--out", str(out)]) == 2
    assert out.read_bytes() == before


def test_cli_config_error_exit_code(tmp_path, golden_csv, capsys):
    cfg = write(tmp_path, "cfg.yaml", "scoring:\n  bins: 11\n")
    assert main(["score", str(golden_csv), "--config", str(cfg), "--out", str(tmp_path / "s.csv")]) == 3
    assert "cfg.yaml: scoring.bins: Input should be less than or equal to 10 (got 11)" in capsys.readouterr().err


def test_cli_bad_output_extension(tmp_path, golden_csv, capsys):
    assert main(["score", str(golden_csv), "--out", str(tmp_path / "s.xlsx")]) == 2
    assert "s.xlsx: cannot write .xlsx; use .parquet or .csv" in capsys.readouterr().err


def test_malformed_csv_row_is_one_error_line(tmp_path, capsys):
    rows = "".join(f"C{i},{i},2024-01-01,{i % 7 + 1}.25\n" for i in range(30000))
    path = write(tmp_path, "orders.csv", HEADER + rows + "X,99999,2024-01-02,12,50,extra\n")
    assert main(["score", str(path), "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "orders.csv: cannot read the orders" in err[-1]


@pytest.mark.parametrize("duplicates", ["unchecked", "keep"])  # fast path and order-table path
def test_bad_values_on_dropped_lines_are_dropped_not_fatal(tmp_path, duplicates):
    # a cancelled line and a line without customer may hold anything: they are dropped and counted
    path = write(tmp_path, "orders.csv",
                 "customer_id,order_id,order_date,amount,status\n"
                 "A,1,2024-01-01,10,complete\n"
                 "A,2,,n/a,Cancelled\n"
                 "B,3,31/12/2023,$5,cancelled\n"
                 ",4,not a date,x,complete\n"
                 "B,5,2024-01-03,7.5,complete\n"
                 "B,7,2024-01-04,1e20,void\n"
                 "A,6,garbage,1,complete\n")
    with pytest.raises(InputError, match=r'column "order_date" has values that are not dates \(first: "garbage" on '
                                         r"line 8\)"):
        rfm.score(path, {"input": {"duplicates": duplicates}})
    path.write_text(path.read_text().replace("A,6,garbage,1,complete\n", ""))
    result = rfm.score_customers(path, {"input": {"duplicates": duplicates}})
    assert dict(zip(result.table["customer_id"], result.table["monetary"])) == {"A": 10.0, "B": 7.5}
    assert (result.stats.excluded_status_lines, result.stats.null_customer_id_lines) == (3, 1)


def test_bad_value_on_a_dropped_line_past_the_type_sample_is_still_named(tmp_path):
    # DuckDB reads a CSV column with one type, sniffed from a sample: a bad value
    # further down stops the reader even on a cancelled line, so name it
    rows = "".join(f"C{i},{i},2024-01-01,{i % 7 + 1}.25,complete\n" for i in range(30000))
    path = write(tmp_path, "orders.csv", "customer_id,order_id,order_date,amount,status\n" + rows
                 + "X,99999,2024-01-02,n/a,cancelled\n")
    with pytest.raises(InputError, match=r'column "amount" has non-numeric values \(first: "n/a" on line 30002\)'):
        rfm.score(path)
