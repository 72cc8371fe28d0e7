"""The tutorial notebooks run, top to bottom, in a real Jupyter kernel (nbclient), so they cannot rot.

Each notebook asserts its own results (no New customer on CDNOW in April 1998, BG/NBD's out-of-sample
AUC above 0.7, hot leads converting more than cold ones, the exported scores' row count); here the
outputs are also read back: the backtest's header, the charts' kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need the test extra (nbformat, nbclient)")
from nbclient import NotebookClient  # noqa: E402

TUTORIALS = Path(__file__).resolve().parents[2] / "docs" / "tutorials"


def run(name: str) -> list[str]:
    """Execute ``name`` in a fresh kernel from its own folder; the text of every code cell's outputs."""
    book = nbformat.read(TUTORIALS / name, as_version=4)
    NotebookClient(book, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(TUTORIALS)}}).execute()
    texts = []
    for cell in book.cells:
        if cell.cell_type == "code":
            parts = [o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs]
            texts.append("\n".join(map(str, parts)))
    return texts


def test_churn_review_notebook():
    out = "\n".join(run("churn-review.ipynb"))
    assert "1997-01-01 to 1998-06-30" in out
    assert "read 6,919 lines, scored 2,357 customers" in out
    assert "Backtest: calibration to 1998-01-02, holdout 1998-01-03..1998-04-02 (90 days), 2,357 customers" in out
    assert "alt.LayerChart(...)" in out  # the R x F grid: a layered Altair chart, displayed by Jupyter
    assert "['scores.parquet', 'churn.html']" in out


def test_lead_scoring_notebook():
    out = "\n".join(run("lead-scoring.ipynb"))
    assert "GeneratedLeads(leads=3000" in out
    assert "'hot':" in out and "'cold':" in out
