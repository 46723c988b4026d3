"""The last runs and their steps, from pipeline_runs, with failed runs first.

An operator opening `offerrank status` wants what went wrong before what went right:
runs with a failed, interrupted or still-running step come first, then the others,
each group newest first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from offerrank.config import Settings
from offerrank.store.db import connect_readonly, table_exists

PROBLEM = ("failed", "interrupted", "running")


@dataclass
class RunStatus:
    run_id: str
    run_date: str
    started_at: str | None
    status: str  # failed | interrupted | running | success
    steps: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _overall(statuses: list[str]) -> str:
    return next((p for p in PROBLEM if p in statuses), "success")


def recent_runs(settings: Settings, last: int = 5, run_date: date | None = None) -> list[RunStatus]:
    """The `last` most recent runs (of `run_date` only, when given), failures first.

    Read only, so that it works on a read-only store (a store never run has no runs).
    """
    con = connect_readonly(settings.db_path)
    try:
        if not table_exists(con, "pipeline_runs"):
            return []
        where, params = ("WHERE run_date = ?", [run_date.isoformat()]) if run_date else ("", [])
        runs = con.execute(
            f"SELECT run_id, run_date, MIN(started_at), MAX(rowid) AS last_row"
            f" FROM pipeline_runs {where} GROUP BY run_id ORDER BY last_row DESC LIMIT ?",
            (*params, last),
        ).fetchall()
        ids = [r[0] for r in runs]
        marks = ", ".join("?" * len(ids))
        steps = con.execute(
            "SELECT run_id, step, status, started_at, finished_at, duration_s, detail"
            f" FROM pipeline_runs WHERE run_id IN ({marks}) ORDER BY rowid",
            ids,
        ).fetchall()
    finally:
        con.close()
    by_run: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    names = ("step", "status", "started_at", "finished_at", "duration_s", "detail")
    for row in steps:
        by_run[row[0]].append(dict(zip(names, row[1:], strict=True)))
    result = [
        RunStatus(rid, day, started, _overall([s["status"] for s in by_run[rid]]), by_run[rid])
        for rid, day, started, _ in runs
    ]
    # Stable sort: problems first, recency kept within each group.
    return sorted(result, key=lambda r: r.status == "success")
