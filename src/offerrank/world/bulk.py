"""Writing many batches to a store fast: the parent side of the bulk writer process.

    with BulkWriter(db_path) as writer:
        for batch in batches:
            writer.write(batch)   # returns once the child has the batch

A batch is streamed as Arrow IPC (no per-row Python, no copy of the whole batch) to
`offerrank.world.writer`, which applies it in one transaction while the caller goes on
computing: on two cores, simulating a day and writing the previous one overlap. The
pipe holds at most one batch, and a big table goes in chunks, so memory stays bounded
whatever the number of batches or the size of a world's population.
If the caller fails, the child is stopped and the batch it was writing rolls back: the
store ends at the last whole batch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import TracebackType

import pyarrow as pa

from offerrank.errors import OfferrankError
from offerrank.world.storage import Batch

CHUNK_ROWS = 1 << 20  # a bigger table goes as several steps: one chunk in memory at a time


def _ipc_size(table: pa.Table) -> int:
    """Bytes of `table` as an Arrow IPC stream, counted without writing them anywhere."""
    sink = pa.MockOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as out:
        out.write_table(table)
    return int(sink.size())


class BulkWriter:
    """A writer child process for one store, alive for the `with` block."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BulkWriter:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "offerrank.world.writer", str(self.db_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        return self

    def write(self, batch: Batch) -> None:
        """Hand `batch` to the child: a header, then each table streamed into the pipe."""
        assert self.proc is not None and self.proc.stdin is not None
        steps: list[list[object]] = []
        tables: list[pa.Table] = []
        for kind, target, data in batch.steps:
            if kind != "rows":
                steps.append(["sql", target, list(data)])
                continue
            for start in range(0, data.num_rows, CHUNK_ROWS):
                tables.append(data.slice(start, CHUNK_ROWS))
                steps.append(["rows", target, _ipc_size(tables[-1])])
        try:
            self.proc.stdin.write(json.dumps({"steps": steps}).encode() + b"\n")
            sink = pa.PythonFile(self.proc.stdin, mode="w")
            for table in tables:
                with pa.ipc.new_stream(sink, table.schema) as out:
                    out.write_table(table)
            self.proc.stdin.flush()
        except BrokenPipeError:
            self._finish()  # the child stopped: it says why

    def _finish(self) -> None:
        assert self.proc is not None
        try:
            out, _ = self.proc.communicate()
        except (BrokenPipeError, ValueError):
            out = self.proc.stdout.read() if self.proc.stdout else b""
            self.proc.wait()
        self.proc = None
        lines = out.decode(errors="replace").strip().splitlines()
        answer = json.loads(lines[-1]) if lines else {"ok": False, "error": "it ended silently"}
        if not answer["ok"]:
            raise OfferrankError(f"writing to {self.db_path} failed: {answer['error']}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is None:
            return
        if exc_type is None:
            self._finish()
            return
        self.proc.kill()  # the caller failed: the batch in flight rolls back
        self.proc.wait()
        self.proc = None
