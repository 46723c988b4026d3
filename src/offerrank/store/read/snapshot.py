"""A read-only connection to the store for a long-lived reader (the HTTP API), one
snapshot per request.

The daily run writes the store while the API reads it. In WAL mode a read transaction
sees the database as it was when it began, and a run replaces a date's recommendations in
one transaction, so every query of a request runs inside one `BEGIN ... ROLLBACK`: a
client sees a date's whole old list or its whole new one, never a mix, and never blocks
the run. The connection is opened read-only (`mode=ro`, `query_only`), so nothing done
through it can write. It is reopened when the file at the store's path is another file (a
store replaced by a new one) and after any SQLite error.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

CACHE_KIB = 65536  # SQLite's page cache per connection (its default is 2 MB)


class StoreUnavailable(Exception):
    """The store cannot be read now (missing, replaced mid-write, not a store)."""


@dataclass
class ReadOnlyStore:
    """A read-only connection to the store at `path`, reopened when the file changes."""

    path: Path
    _con: sqlite3.Connection | None = field(default=None, init=False)
    _identity: tuple[int, int] | None = field(default=None, init=False)

    def _connection(self) -> sqlite3.Connection:
        try:
            st = os.stat(self.path)
        except OSError:
            self.close()
            raise StoreUnavailable(f"store not found: {self.path}") from None
        identity = (st.st_dev, st.st_ino)
        if self._con is None or identity != self._identity:
            self.close()
            uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
            con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA query_only = 1")
            con.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._con, self._identity = con, identity
        return self._con

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same state of the store."""
        con = self._connection()
        try:
            con.execute("BEGIN")
            yield con
        except sqlite3.Error as exc:
            self.close()
            if str(exc).startswith("no such table"):
                raise StoreUnavailable(
                    f"store {self.path} has no run outputs ({exc}): never run, or not a store"
                ) from exc
            raise StoreUnavailable(f"store {self.path} not readable: {exc}") from exc
        finally:
            if self._con is con and con.in_transaction:
                con.execute("ROLLBACK")  # ends the snapshot; nothing was written

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
        self._con, self._identity = None, None
