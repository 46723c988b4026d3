"""A columnar copy of the store's checked rows, so that a run reads from SQLite only
what is new.

Reading the input tables out of SQLite costs about a microsecond a row: on a store with
15M order lines and 2.5M impressions that is most of a daily run, and it grows with the
history. But the history hardly changes: each day appends a day of rows. The cache keeps,
per input table, Arrow IPC segments of the rows up to a rowid `R`, and a run reads from
SQLite only the rows above `R`.

A cached read equals a plain read whatever happened to the store since, because the
cache keeps rows 1..R of a table only while the store vouches for them
(`store.check.watermarks`):

- only rows the contract check has passed are cached (rowid <= the table's watermark),
  only while the table's triggers are in place, and only when the store's latest
  watermark advance for the table, logged with a random token, is the one that reached
  the watermark;
- the cache records that token, the table's generation and the store's schema version.
  An UPDATE, a DELETE or an INSERT at or below the watermark, whoever makes it (the
  sqlite3 shell too), gives the table a new random generation; DDL (dropped triggers,
  VACUUM, which renumbers the rowids of order_items) changes the schema version; a
  restored backup or another copy of the store lacks the token or has another
  generation, since both are random: two histories never share them. Any of these makes
  the run read that table whole again, and refill the cache;
- the cache folder is named after the store's path (`Settings.cache_dir`) and the
  manifest records the path and the store's id, so a moved or replaced store starts
  afresh; a changed column list or an unreadable cache file means a full read.

What this cannot see is a change that bypasses SQLite's triggers and is then hidden by
an equal number of schema changes on another copy; the contract watermarks share that
limit, and `history_cache = false` turns the cache off.

All the reads of one call happen in one SQLite read transaction, so the cached and the
new rows come from one snapshot. Writes go to uniquely named files renamed into place,
the manifest last: a crash leaves the previous cache or none, and a cache that cannot be
written (a full disk) is skipped, not fatal. One writer at a time: the daily run uses
the cache under its run lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from offerrank.store.check.watermarks import IDENTITY, LOG, watched
from offerrank.store.check.watermarks import TABLE as WATERMARKS
from offerrank.store.db import query_arrow_many

ROWID = "__rowid"
MANIFEST = "manifest.json"
FORMAT = 2  # the manifest's layout; a manifest of another layout is ignored
MAX_SEGMENTS = 8  # beyond this many segments a table is rewritten as one
_STORE_SQL = (
    f"SELECT (SELECT store_id FROM {IDENTITY} LIMIT 1) AS store_id,"
    " (SELECT schema_version FROM pragma_schema_version()) AS schema_version"
)
_LATEST = (
    f"(SELECT l.{{c}} FROM {LOG} AS l WHERE l.table_name = w.table_name"
    " ORDER BY l.seq DESC LIMIT 1)"
)
_TABLES_SQL = (
    f"SELECT w.table_name, w.generation, w.checked_rowid, {_LATEST.format(c='token')} AS token,"
    f" {_LATEST.format(c='checked_rowid')} AS token_rowid FROM {WATERMARKS} AS w"
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


@dataclass(frozen=True)
class TableState:
    """What the store says of one table in the read's snapshot."""

    generation: int
    checked: int  # the watermark
    token: int | None  # of the latest advance of the watermark
    token_rowid: int | None  # where that advance took it
    watched: bool  # its triggers are in place: every change to it shows


@dataclass
class CacheStats:
    """What one read did, for the run's notes and the benchmarks."""

    cached_rows: int = 0
    read_rows: int = 0
    full_tables: int = 0


@dataclass
class _Snapshot:
    store: dict[str, Any]  # store_id, schema_version, path
    tables: dict[str, TableState]
    tokens: set[tuple[str, int, int]]  # (table, rowid, token) of the cached entries found
    fresh: dict[str, pa.Table]  # each table's rows above its cached rowid


