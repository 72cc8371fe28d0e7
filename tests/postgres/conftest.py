"""A private PostgreSQL server for the tests: initdb in a temp directory, a free port, stopped at the end.

Passwords are required over TCP (scram), so authentication is tested for real;
the fixture itself sets up roles through the Unix socket (trust).  CI
(`.ci/run`) installs Debian's ``postgresql`` and sets RFM_REQUIRE_ENGINES, so
these tests never skip there; elsewhere they skip, saying why."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

PASSWORD = "s3cr@t:P%w#1/x"  # URL-special characters; never in any output, raw or encoded (test_postgres.py)


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    socket_dir: Path

    def url(self, user: str = "analyst", password: str = PASSWORD, db: str = "shop") -> str:
        return f"postgresql://{user}:{quote(password, safe='')}@{self.host}:{self.port}/{db}"

    def psql(self, sql: str, db: str = "shop") -> str:
        return _run(["psql", "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres", "-d", db,
                     "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_postgres() -> list[str]:
    # initdb and the server refuse to run as root: run them as the postgres user when we are root
    return ["runuser", "-u", "postgres", "--"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def _run(cmd: list[str]) -> str:
    tool = _bin(cmd[0]) or cmd[0]
    out = subprocess.run(_as_postgres() + [tool, *cmd[1:]], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {out.stderr.strip()}")
    return out.stdout


@pytest.fixture(scope="session")
def pg_server():
    missing = None
    if _bin("initdb") is None or _bin("pg_ctl") is None:
        missing = "PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql)"
    else:
        try:
            import adbc_driver_postgresql  # noqa: F401
        except ImportError:
            missing = "the rfm[postgres] extra: pip install -e '.[test,postgres]'"
    if missing:
        if os.environ.get("RFM_REQUIRE_ENGINES"):
            pytest.fail(f"the PostgreSQL tests need {missing} (RFM_REQUIRE_ENGINES is set: CI never skips them)")
        pytest.skip(f"the PostgreSQL tests need {missing}")
    # not under pytest's temp root: that is private to us, and the server runs as the postgres user
    root = Path(tempfile.mkdtemp(prefix="rfm-pg-"))
    if _as_postgres():
        shutil.chown(root, "postgres")
    data, sock = root / "data", root
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _run(["initdb", "-D", str(data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
          "-E", "UTF8", "--locale=C"])
    _run(["pg_ctl", "-D", str(data), "-w", "-l", str(root / "server.log"), "-o",
          f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
    server = Server("127.0.0.1", port, sock)
    try:
        server.psql("CREATE DATABASE shop", db="postgres")
        server.psql(
            f"CREATE ROLE analyst LOGIN PASSWORD '{PASSWORD}'; CREATE ROLE viewer LOGIN PASSWORD '{PASSWORD}';"
            "CREATE SCHEMA marketing AUTHORIZATION analyst; GRANT CREATE, USAGE ON SCHEMA public TO analyst;"
            "GRANT USAGE ON SCHEMA marketing TO viewer;"
        )
        yield server
    finally:
        _run(["pg_ctl", "-D", str(data), "-m", "fast", "stop"])
        shutil.rmtree(root, ignore_errors=True)
