from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from pathlib import Path

import pytest

# The Vega bundle cache (rfm/reporting/_html.py) of a test run lives in a temp folder, not in ~/.cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="rfm-test-cache-")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
CDNOW = DATA / "cdnow" / "CDNOW_sample.txt"
CDNOW_CONFIG = DATA / "cdnow" / "cdnow.yaml"


@pytest.fixture
def golden_csv() -> Path:
    return DATA / "golden_orders.csv"


@pytest.fixture
def cdnow_path() -> Path:
    return CDNOW


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``rfm demo`` run once per test session: (its output directory, what it printed)."""
    from rfm.cli import main

    out = tmp_path_factory.mktemp("demo") / "rfm-demo"
    printed = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        assert main(["demo", "--out", str(out)]) == 0
    return out, printed.getvalue()


@pytest.fixture(scope="session")
def demo_dir(demo_run: tuple[Path, str]) -> Path:
    """The directory ``rfm demo`` wrote (shared by every test that reads its outputs)."""
    return demo_run[0]


@pytest.fixture(scope="session")
def demo_reports(demo_dir: Path) -> dict[str, Path]:
    """Every file ``rfm demo`` wrote, by name (reports, campaign lists, synthetic leads)."""
    return {p.name: p for p in demo_dir.rglob("*") if p.is_file()}


@pytest.fixture(autouse=True)
def _quiet_rfm_warnings():
    # Library warnings are asserted explicitly where they matter.
    from rfm.errors import RfmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RfmWarning)
        yield


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory):
    """One local Spark session for the whole test run (started as rfm starts it: ANSI on, UTC).

    CI installs the ``rfm[spark]`` extra and a JVM and sets RFM_REQUIRE_ENGINES=1, so the
    engine tests never skip there; elsewhere they skip with the reason."""
    import os
    import shutil

    from rfm.engine._settings import spark_available

    missing = None
    if not spark_available():
        missing = "the rfm[spark] extra: pip install -e '.[test,spark]'"
    elif not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        missing = "Java 17+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
    if missing:
        if os.environ.get("RFM_REQUIRE_ENGINES"):
            pytest.fail(f"the Spark tests need {missing} (RFM_REQUIRE_ENGINES is set: CI never skips them)")
        pytest.skip(f"the Spark tests need {missing}")
    from rfm.engine._spark import SparkEngine

    warehouse = tmp_path_factory.mktemp("spark-warehouse")  # catalog tables of the tests live here
    session = SparkEngine._start(None, {
        "spark.master": "local[2]", "spark.sql.shuffle.partitions": "4", "spark.sql.warehouse.dir": str(warehouse),
    })
    yield session
    session.stop()
