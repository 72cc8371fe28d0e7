"""Hostile leads, events and offer catalogues; runs that race or die (issue 14).

Like ``test_inputs.py``: each case asserts the exit code and the exact
``error:`` line, no traceback, and a previous output left byte-identical.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from rfm.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
LEADS, OFFERS = DATA / "leads", DATA / "offers"
PREVIOUS = b"the previous output\n"


LEADS_TEXT = (LEADS / "leads.csv").read_text()
EVENTS_TEXT = (LEADS / "events.csv").read_text()
N_EVENT_LINES = len(EVENTS_TEXT.splitlines())

# (id, files written into the folder, command after "rfm", exit code, error line; {d} is the folder)
CASES = [
    ("leads-not-utf8", {"l.csv": LEADS_TEXT.replace("Acme", "Acmé").encode("cp1252"), "e.csv": EVENTS_TEXT.encode()},
     "leads score {d}/l.csv {d}/e.csv", 2,
     '{d}/l.csv: not UTF-8 on line 2 (bytes b\'\\xe9\'); save the leads file as UTF-8 (in Excel: "CSV UTF-8")'),
    ("events-not-utf8", {"l.csv": LEADS_TEXT.encode(), "e.csv": (EVENTS_TEXT + "L01,page_view,2024-06-30,caf\xe9\n")
                         .encode("latin-1")},
     "leads score {d}/l.csv {d}/e.csv", 2,
     f'{{d}}/e.csv: not UTF-8 on line {N_EVENT_LINES + 1} (bytes b\'\\xe9\'); save the events file as UTF-8 '
     '(in Excel: "CSV UTF-8")'),
    ("duplicate-lead", {"l.csv": (LEADS_TEXT + LEADS_TEXT.splitlines()[1] + "\n").encode(), "e.csv": EVENTS_TEXT.encode()},
     "leads score {d}/l.csv {d}/e.csv", 2,
     '{d}/l.csv: column "lead_id" has 1 duplicated lead id(s) (first: "L01" on 2 rows); each lead must appear once '
     "— merge or remove the duplicates"),
    ("event-not-a-timestamp", {"l.csv": LEADS_TEXT.encode(), "e.csv": (EVENTS_TEXT + "L01,page_view,yesterday,\n").encode()},
     "leads score {d}/l.csv {d}/e.csv", 2,
     f'{{d}}/e.csv: column "timestamp" has 1 value(s) that are not dates or timestamps (first: "yesterday" on line '
     f'{N_EVENT_LINES + 1}); write ISO 8601 such as 2024-01-31 or 2024-01-31T09:30:00+01:00; or set timestamps.format '
     'in the grid (e.g. "%d/%m/%Y %H:%M")'),
    ("events-are-orders", {"l.csv": LEADS_TEXT.encode(), "e.csv": b"customer_id,order_id,order_date,amount\nA,1,2024-01-01,5\n"},
     "leads score {d}/l.csv {d}/e.csv", 2,
     '{d}/e.csv: no column for "lead_id" (looked for lead_id, leadid, lead, prospect_id, contact_id, ...; columns: '
     "customer_id, order_id, order_date, amount); set columns.events.lead_id in the grid"),
    ("events-missing", {"l.csv": LEADS_TEXT.encode()}, "leads score {d}/l.csv {d}/nope.csv", 2,
     "{d}/nope.csv: file not found; check the path"),
    ("catalogue-not-utf8", {"o.csv": (OFFERS / "hand_orders.csv").read_bytes(),
                            "c.yaml": b"# caf\xe9\n" + (OFFERS / "hand_offers.yaml").read_bytes()},
     "score {d}/o.csv --offers {d}/c.yaml", 3, "{d}/c.yaml:1: not UTF-8 (byte 0xe9); save the file as UTF-8"),
    ("catalogue-missing", {"o.csv": (OFFERS / "hand_orders.csv").read_bytes()}, "score {d}/o.csv --offers {d}/nope.yaml",
     3, "{d}/nope.yaml: file not found; check the path"),
    ("catalogue-typo", {"o.csv": (OFFERS / "hand_orders.csv").read_bytes(), "c.yaml": (OFFERS / "bad_unknown_key.yaml")
                        .read_bytes()}, "score {d}/o.csv --offers {d}/c.yaml", 3,
     '{d}/c.yaml: unknown key "prize" in offers.0; did you mean "price"? (known keys: categories, description, eligibility, id, '
     "name, price, price_range, targets, weights)"),
    ("catalogue-duplicate-id", {"o.csv": (OFFERS / "hand_orders.csv").read_bytes(),
                                "c.yaml": (OFFERS / "bad_duplicate_id.yaml").read_bytes()},
     "score {d}/o.csv --offers {d}/c.yaml", 3,
     '{d}/c.yaml: offers: duplicate offer id "jazz" (offers.0 and offers.2); give every offer its own id'),
    ("catalogue-price-in-words", {"o.csv": (OFFERS / "hand_orders.csv").read_bytes(),
                                  "c.yaml": b"offers:\n  - {id: jazz, categories: [Jazz], price: cheap}\n"},
     "score {d}/o.csv --offers {d}/c.yaml", 3,
     "{d}/c.yaml: offers.0.price: Input should be a valid number, unable to parse string as a number (got 'cheap')"),
]


@pytest.mark.parametrize(("files", "command", "code", "error"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_leads_and_offers(tmp_path, capsys, files, command, code, error):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    out = tmp_path / "out.csv"
    out.write_bytes(PREVIOUS)
    before = sorted(p.name for p in tmp_path.iterdir())
    got = main([a.format(d=tmp_path) for a in command.split()] + ["--out", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (got, [line for line in err.splitlines() if line.startswith("error:")]) == (
        code, ["error: " + error.format(d=tmp_path)]
    )
    assert out.read_bytes() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_leads_in_utf16_score_as_in_utf8(tmp_path, capsys):
    """Excel's "Unicode text" export (UTF-16 with a byte-order mark) reads as the UTF-8 file does."""
    (tmp_path / "l8.csv").write_text(LEADS_TEXT.replace("Acme", "Acmé"))
    (tmp_path / "l16.csv").write_bytes(LEADS_TEXT.replace("Acme", "Acmé").encode("utf-16"))
    (tmp_path / "e.csv").write_text(EVENTS_TEXT)
    for name in ("l8", "l16"):
        assert main(["leads", "score", str(tmp_path / f"{name}.csv"), str(tmp_path / "e.csv"), "-q",
                     "--out", str(tmp_path / f"{name}.out.csv")]) == 0
    capsys.readouterr()
    utf8, utf16 = (pl.read_csv(tmp_path / f"{n}.out.csv") for n in ("l8", "l16"))
    assert utf8.equals(utf16) and utf8.height == len(LEADS_TEXT.splitlines()) - 1


