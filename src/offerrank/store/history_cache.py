"""A columnar copy of the store's checked rows, so that a run reads from SQLite only
what is new.

Reading the input tables out of SQLite costs about a microsecond a row: on a store with
15M order lines and 2.5M impressions that is most of a daily run, and it grows with the
history. But the history hardly changes: each day appends a day of rows. The cache keeps,
per input table, Arrow IPC segments of the rows up to a rowid `R`, and a run reads from
SQLite only the rows above `R` (and one row to check the tail).

The cache is used only while the store vouches for it (see `store.watermarks`):

- only rows already checked against the contract (rowid <= the table's watermark) are
  cached, so the cache never holds a row the contract check has not passed;
- any UPDATE or DELETE, an INSERT at or below the watermark, or lost triggers bump the
  table's `generation`; a cached table whose generation changed is read again whole;
- `store_identity` names the store file (a regenerated store gets a new id), and the
  cached last row must still be the store's row `R` (a restored older copy fails that);
- a changed column list (a new contract version) or an unreadable cache means a full read.

All the reads of one call happen in one SQLite read transaction, so the cached and the
new rows come from one snapshot. Writes go to temporary files renamed into place, the
manifest last: a crash leaves the previous cache or none. One writer at a time: the daily
run uses the cache under its run lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from offerrank.store.db import query_arrow_many
from offerrank.store.watermarks import IDENTITY
from offerrank.store.watermarks import TABLE as WATERMARKS

ROWID = "__rowid"
MANIFEST = "manifest.json"
MAX_SEGMENTS = 8  # beyond this many segments a table is rewritten as one
_STATE_SQL = (
    f"SELECT w.table_name, w.generation, w.checked_rowid,"
    f" (SELECT store_id FROM {IDENTITY} LIMIT 1) AS store_id FROM {WATERMARKS} AS w"
)


@dataclass(frozen=True)
class TableRead:
    """How to read one table: a first row of typed literals (fixes the Arrow types) and
    the typed SELECT of its columns, both without a WHERE clause."""

    probe: str
    select: str

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.probe}\x1f{self.select}".encode()).hexdigest()[:16]


@dataclass
class CacheStats:
    """What one read did, for the run's notes and the benchmarks."""

    cached_rows: int = 0
    read_rows: int = 0
    full_tables: int = 0


def read_through(
    db_path: Path, cache_dir: Path, reads: dict[str, TableRead]
) -> tuple[dict[str, pa.Table], CacheStats] | None:
    """Every table of `reads` whole (cached rows + rows read now), and the cache updated.

    None when the store has no watermarks yet (never checked): nothing may be cached.
    """
    if not _has_watermarks(db_path):
        return None
    manifest = _load_manifest(cache_dir)
    for _ in range(3):
        state, fresh, tails = _read_new(db_path, manifest, reads)
        stale = [t for t in reads if not _entry_valid(manifest, t, reads[t], state, tails)]
        if not stale:
            break
        for table in stale:  # read these whole on the next pass
            manifest["tables"].pop(table, None)
    else:  # pragma: no cover - a writer that changes the store on every read
        shutil.rmtree(cache_dir, ignore_errors=True)
        return None
    stats = CacheStats(full_tables=sum(1 for t in reads if t not in manifest["tables"]))
    result = {}
    for table in reads:
        cached = _segments(cache_dir, manifest, table)
        new = fresh[table]
        stats.cached_rows += sum(s.num_rows for s in cached)
        stats.read_rows += new.num_rows
        _remember(cache_dir, manifest, table, reads[table], state, new, cached)
        parts = [*cached, new.cast(cached[0].schema) if cached else new]
        result[table] = pa.concat_tables(parts).drop_columns([ROWID])
    manifest["store_id"] = next(iter(state.values()))[2] if state else None
    _save_manifest(cache_dir, manifest)
    return result, stats


def _has_watermarks(db_path: Path) -> bool:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()
    return {WATERMARKS, IDENTITY} <= names


