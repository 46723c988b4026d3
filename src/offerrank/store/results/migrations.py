"""Ordered schema migrations for the output tables, recorded in `schema_migrations`.

A store made by an older version upgrades itself: `migrate` applies, in order and each
in its own transaction, every migration not yet recorded. Never edit a released
migration; append a new one.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from offerrank.store.check.watermarks import DDL as WATERMARKS_DDL
from offerrank.store.check.watermarks import IDENTITY_DDL
from offerrank.store.check.watermarks import LOG_DDL as WATERMARK_LOG_DDL
from offerrank.store.db import transaction

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "run outputs",
        (
            """CREATE TABLE IF NOT EXISTS pipeline_runs (
                run_id TEXT NOT NULL, run_date TEXT NOT NULL, step TEXT NOT NULL,
                status TEXT NOT NULL, started_at TEXT, finished_at TEXT,
                duration_s REAL, detail TEXT, pid INTEGER)""",
            "CREATE INDEX IF NOT EXISTS pipeline_runs_date ON pipeline_runs (run_date, step)",
            """CREATE TABLE IF NOT EXISTS run_metrics (
                run_date TEXT NOT NULL, metric TEXT NOT NULL, value REAL,
                PRIMARY KEY (run_date, metric))""",
            """CREATE TABLE IF NOT EXISTS recommendations (
                run_date TEXT NOT NULL, customer_id INTEGER NOT NULL, offer_id INTEGER NOT NULL,
                rank INTEGER NOT NULL, score REAL NOT NULL, model_version TEXT NOT NULL,
                PRIMARY KEY (run_date, customer_id, rank))""",
            """CREATE TABLE IF NOT EXISTS model_registry (
                model_version TEXT PRIMARY KEY, model_type TEXT NOT NULL,
                trained_for TEXT NOT NULL, artifact_path TEXT NOT NULL,
                sha256 TEXT NOT NULL, val_auc REAL, is_active INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL, sidecar_json TEXT NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS feature_drift (
                run_date TEXT NOT NULL, feature TEXT NOT NULL, psi REAL, wasserstein REAL,
                psi_threshold REAL, wasserstein_threshold REAL, drifted INTEGER NOT NULL,
                PRIMARY KEY (run_date, feature))""",
            """CREATE TABLE IF NOT EXISTS drift_reference (
                model_version TEXT PRIMARY KEY, reference_date TEXT NOT NULL,
                profile_json TEXT NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS run_config (
                run_date TEXT PRIMARY KEY, run_id TEXT NOT NULL, settings_json TEXT NOT NULL)""",
        ),
    ),
    (
        2,
        "explanations",
        (
            # A sample of scored pairs per run date; contributions are in `units` (log-odds).
            """CREATE TABLE IF NOT EXISTS explanation_pairs (
                run_date TEXT NOT NULL, customer_id INTEGER NOT NULL, offer_id INTEGER NOT NULL,
                rank INTEGER NOT NULL, score REAL NOT NULL, log_odds REAL NOT NULL,
                bias REAL NOT NULL, stratum TEXT NOT NULL, model_version TEXT NOT NULL,
                method TEXT NOT NULL, units TEXT NOT NULL,
                PRIMARY KEY (run_date, customer_id, offer_id))""",
            """CREATE TABLE IF NOT EXISTS explanation_contributions (
                run_date TEXT NOT NULL, customer_id INTEGER NOT NULL, offer_id INTEGER NOT NULL,
                feature TEXT NOT NULL, value REAL NOT NULL, contribution REAL NOT NULL,
                PRIMARY KEY (run_date, customer_id, offer_id, feature))""",
            # Global importance (mean |contribution|) and the population's typical values.
            """CREATE TABLE IF NOT EXISTS feature_importance (
                run_date TEXT NOT NULL, feature TEXT NOT NULL,
                mean_abs_contribution REAL NOT NULL, mean_contribution REAL NOT NULL,
                pairs INTEGER NOT NULL, model_version TEXT NOT NULL, units TEXT NOT NULL,
                typical_p25 REAL, typical_median REAL, typical_p75 REAL,
                PRIMARY KEY (run_date, feature))""",
            # Curves computed at run time for the report (ROC, precision/recall@k, ...).
            """CREATE TABLE IF NOT EXISTS run_curves (
                run_date TEXT NOT NULL, name TEXT NOT NULL, curve_json TEXT NOT NULL,
                PRIMARY KEY (run_date, name))""",
        ),
    ),
    (
        3,
        "serving propensities",
        (
            # Probability that the serving policy put the pair in the served list (its
            # inclusion propensity); 1.0 under greedy serving, NULL for rows written before.
            "ALTER TABLE recommendations ADD COLUMN propensity REAL",
        ),
    ),
    (
        4,
        "contract watermarks",
        (
            # Per input table, the highest rowid checked against the contract; the
            # triggers that reset it are installed by `watermarks.ensure` at check time.
            WATERMARKS_DDL,
            *IDENTITY_DDL,
        ),
    ),
    (
        5,
        "candidate recall by day",
        (
            # Candidate recall of one shown date under one version of the rules
            # (pipeline/recall_days.py): consecutive runs reuse the days they share.
            """CREATE TABLE candidate_recall_days (
                shown_date TEXT NOT NULL, rules_key TEXT NOT NULL,
                positives INTEGER NOT NULL, hits INTEGER NOT NULL,
                PRIMARY KEY (shown_date, rules_key))""",
        ),
    ),
    (
        6,
        "model decisions",
        (
            # Every training, promotion, refusal and hand activation of a model, with
            # the validation figures the decision rested on (store/results/outputs.py
            # writes it).
            """CREATE TABLE IF NOT EXISTS model_events (
                at TEXT NOT NULL, run_date TEXT, model_version TEXT NOT NULL,
                event TEXT NOT NULL, val_auc REAL, incumbent_version TEXT,
                incumbent_auc REAL, delta_ci_low REAL, delta_ci_high REAL, detail TEXT)""",
            "CREATE INDEX IF NOT EXISTS model_events_version ON model_events (model_version)",
        ),
    ),
    (
        7,
        "contract watermark log",
        (
            # One row per advance of a table's watermark, with a random token: the history
            # cache checks that the advance it cached up to is still the store's
            # (`watermarks.ensure` also creates it, and gives each table a first token).
            WATERMARK_LOG_DDL,
        ),
    ),
    (
        8,
        "recommendation reasons",
        (
            # Why each served pair was chosen: a JSON array of one to three reason codes,
            # strongest first (delivery/reasons.py renders each as a sentence from the code
            # and the offer); NULL for rows written before.
            "ALTER TABLE recommendations ADD COLUMN reason_codes TEXT",
        ),
    ),
    (
        9,
        "run notes and evaluation reuse",
        (
            # What a run said beside its figures (a warning: low candidate recall, a
            # refused model, constant features, figures resting on few positives ...):
            # `status` and the report show them.
            """CREATE TABLE IF NOT EXISTS run_notes (
                run_date TEXT NOT NULL, run_id TEXT NOT NULL, level TEXT NOT NULL,
                note TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS run_notes_date ON run_notes (run_date)",
            # An evaluation's figures and curves under the fingerprint of everything they
            # depend on: a run whose evaluation window and inputs are unchanged reuses them.
            """CREATE TABLE IF NOT EXISTS evaluation_cache (
                fingerprint TEXT PRIMARY KEY, run_date TEXT NOT NULL,
                metrics_json TEXT NOT NULL, curves_json TEXT NOT NULL)""",
        ),
    ),
    (
        10,
        "constant features",
        (
            # Share of the day's scored pairs holding the feature's most common value: 1 is
            # a constant feature (no use to the model), 0.99 and more a near-constant one.
            "ALTER TABLE feature_drift ADD COLUMN top_value_share REAL",
        ),
    ),
)


def current_version(con: sqlite3.Connection) -> int:
    con.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"""
    )
    row = con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(con: sqlite3.Connection) -> list[int]:
    """Apply every pending migration in order; return the versions applied."""
    applied = []
    done = current_version(con)
    for version, name, statements in MIGRATIONS:
        if version <= done:
            continue
        with transaction(con):
            for stmt in statements:
                con.execute(stmt)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                (version, name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )
        applied.append(version)
    return applied