def _orders(path: Path, n: int) -> None:
    """``n`` order lines, two per customer, one a month apart."""
    rows = [f"C{i // 2:07d},{i},2024-0{1 + i % 2}-15,{(i % 97) + 0.5}" for i in range(n)]
    path.write_text("customer_id,order_id,order_date,amount\n" + "\n".join(rows) + "\n")


def _rfm(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rfm.cli", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_concurrent_runs_on_one_out_leave_one_whole_result(tmp_path):
    orders = tmp_path / "o.csv"
    _orders(orders, 200_000)
    out = tmp_path / "s.csv"
    runs = [_rfm("score", str(orders), "-q", "--as-of", day, "--out", str(out)) for day in ("2024-03-01", "2024-06-01")]
    codes = [r.wait(timeout=300) for r in runs]
    errs = [r.stderr.read().decode() for r in runs]  # type: ignore[union-attr]
    assert codes == [0, 0], errs
    got = out.read_bytes()
    # the file is one run's whole output, never a mix: compare with each run made alone
    alone = []
    for day in ("2024-03-01", "2024-06-01"):
        ref = tmp_path / f"ref-{day}.csv"
        assert main(["score", str(orders), "-q", "--as-of", day, "--out", str(ref)]) == 0
        alone.append(ref.read_bytes())
    assert got in alone and alone[0] != alone[1]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_run_killed_while_writing_leaves_the_old_output(tmp_path):
    orders = tmp_path / "o.csv"
    _orders(orders, 600_000)
    out = tmp_path / "s.csv"
    out.write_bytes(PREVIOUS)
    for _attempt in range(3):  # the kill must land while the temp file exists; retry if the run was faster
        run = _rfm("score", str(orders), "-q", "--as-of", "2024-06-01", "--out", str(out))
        tmp = None
        while run.poll() is None and tmp is None:
            tmp = next((p for p in tmp_path.iterdir() if p.name.startswith(".s.csv.")), None)
            time.sleep(0.001)
        if tmp is not None and run.poll() is None:
            os.kill(run.pid, signal.SIGKILL)
            run.wait()
            break
        run.wait()
        out.write_bytes(PREVIOUS)
    else:
        pytest.fail("three runs finished before their temp file was seen")
    assert out.read_bytes() == PREVIOUS  # the old output is whole
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".s.csv.")]
    assert left  # the killed run's temp file is there ...
    assert main(["score", str(orders), "-q", "--as-of", "2024-06-01", "--out", str(out)]) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # ... and the next run sweeps it
    assert out.read_bytes().startswith(b"customer_id,")


def test_copies_live_in_their_own_folder_and_nothing_else_is_swept(tmp_path):
    """A user's /tmp/rfm-2023-orders.csv looks like nothing of rfm's: it survives any run, and the
    UTF-8 copy of a cp1252 input is gone when the run ends, failed or not."""
    import tempfile

    theirs = Path(tempfile.gettempdir()) / "rfm-2023-orders.csv"
    theirs.write_text("customer_id,order_id,order_date,amount\nA,1,2024-01-01,10\n")
    try:
        orders = tmp_path / "o.csv"
        orders.write_bytes("customer_id,order_id,order_date,amount\nZoé,1,2024-01-01,10\n".encode("cp1252"))
        cfg = tmp_path / "c.yaml"
        cfg.write_text("input:\n  csv:\n    encoding: cp1252\n")
        for extra in ((), ("--as-of", "1990-01-01")):  # a run that works, and one that fails after the copy
            run = _rfm("score", str(orders), "-c", str(cfg), "-q", "--out", str(tmp_path / "s.csv"), *extra)
            assert run.wait(timeout=120) == (0 if not extra else 2)
            copies = Path(tempfile.gettempdir()) / f"rfm-copies-{os.getuid()}"
            assert not [p for p in copies.iterdir() if p.name.startswith(f"{run.pid}-")]
        assert theirs.exists()
        # and in its own folder, the copy a killed run left (pid gone) is swept by the next run
        stale = copies / "999999999-abc.csv"
        stale.write_text("left by a killed run")
        assert main(["score", str(orders), "-c", str(cfg), "-q", "--out", str(tmp_path / "s.csv")]) == 0
        assert not stale.exists()
    finally:
        theirs.unlink()