def _read_new(
    db_path: Path, manifest: dict[str, Any], reads: dict[str, TableRead]
) -> tuple[dict[str, tuple[int, int, str]], dict[str, pa.Table], dict[str, pa.Table]]:
    """In one snapshot: the watermark state, each table's rows above its cached rowid and
    the store's current row at that rowid (to check the cached tail)."""
    queries: list[tuple[str, list[Any]]] = [(_STATE_SQL, [])]
    for table, read in reads.items():
        since = manifest["tables"].get(table, {}).get("rowid", 0)
        select = f"{read.select}, rowid AS {ROWID} FROM {table}"
        probe = f"SELECT {read.probe}, 0 AS {ROWID}"
        queries.append((f"{probe} UNION ALL {select} WHERE rowid > ?", [since]))
        queries.append((f"{probe} UNION ALL {select} WHERE rowid = ?", [since]))
    answers = query_arrow_many(db_path, queries)
    state = {
        r["table_name"]: (r["generation"], r["checked_rowid"], r["store_id"])
        for r in answers[0].to_pylist()
    }
    fresh = {t: answers[1 + 2 * i].slice(1) for i, t in enumerate(reads)}
    tails = {t: answers[2 + 2 * i].slice(1) for i, t in enumerate(reads)}
    return state, fresh, tails


def _entry_valid(
    manifest: dict[str, Any],
    table: str,
    read: TableRead,
    state: dict[str, tuple[int, int, str]],
    tails: dict[str, pa.Table],
) -> bool:
    entry = manifest["tables"].get(table)
    if entry is None:
        return True  # nothing cached: the rows above rowid 0 are the whole table
    generation, _, store_id = state.get(table, (None, 0, None))
    return (
        manifest.get("store_id") == store_id
        and entry["generation"] == generation
        and entry["columns"] == read.key
        and entry["tail"] == _digest(tails[table])
    )


def _digest(rows: pa.Table) -> str:
    return hashlib.sha256(repr(rows.drop_columns([ROWID]).to_pylist()).encode()).hexdigest()


def _segments(cache_dir: Path, manifest: dict[str, Any], table: str) -> list[pa.Table]:
    entry = manifest["tables"].get(table)
    if entry is None:
        return []
    return [
        pa.ipc.open_file(pa.memory_map(str(cache_dir / name))).read_all()
        for name in entry["segments"]
    ]


def _remember(
    cache_dir: Path,
    manifest: dict[str, Any],
    table: str,
    read: TableRead,
    state: dict[str, tuple[int, int, str]],
    new: pa.Table,
    cached: list[pa.Table],
) -> None:
    """Add the new rows the contract check has passed (rowid <= watermark) as a segment."""
    generation, checked, _ = state.get(table, (0, 0, None))
    keep = new.filter(pc.less_equal(new.column(ROWID), checked)) if new.num_rows else new
    entry = manifest["tables"].get(table)
    if keep.num_rows == 0 and entry is not None:
        return
    segments = list(entry["segments"]) if entry else []
    if keep.num_rows:
        segments.append(_write(cache_dir, table, keep))
    if len(segments) > MAX_SEGMENTS:
        segments = [_write(cache_dir, table, pa.concat_tables([*cached, keep]))]
    last = keep if keep.num_rows else None
    rowid = int(pc.max(keep.column(ROWID)).as_py()) if last is not None else 0
    tail = last.slice(last.num_rows - 1) if last is not None else keep
    manifest["tables"][table] = {
        "rowid": rowid,
        "generation": generation,
        "columns": read.key,
        "segments": segments,
        "tail": _digest(tail),
    }


def _write(cache_dir: Path, table: str, rows: pa.Table) -> str:
    cache_dir.mkdir(parents=True, exist_ok=True)
    lo, hi = pc.min(rows.column(ROWID)).as_py(), pc.max(rows.column(ROWID)).as_py()
    name = f"{table}.{lo}-{hi}.arrow"
    tmp = cache_dir / f".{name}.tmp"
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, rows.schema) as writer:
        writer.write_table(rows.combine_chunks())
    os.replace(tmp, cache_dir / name)
    return name


def _load_manifest(cache_dir: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((cache_dir / MANIFEST).read_text())
        for entry in manifest["tables"].values():
            for name in entry["segments"]:  # a missing or truncated file fails here
                pa.ipc.open_file(pa.memory_map(str(cache_dir / name))).schema  # noqa: B018
        return dict(manifest)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, pa.ArrowException):
        return {"store_id": None, "tables": {}}


def _save_manifest(cache_dir: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically, then drop the segments it no longer names."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, cache_dir / MANIFEST)
    named = {n for e in manifest["tables"].values() for n in e["segments"]}
    for path in cache_dir.glob("*.arrow"):
        if path.name not in named:
            path.unlink(missing_ok=True)
