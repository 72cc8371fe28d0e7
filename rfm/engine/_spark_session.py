"""Starting and reaching a Spark session for the Spark engine, and Spark's errors translated.

The settings every session runs with (:data:`SESSION_CONF`), those of a local
session rfm starts itself (:data:`LOCAL_CONF`), the checks that fail in one
line before Spark would fail in many (no Java or an old one, a Spark Connect
endpoint nobody answers), where a local JVM's own output goes, and
:func:`translated`, which turns Spark's exceptions into the library's.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyspark.errors import (
    ArithmeticException,
    ArrayIndexOutOfBoundsException,
    DateTimeException,
    NumberFormatException,
    PySparkException,
)
from pyspark.sql import SparkSession

from rfm.engine._errors import first_line
from rfm.errors import ConfigError, DataError, EngineError

# Settings every rfm Spark session runs with (a user's own session gets them for the engine's life).
SESSION_CONF = {
    "spark.sql.ansi.enabled": "true",  # a bad value fails; never a silent NULL or another list element
    "spark.sql.session.timeZone": "UTC",  # a timestamp's day is its UTC day, as on DuckDB
    # "x" is an identifier, as in DuckDB and standard SQL: one quoting function for both engines
    "spark.sql.ansi.doubleQuotedIdentifiers": "true",
    # and nothing else may change what the SQL means: values are literals, never substituted or
    # re-escaped; dates parse with the current parser; identifiers compare as in DuckDB
    "spark.sql.variable.substitute": "false",
    "spark.sql.parser.escapedStringLiterals": "false",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.caseSensitive": "false",
}
# Only for a local session the engine starts itself.
LOCAL_CONF = {
    "spark.driver.memory": "4g",  # local mode runs the executors in the driver; engine.conf raises it
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": str(max(2, 2 * (os.cpu_count() or 1))),
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties').as_uri()}",
}
_DATA_ERRORS = (NumberFormatException, DateTimeException, ArithmeticException, ArrayIndexOutOfBoundsException)
def _reachable(remote: str) -> None:
    """Fail in seconds, not after the Connect client's retries (minutes), when nothing answers at ``remote``."""
    m = re.match(r"^sc://(\[[^\]]+\]|[^:/;]+)(?::(\d+))?(?:[/;]|$)", remote)
    if m is None:  # the URL is not echoed: it may carry a token
        raise ConfigError("--spark-remote: not a Spark Connect URL; write sc://host:port (default port 15002)")
    host, port = m.group(1).strip("[]"), int(m.group(2) or 15002)
    try:
        socket.create_connection((host, port), timeout=10).close()
    except OSError as exc:
        raise EngineError(f"cannot reach Spark Connect at {host}:{port} ({exc.strerror or exc}); is the server running?") from None


def _jvm_log() -> Path:
    return Path(tempfile.gettempdir()) / f"rfm-spark-{getattr(os, 'getuid', os.getpid)()}.log"


@contextmanager
def _jvm_output(local: bool) -> Iterator[None]:
    """A local JVM's own output (start-up banners, its log) goes to a file, not the user's terminal:
    rfm reports what matters in one line.  The file: ``$TMPDIR/rfm-spark-<uid>.log``."""
    if not local:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:  # never through a planted symlink, never into another user's file
        target = os.open(_jvm_log(), os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o600)
        if hasattr(os, "getuid") and os.fstat(target).st_uid != os.getuid():
            os.close(target)
            raise OSError("not ours")
    except OSError:
        target = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(target, 2)  # the JVM is forked now and inherits this descriptor
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def _java_problem() -> str | None:
    """Why a local Spark session cannot start (no java, or one older than 17), or None."""
    install = "install a JDK 17+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or use --spark-remote"
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home, "bin", "java")) if home and Path(home, "bin", "java").exists() else shutil.which("java")
    if java is None:
        return f"the Spark engine needs Java 17 or later, and no java was found (JAVA_HOME unset, java not on PATH); {install}"
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return None  # let Spark try, and name its log if it fails
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if m is not None:
        major = int(m.group(2)) if m.group(1) == "1" else int(m.group(1))  # "1.8.0" is Java 8
        if major < 17:
            return f"the Spark engine needs Java 17 or later, and {java} is Java {major}; {install}"
    return None


# Error conditions that mean "a value in the data", whatever exception class carries them.
_DATA_CONDITIONS = {
    "USER_RAISED_EXCEPTION", "CAST_INVALID_INPUT", "CAST_OVERFLOW", "CANNOT_PARSE_TIMESTAMP",
    "ARITHMETIC_OVERFLOW", "NUMERIC_VALUE_OUT_OF_RANGE", "DATETIME_OVERFLOW", "DIVIDE_BY_ZERO",
}


@contextmanager
def translated(prefix: str = "") -> Iterator[None]:
    """A bad value becomes a :class:`DataError`, any other Spark failure an :class:`EngineError`."""
    try:
        yield
    except _DATA_ERRORS as exc:
        raise DataError(prefix + first_line(exc)) from None
    except PySparkException as exc:
        condition = (exc.getCondition() or "").split(".")[0] if hasattr(exc, "getCondition") else ""
        cls = DataError if condition in _DATA_CONDITIONS else EngineError
        raise cls(prefix + first_line(exc)) from None
    except Exception as exc:  # py4j, gRPC and Arrow failures: the session is gone, unreachable or broken
        if type(exc).__module__.startswith(("py4j", "grpc", "pyspark", "pyarrow")):
            raise EngineError(prefix + first_line(exc)) from None
        raise


def start_session(remote: str | None, conf: dict[str, str]) -> Any:
    """A Spark Connect session at ``remote``, or a local one (all cores, ``conf`` on top of rfm's)."""
    builder = SparkSession.builder
    if remote is not None:
        _reachable(remote)
        builder = builder.remote(remote)
    else:
        problem = _java_problem()
        if problem is not None:
            raise ConfigError(problem)
        builder = builder.master(conf.pop("spark.master", "local[*]")).appName("rfm")
        for key, value in LOCAL_CONF.items():
            builder = builder.config(key, value)
    for key, value in {**SESSION_CONF, **conf}.items():
        builder = builder.config(key, value)
    where = "" if remote is not None else f" (the JVM's log: {_jvm_log()})"
    with translated(f"cannot start Spark{where}: "), _jvm_output(remote is None):
        session = builder.getOrCreate()
    if remote is None:
        session.sparkContext.setLogLevel("ERROR")
    return session
