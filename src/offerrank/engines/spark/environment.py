"""What Spark needs from the machine before a session starts: Java and a reachable master.

Without these checks a missing Java ends in PySpark's "Java gateway process exited", and
an unreachable standalone master in minutes of the client's retries; each is one line
here, in well under a second, naming what is wrong.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

from offerrank.errors import OfferrankError, UsageError

JAVA_HOME = "JAVA_HOME"
# How long a standalone master's port may take to accept a connection.
CONNECT_TIMEOUT_S = 3.0
# Masters Spark accepts; a standalone master (`spark://`) is checked by connecting to it.
_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|yarn|k8s://.+")
_STANDALONE = re.compile(r"spark://(.+)")
_HOST_PORT = re.compile(r"\[?([^\[\]]+?)\]?:(\d{1,5})")


class SparkUnavailable(OfferrankError):
    """Spark cannot start here (no Java, no master): the environment, exit code 1."""


def java_command() -> Path:
    """The `java` Spark's launcher runs: `$JAVA_HOME/bin/java` when JAVA_HOME is set (even
    when that is wrong: the launcher does not fall back to PATH), else `java` on PATH."""
    home = os.environ.get(JAVA_HOME)
    if home:
        java = Path(home) / "bin" / "java"
        if not (java.is_file() and os.access(java, os.X_OK)):
            raise SparkUnavailable(
                f"${JAVA_HOME} {home}: no bin/java there; Spark runs Java from JAVA_HOME"
                " when it is set (point it at a Java 17+ installation, or unset it)"
            )
        return java
    found = shutil.which("java")
    if found is None:
        raise SparkUnavailable(
            f"no Java for Spark: java is not on PATH and ${JAVA_HOME} is not set"
            " (install Java 17 or later)"
        )
    return Path(found)


def standalone_addresses(master: str, origin: str) -> list[tuple[str, int]]:
    """The (host, port) pairs of a standalone master URL (several for a master with
    standbys: `spark://h1:7077,h2:7077`); [] for any other kind of master. A URL Spark
    would not accept is a UsageError naming where it came from."""
    if _MASTER.fullmatch(master):
        return []
    standalone = _STANDALONE.fullmatch(master)
    if standalone is None:
        raise UsageError(
            f"{origin} {master}: not a Spark master (use local[N], spark://HOST:PORT, yarn"
            " or k8s://...)"
        )
    pairs = []
    for item in standalone.group(1).split(","):
        found = _HOST_PORT.fullmatch(item.strip())
        if found is None or not 0 < int(found.group(2)) < 65536:
            raise UsageError(f"{origin} {master}: expected spark://HOST:PORT, got {item!r}")
        pairs.append((found.group(1), int(found.group(2))))
    return pairs


def check_master(master: str, origin: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A standalone master must accept a connection on one of its addresses; Spark's own
    client would otherwise retry for minutes before giving up."""
    reasons = []
    for host, port in standalone_addresses(master, origin):
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return
        except OSError as exc:
            reasons.append(f"{host}:{port} ({exc.strerror or type(exc).__name__})")
    if reasons:
        raise SparkUnavailable(
            f"{origin} {master}: no Spark master answers at {', '.join(reasons)}"
        )