def read_through(
    db_path: Path, cache_dir: Path, reads: dict[str, TableRead]
) -> tuple[dict[str, pa.Table], CacheStats] | None:
    """Every table of `reads` whole (cached rows + rows read now), and the cache updated.

    None when the store has no watermark log yet (never checked): nothing may be cached.
    """
    if not _has_watermarks(db_path):
        return None
    path = str(Path(db_path).resolve())
    manifest = _load_manifest(cache_dir)
    for _ in range(3):
        snap = _read(db_path, path, manifest, reads)
        stale = [t for t in reads if not _entry_valid(manifest, t, reads[t], snap)]
        if not stale:
            break
        for table in stale:  # read these whole on the next pass
            manifest["tables"].pop(table, None)
    else:  # pragma: no cover - a writer that changes the store on every read
        shutil.rmtree(cache_dir, ignore_errors=True)
        return None
    stats = CacheStats(full_tables=sum(1 for t in reads if t not in manifest["tables"]))
    result, cached = {}, {}
    for table in reads:
        cached[table] = _segments(cache_dir, manifest, table)
        new = snap.fresh[table]
        stats.cached_rows += sum(s.num_rows for s in cached[table])
        stats.read_rows += new.num_rows
        parts = [*cached[table], new.cast(cached[table][0].schema) if cached[table] else new]
        result[table] = pa.concat_tables(parts).drop_columns([ROWID])
    try:
        for table in reads:
            _remember(cache_dir, manifest, table, reads[table], snap, cached[table])
        manifest.update(store=snap.store, last_read=stats.__dict__)
        _save_manifest(cache_dir, manifest)
    except OSError:  # a full disk or a read-only folder: the read is right, the cache stays
        pass
    return result, stats


def _has_watermarks(db_path: Path) -> bool:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()
    return {WATERMARKS, IDENTITY, LOG} <= names


def _read(
    db_path: Path, path: str, manifest: dict[str, Any], reads: dict[str, TableRead]
) -> _Snapshot:
    """In one snapshot: the store's and each table's state, which cached tokens the store
    still holds, and each table's rows above its cached rowid."""
    entries = [(t, e["checked"], e["token"]) for t, e in manifest["tables"].items()]
    found = " OR ".join("(table_name = ? AND checked_rowid = ? AND token = ?)" for _ in entries)
    queries: list[tuple[str, list[Any]]] = [
        (_STORE_SQL, []),
        (_TABLES_SQL, []),
        ("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'", []),
        (
            f"SELECT table_name, checked_rowid, token FROM {LOG} WHERE {found or 'FALSE'}",
            [v for entry in entries for v in entry],
        ),
    ]
    for table, read in reads.items():
        entry = manifest["tables"].get(table)
        select = (
            f"{read.probe}, 0 AS {ROWID} UNION ALL {read.select}, rowid AS {ROWID} FROM {table}"
        )
        if entry is None:  # the whole table: rowids may be 0 or negative (explicit keys)
            queries.append((f"SELECT {select}", []))
        else:
            queries.append((f"SELECT {select} WHERE rowid > ?", [entry["rowid"]]))
    answers = query_arrow_many(db_path, queries)
    store = {**answers[0].to_pylist()[0], "path": path}
    triggers = dict(zip(*(answers[2].column(i).to_pylist() for i in range(2)), strict=True))
    tables = {
        r["table_name"]: TableState(
            r["generation"],
            r["checked_rowid"],
            r["token"],
            r["token_rowid"],
            watched(r["table_name"], triggers),
        )
        for r in answers[1].to_pylist()
    }
    tokens = {(r["table_name"], r["checked_rowid"], r["token"]) for r in answers[3].to_pylist()}
    fresh = {t: answers[4 + i].slice(1) for i, t in enumerate(reads)}
    return _Snapshot(store, tables, tokens, fresh)


def _entry_valid(manifest: dict[str, Any], table: str, read: TableRead, snap: _Snapshot) -> bool:
    """Whether the cached rows of `table` are still the store's rows 1..R."""
    entry = manifest["tables"].get(table)
    if entry is None:
        return True  # nothing cached: the rows above rowid 0 are the whole table
    state = snap.tables.get(table)
    return (
        state is not None
        and state.watched
        and manifest.get("store") == snap.store
        and entry["columns"] == read.key
        and entry["generation"] == state.generation
        and (table, entry["checked"], entry["token"]) in snap.tokens
    )


