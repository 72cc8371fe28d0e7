from __future__ import annotations

import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
CDNOW = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_sample.txt"


@pytest.fixture
def golden_csv() -> Path:
    return DATA / "golden_orders.csv"


@pytest.fixture
def cdnow_path() -> Path:
    if not CDNOW.exists():
        pytest.skip(f"CDNOW sample not found at {CDNOW} (../shared beside the repo)")
    return CDNOW


@pytest.fixture(autouse=True)
def _quiet_rfm_warnings():
    # Library warnings are asserted explicitly where they matter.
    from rfm.errors import RfmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RfmWarning)
        yield
