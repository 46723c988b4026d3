"""One daily run per store at a time: an OS file lock beside the store.

The kernel releases the lock when the holder dies, even by `kill -9`, so a crashed
run never blocks the next one. A second run waits up to `lock_timeout_s`, then
refuses with the holder's pid.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from offerrank.errors import OfferrankError


class StoreBusy(OfferrankError):
    """Another run holds the store."""


@contextmanager
def run_lock(db_path: Path, timeout_s: float) -> Iterator[None]:
    path = Path(f"{db_path}.lock")
    with open(path, "a+") as fh:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "unknown"
                    raise StoreBusy(
                        f"another run is using {db_path} (pid {holder}); waited {timeout_s:g} s."
                        " Retry later or raise lock_timeout_s."
                    ) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
