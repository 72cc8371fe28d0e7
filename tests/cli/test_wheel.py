"""The built wheel carries queries/ and runs `rfm demo` outside the repository."""

from __future__ import annotations

import site
import subprocess
import sys
import venv
import zipfile

import polars as pl

from tests.conftest import ROOT


def test_wheel_installs_and_runs_demo(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)],
        check=True, capture_output=True,
    ) if _has_hatchling() else subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(ROOT)], check=True, capture_output=True
    )
    wheel = next(dist.glob("rfm-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "rfm/queries/customers/scores.sql" in names
    assert "rfm/reports/README.md" in names
    assert "rfm/reports/segments.yaml" in names
    assert "rfm/queries/reports/reports.sql" in names
    assert "rfm/data/demo_orders.csv" in names
    assert "rfm/presets/segments/default.yaml" in names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    # Dependencies come from the test environment (no network needed); the package itself from the wheel.
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    deps = [p for p in site.getsitepackages() if "site-packages" in p]
    (tmp_path / "venv" / "deps.pth").write_text("")
    with open(f"{purelib}/zz_deps.pth", "w") as fh:
        fh.write("\n".join(deps) + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([env_dir / "bin" / "rfm", "demo", "--out", "out"], cwd=elsewhere,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    where = subprocess.run([py, "-c", "import rfm, rfm.engine; print(rfm.__file__); print(rfm.engine.queries_dir())"],
                           cwd=elsewhere, capture_output=True, text=True, check=True).stdout.split()
    assert where[0].startswith(purelib)  # imported from the wheel, not the checkout
    assert where[1] == f"{purelib}/rfm/queries"
    assert pl.read_parquet(elsewhere / "out" / "scores.parquet").height == 1955
    html = (elsewhere / "out" / "segments.html").read_text()
    assert "vegaEmbed" in html and "<script src=" not in html


def _has_hatchling() -> bool:
    try:
        import hatchling  # noqa: F401
    except ImportError:
        return False
    return True
