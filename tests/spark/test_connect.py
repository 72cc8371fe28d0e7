"""--spark-remote: the same scores through Spark Connect (a local Spark Connect server, started here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from rfm.cli import main
from tests.conftest import CDNOW, CDNOW_CONFIG
from tests.spark.parity import assert_same


@pytest.fixture(scope="module")
def connect_url(spark_session, tmp_path_factory):
    """A Spark Connect server in its own JVM, as a cluster endpoint would be (stopped at the end)."""
    import pyspark

    home = Path(pyspark.__file__).parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("connect") / "server.log"
    cmd = [
        str(home / "bin" / "spark-class"), "org.apache.spark.deploy.SparkSubmit",
        "--class", "org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[1]",
        "--driver-memory", "1g", "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.ui.enabled=false", "spark-internal",
    ]
    with log.open("w") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "SPARK_HOME": str(home)})
    try:
        deadline = time.monotonic() + 120
        while "Spark Connect server started" not in log.read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)


def rfm_cli(*args: str) -> subprocess.CompletedProcess:
    """``rfm`` in its own process: PySpark allows no Connect session beside the tests' local one."""
    return subprocess.run([sys.executable, "-m", "rfm.cli", *args], capture_output=True, text=True, timeout=300)


def test_scores_through_spark_connect(connect_url, tmp_path):
    common = [str(CDNOW), "--config", str(CDNOW_CONFIG), "--as-of", "1997-09-30", "--churn", "bgnbd", "--quiet"]
    assert main(["score", *common, "--out", str(tmp_path / "duck.parquet")]) == 0
    run = rfm_cli("score", *common, "--engine", "spark", "--spark-remote", connect_url,
                  "--out", str(tmp_path / "connect.parquet"))
    assert run.returncode == 0, run.stderr
    duck = pl.read_parquet(tmp_path / "duck.parquet")
    assert duck.height == 2357 and duck["clv"].sum() > 0
    assert_same(duck, pl.read_parquet(tmp_path / "connect.parquet"), label="Spark Connect")


def test_unreachable_endpoint_is_one_line(spark_session, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    run = rfm_cli("score", str(CDNOW), "--config", str(CDNOW_CONFIG), "--engine", "spark",
                  "--spark-remote", f"sc://127.0.0.1:{port}", "--out", str(tmp_path / "s.csv"))
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"error: cannot reach Spark Connect at 127.0.0.1:{port} (Connection refused); is the server running?"
    ]
    assert not (tmp_path / "s.csv").exists()
