"""The last runs and their steps, from pipeline_runs, with failed runs first.

An operator opening `offerrank status` wants what went wrong before what went right:
runs with a failed, interrupted or still-running step come first, then the others,
each group newest first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from offerrank.config import Settings
from offerrank.store.db import connect_readonly, table_exists
from offerrank.store.read import metrics
from offerrank.store.read import runs as run_log

# The run figures `status` shows beside the steps (with their intervals when measured).
FIGURES = (
    "candidate_recall",
    "n_positives",
    "auc",
    "precision_at_k",
    "precision_at_k_popularity",
    "precision_at_k_random",
    "calibration_ratio",
    "evaluation_low_confidence",
)


@dataclass
class RunStatus:
    run_id: str
    run_date: str
    started_at: str | None
    status: str  # failed | interrupted | running | success
    steps: list[dict[str, Any]]
    figures: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def recent_runs(settings: Settings, last: int = 5, run_date: date | None = None) -> list[RunStatus]:
    """The `last` most recent runs (of `run_date` only, when given), failures first.

    Read only, so that it works on a read-only store (a store never run has no runs).
    """
    con = connect_readonly(settings.db_path)
    try:
        if not table_exists(con, "pipeline_runs"):
            return []
        runs = run_log.recent_runs(con, last, run_date.isoformat() if run_date else None)
        ids = [r[0] for r in runs]
        steps = run_log.steps_of_runs(con, ids)
        figures, warnings = _figures(con, [r[1] for r in runs]), _warnings(con, ids)
        latest_of = run_log.latest_run_of_each_date(con)
    finally:
        con.close()
    by_run: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    names = ("step", "status", "started_at", "finished_at", "duration_s", "detail")
    for row in steps:
        by_run[row[0]].append(dict(zip(names, row[1:], strict=True)))
    result = []
    for rid, day, started in runs:
        overall = run_log.overall_status([s["status"] for s in by_run[rid]])
        latest = rid == latest_of.get(day)  # a date's metrics are its latest run's
        shown = figures.get(day, {}) if overall == "success" and latest else {}
        result.append(
            RunStatus(rid, day, started, overall, by_run[rid], shown, warnings.get(rid, []))
        )
    # Stable sort: problems first, recency kept within each group.
    return sorted(result, key=lambda r: r.status == "success")


def _figures(con: Any, days: list[str]) -> dict[str, dict[str, float]]:
    """The FIGURES of each date (the latest run of a date wrote them), with intervals."""
    if not days or not table_exists(con, "run_metrics"):
        return {}
    names = [n for f in FIGURES for n in (f, f"{f}_ci_low", f"{f}_ci_high")]
    return metrics.figures_of(con, days, names)


def _warnings(con: Any, run_ids: list[str]) -> dict[str, list[str]]:
    """The warnings each run recorded."""
    out: dict[str, list[str]] = {}
    for run_id, level, note in run_log.notes_of(con, run_ids):
        out.setdefault(run_id, [])
        if level == "warning":
            out[run_id].append(note)
    return out
