"""Candidate recall: its definition, and the per-day results reused by the next run."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from engines import duckdb_engine
from offerrank.config import Settings
from offerrank.ranking import candidates
from offerrank.ranking.candidates import candidate_recall, retrieval_query, rules_key

FIRST, LAST = date(2026, 2, 1), date(2026, 2, 7)


def _brute_force(engine, s: Settings) -> tuple[int, int]:
    """Every positive of the window against all candidates of its shown date."""
    hits = positives = 0
    everyone = engine.con.sql("SELECT customer_id FROM customers").to_arrow_table()
    for d in range(FIRST.toordinal(), LAST.toordinal() + 1):
        day = date.fromordinal(d)
        pos = engine.con.sql(
            "SELECT customer_id, offer_id FROM impression_labels WHERE label = 1"
            " AND shown_date = ?",
            params=[day],
        ).fetchall()
        cands = engine.candidates(retrieval_query(day, s), everyone)
        pairs = set(
            zip(cands["customer_id"].to_pylist(), cands["offer_id"].to_pylist(), strict=True)
        )
        positives += len(pos)
        hits += sum(p in pairs for p in pos)
    return hits, positives


def test_recall_equals_the_rules_run_for_every_customer_of_every_day(tiny_world: Path) -> None:
    s = Settings(db_path=tiny_world)
    engine = duckdb_engine(tiny_world)
    recall, positives, days = candidate_recall(engine, FIRST, LAST, s)
    hits, expected_positives = _brute_force(engine, s)
    assert positives == expected_positives > 0
    assert recall == pytest.approx(hits / positives)
    assert sum(d.positives for d in days) == positives
    assert [d.shown_date for d in days] == sorted(d.shown_date for d in days)


def test_known_days_are_reused_and_changed_days_measured_again(
    tiny_world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Settings(db_path=tiny_world)
    engine = duckdb_engine(tiny_world)
    recall, positives, days = candidate_recall(engine, FIRST, LAST, s)
    measured: list[date] = []
    real = candidates._hits

    def counting(engine_, positives_, day, settings):  # type: ignore[no-untyped-def]
        measured.append(day)
        return real(engine_, positives_, day, settings)

    monkeypatch.setattr(candidates, "_hits", counting)
    known = {d.shown_date: d for d in days}
    assert candidate_recall(engine, FIRST, LAST, s, known) == (recall, positives, days)
    assert measured == []
    # A day whose positives changed (late labels, a reimport) is measured again.
    stale = dataclasses.replace(days[0], positives=days[0].positives + 1, hits=0)
    again = candidate_recall(engine, FIRST, LAST, s, {**known, stale.shown_date: stale})
    assert measured == [days[0].shown_date]
    assert again == (recall, positives, days)


def test_rules_key_changes_with_every_setting_the_rules_read(tmp_path: Path) -> None:
    base = Settings(db_path=tmp_path / "x.db")
    keys = {rules_key(base)}
    for name, value in [
        ("lookback_days", 60),
        ("popular_per_segment", 3),
        ("cold_start_offers", 4),
        ("max_candidates_per_customer", 5),
        ("label_window_days", 3),
    ]:
        keys.add(rules_key(base.model_copy(update={name: value})))
    assert len(keys) == 6
    assert rules_key(base) == rules_key(Settings(db_path=tmp_path / "y.db"))


def test_consecutive_runs_share_their_stored_days(two_day_run) -> None:
    s, first, second = two_day_run
    with sqlite3.connect(s.db_path) as con:
        rows = con.execute(
            "SELECT shown_date FROM candidate_recall_days ORDER BY shown_date"
        ).fetchall()
    days = [date.fromisoformat(r[0]) for r in rows]
    # The two runs' windows overlap in all but one day: one more stored day, not seven.
    assert len(days) == len(set(days)) == s.eval_days + 1
    assert first.metrics["candidate_recall"] > 0 and second.metrics["candidate_recall"] > 0


def test_an_import_forgets_every_measured_day(world_db: Path, tmp_path: Path) -> None:
    from offerrank.store.db import connect, transaction
    from offerrank.store.io import export_dir, import_dir
    from offerrank.store.migrations import migrate

    con = connect(world_db)
    migrate(con)
    with transaction(con):
        con.execute("INSERT INTO candidate_recall_days VALUES ('2026-02-01', 'k', 10, 7)")
    con.close()
    export_dir(world_db, tmp_path / "export")
    import_dir(world_db, tmp_path / "export")  # nothing new, still a possible backfill
    with sqlite3.connect(world_db) as check:
        assert check.execute("SELECT COUNT(*) FROM candidate_recall_days").fetchone()[0] == 0