def _segments(cache_dir: Path, manifest: dict[str, Any], table: str) -> list[pa.Table]:
    entry = manifest["tables"].get(table)
    if entry is None:
        return []
    return [
        pa.ipc.open_file(pa.memory_map(str(cache_dir / s["name"]))).read_all()
        for s in entry["segments"]
    ]


def _remember(
    cache_dir: Path,
    manifest: dict[str, Any],
    table: str,
    read: TableRead,
    snap: _Snapshot,
    cached: list[pa.Table],
) -> None:
    """Add the new rows the contract check has passed (rowid <= watermark) as a segment,
    when the store's latest watermark advance vouches for them."""
    state, new = snap.tables.get(table), snap.fresh[table]
    if state is None or not state.watched or state.token_rowid != state.checked:
        return  # unwatched, or moved since its last logged advance: nothing to vouch for
    keep = new
    if new.num_rows and pc.max(new.column(ROWID)).as_py() > state.checked:
        keep = new.filter(pc.less_equal(new.column(ROWID), state.checked))  # a copy: only if needed
    if keep.num_rows == 0:
        return
    entry = manifest["tables"].get(table)
    segments = list(entry["segments"]) if entry else []
    segments.append(_write(cache_dir, table, keep))
    if len(segments) > MAX_SEGMENTS:
        segments = [_write(cache_dir, table, pa.concat_tables([*cached, keep]))]
    manifest["tables"][table] = {
        "rowid": int(pc.max(keep.column(ROWID)).as_py()),
        "checked": state.checked,
        "token": state.token,
        "generation": state.generation,
        "columns": read.key,
        "segments": segments,
    }


SEGMENT_BATCH_ROWS = 1 << 20


def _write(cache_dir: Path, table: str, rows: pa.Table) -> dict[str, Any]:
    """One segment file, under a name no other segment had (a crash never mixes two)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    lo, hi = pc.min(rows.column(ROWID)).as_py(), pc.max(rows.column(ROWID)).as_py()
    name = f"{table}.{lo}-{hi}.{uuid.uuid4().hex[:8]}.arrow"
    tmp = cache_dir / f".{name}.tmp"
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, rows.schema) as writer:
            # large record batches (rows arrive from SQLite in ~1k-row batches), made one
            # slice at a time: a contiguous copy of the whole table would double its memory
            for lo in range(0, rows.num_rows, SEGMENT_BATCH_ROWS):
                writer.write_table(rows.slice(lo, SEGMENT_BATCH_ROWS).combine_chunks())
        os.replace(tmp, cache_dir / name)
    finally:
        tmp.unlink(missing_ok=True)
    stat = (cache_dir / name).stat()
    return {"name": name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _load_manifest(cache_dir: Path) -> dict[str, Any]:
    """The manifest, or an empty one when it or any file it names is missing, of another
    layout, or changed since it was written (size and modification time)."""
    try:
        manifest = json.loads((cache_dir / MANIFEST).read_text())
        if manifest["format"] != FORMAT:
            raise ValueError("another layout")
        for entry in manifest["tables"].values():
            for s in entry["segments"]:
                path = cache_dir / s["name"]
                stat = path.stat()
                if (stat.st_size, stat.st_mtime_ns) != (s["size"], s["mtime_ns"]):
                    raise ValueError(f"{path} changed")
                pa.ipc.open_file(pa.memory_map(str(path))).schema  # noqa: B018
        return dict(manifest)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, pa.ArrowException):
        return {"format": FORMAT, "store": None, "tables": {}}


def _save_manifest(cache_dir: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically, then drop the segments it no longer names."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, cache_dir / MANIFEST)
    named = {s["name"] for e in manifest["tables"].values() for s in e["segments"]}
    for path in cache_dir.glob("*.arrow"):
        if path.name not in named:
            path.unlink(missing_ok=True)
