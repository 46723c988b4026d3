"""Where the Spark engine reads the contract tables: a Parquet folder, or the SQLite store.

The folder is the `spark_input` setting (a config file's key) or, when no setting names
one, `$OFFERRANK_SPARK_INPUT`, as `$OFFERRANK_DB` stands in for an unset `db_path`. A
local folder is checked before Spark starts, so that a wrong one is one line naming the
setting or the variable: missing or not a folder is configuration (exit 2), unreadable is
the environment (exit 1). A URI (`s3a://...`, `hdfs://...`) is checked when Spark lists it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from offerrank.config import Settings
from offerrank.errors import OfferrankError, UsageError

INPUT_ENV = "OFFERRANK_SPARK_INPUT"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class SparkInput:
    """A Parquet folder and who named it (for messages)."""

    location: str
    origin: str

    @property
    def local(self) -> Path | None:
        """The folder on this machine, or None for a URI of another file system."""
        if self.location.startswith("file://"):
            return Path(self.location.removeprefix("file://"))
        return None if _SCHEME.match(self.location) else Path(self.location)

    def named(self) -> str:
        return f"{self.origin} {self.location}"


def spark_input(settings: Settings) -> SparkInput | None:
    """The Parquet folder to read, or None: read the SQLite store."""
    if settings.spark_input is not None:
        return SparkInput(settings.spark_input, "spark_input")
    if os.environ.get(INPUT_ENV, "").strip():
        return SparkInput(os.environ[INPUT_ENV].strip(), f"${INPUT_ENV}")
    return None


def check_input(source: SparkInput) -> None:
    """A local folder must exist, be a folder, and be listable."""
    folder = source.local
    if folder is None:
        return
    if not folder.exists():
        raise UsageError(f"{source.named()}: no such folder (the Parquet tables to read)")
    if not folder.is_dir():
        raise UsageError(f"{source.named()}: not a folder (name the folder of Parquet tables)")
    try:
        next(folder.iterdir(), None)
    except OSError as exc:
        raise OfferrankError(f"{source.named()}: cannot read the folder ({exc.strerror})") from None
