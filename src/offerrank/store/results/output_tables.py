"""The tables the store holds beside the contract's inputs, declared as data.

`store.contract` declares what the store is given; this module declares what it writes:
the run's outputs (`store.results.outputs` writes them), the contract check's
bookkeeping (`store.check.watermarks`) and the migration record
(`store.results.migrations`). Each table is its columns (name, kind, nullability), its
primary key, its column defaults and its indexes, exactly as the migrations leave a
store, and the one module that may write it.

Released migrations are never edited, so they are not generated from here: this is the
schema they must end at. The test suite binds the two, and the writers, to it
(`tests/test_output_tables.py`): a migrated store, whatever version it started from,
has exactly these tables and columns; every INSERT of the source names declared columns
of a table its declared writer owns; and the rows a daily run writes have the declared
types and no NULL where none is declared.
"""

from __future__ import annotations

from dataclasses import dataclass

from offerrank.store.contract import Column, Kind

OUTPUTS = "offerrank.store.results.outputs"
WATERMARKS = "offerrank.store.check.watermarks"
MIGRATIONS = "offerrank.store.results.migrations"


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class OutputTable:
    """One table the store writes. A key column is never NULL (its writers always give
    one), whatever SQLite would accept in a non-INTEGER primary key."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    writer: str = OUTPUTS  # the module whose statements insert its rows
    defaults: tuple[tuple[str, str], ...] = ()  # (column, SQL default as written)
    indexes: tuple[Index, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, kind: Kind, nullable: bool = False) -> Column:
    return Column(name, kind, nullable)


def _null(name: str, kind: Kind) -> Column:
    return Column(name, kind, True)


# -- a run's outputs ----------------------------------------------------------------------
PIPELINE_RUNS = OutputTable(
    "pipeline_runs",
    (
        _c("run_id", "text"),
        _c("run_date", "date"),
        _c("step", "text"),
        _c("status", "text"),
        _null("started_at", "text"),
        _null("finished_at", "text"),
        _null("duration_s", "real"),
        _null("detail", "text"),
        _null("pid", "int"),
    ),
    indexes=(Index("pipeline_runs_date", ("run_date", "step")),),
)
RUN_METRICS = OutputTable(
    "run_metrics",
    (_c("run_date", "date"), _c("metric", "text"), _null("value", "real")),
    key=("run_date", "metric"),
)
RECOMMENDATIONS = OutputTable(
    "recommendations",
    (
        _c("run_date", "date"),
        _c("customer_id", "int"),
        _c("offer_id", "int"),
        _c("rank", "int"),
        _c("score", "real"),
        _c("model_version", "text"),
        _null("propensity", "real"),  # NULL in rows written before propensities
        _null("reason_codes", "text"),  # a JSON array; NULL in rows written before reasons
    ),
    key=("run_date", "customer_id", "rank"),
)
MODEL_REGISTRY = OutputTable(
    "model_registry",
    (
        _c("model_version", "text"),
        _c("model_type", "text"),
        _c("trained_for", "date"),
        _c("artifact_path", "text"),
        _c("sha256", "text"),
        _null("val_auc", "real"),
        _c("is_active", "flag"),
        _c("created_at", "text"),
        _c("sidecar_json", "text"),
    ),
    key=("model_version",),
    defaults=(("is_active", "0"),),
)
MODEL_EVENTS = OutputTable(
    "model_events",
    (
        _c("at", "text"),
        _null("run_date", "date"),  # NULL for a decision outside a run (an activation)
        _c("model_version", "text"),
        _c("event", "text"),
        _null("val_auc", "real"),
        _null("incumbent_version", "text"),
        _null("incumbent_auc", "real"),
        _null("delta_ci_low", "real"),
        _null("delta_ci_high", "real"),
        _null("detail", "text"),
    ),
    indexes=(Index("model_events_version", ("model_version",)),),
)
FEATURE_DRIFT = OutputTable(
    "feature_drift",
    (
        _c("run_date", "date"),
        _c("feature", "text"),
        _null("psi", "real"),  # the statistics are NULL without a reference to compare with
        _null("wasserstein", "real"),
        _null("psi_threshold", "real"),
        _null("wasserstein_threshold", "real"),
        _c("drifted", "flag"),
        _null("top_value_share", "real"),
    ),
    key=("run_date", "feature"),
)
DRIFT_REFERENCE = OutputTable(
    "drift_reference",
    (_c("model_version", "text"), _c("reference_date", "date"), _c("profile_json", "text")),
    key=("model_version",),
)
RUN_CONFIG = OutputTable(
    "run_config",
    (_c("run_date", "date"), _c("run_id", "text"), _c("settings_json", "text")),
    key=("run_date",),
)
EXPLANATION_PAIRS = OutputTable(
    "explanation_pairs",
    (
        _c("run_date", "date"),
        _c("customer_id", "int"),
        _c("offer_id", "int"),
        _c("rank", "int"),
        _c("score", "real"),
        _c("log_odds", "real"),
        _c("bias", "real"),
        _c("stratum", "text"),
        _c("model_version", "text"),
        _c("method", "text"),
        _c("units", "text"),
    ),
    key=("run_date", "customer_id", "offer_id"),
)
EXPLANATION_CONTRIBUTIONS = OutputTable(
    "explanation_contributions",
    (
        _c("run_date", "date"),
        _c("customer_id", "int"),
        _c("offer_id", "int"),
        _c("feature", "text"),
        _c("value", "real"),
        _c("contribution", "real"),
    ),
    key=("run_date", "customer_id", "offer_id", "feature"),
)
FEATURE_IMPORTANCE = OutputTable(
    "feature_importance",
    (
        _c("run_date", "date"),
        _c("feature", "text"),
        _c("mean_abs_contribution", "real"),
        _c("mean_contribution", "real"),
        _c("pairs", "int"),
        _c("model_version", "text"),
        _c("units", "text"),
        _null("typical_p25", "real"),
        _null("typical_median", "real"),
        _null("typical_p75", "real"),
    ),
    key=("run_date", "feature"),
)
RUN_CURVES = OutputTable(
    "run_curves",
    (_c("run_date", "date"), _c("name", "text"), _c("curve_json", "text")),
    key=("run_date", "name"),
)
CANDIDATE_RECALL_DAYS = OutputTable(
    "candidate_recall_days",
    (
        _c("shown_date", "date"),
        _c("rules_key", "text"),
        _c("positives", "int"),
        _c("hits", "int"),
    ),
    key=("shown_date", "rules_key"),
)
RUN_NOTES = OutputTable(
    "run_notes",
    (_c("run_date", "date"), _c("run_id", "text"), _c("level", "text"), _c("note", "text")),
    indexes=(Index("run_notes_date", ("run_date",)),),
)
EVALUATION_CACHE = OutputTable(
    "evaluation_cache",
    (
        _c("fingerprint", "text"),
        _c("run_date", "date"),
        _c("metrics_json", "text"),
        _c("curves_json", "text"),
    ),
    key=("fingerprint",),
)

# -- bookkeeping: the contract check's watermarks and the migration record ----------------
CONTRACT_WATERMARKS = OutputTable(
    "contract_watermarks",
    (
        _c("table_name", "text"),
        _c("checked_rowid", "int"),
        _null("checked_at", "text"),
        _c("generation", "int"),
    ),
    key=("table_name",),
    writer=WATERMARKS,
    defaults=(("checked_rowid", "0"), ("generation", "0")),
)
CONTRACT_WATERMARK_LOG = OutputTable(
    "contract_watermark_log",
    (
        _c("seq", "int"),
        _c("table_name", "text"),
        _c("checked_rowid", "int"),
        _c("token", "int"),
        _c("checked_at", "text"),
    ),
    key=("seq",),
    writer=WATERMARKS,
)
STORE_IDENTITY = OutputTable("store_identity", (_c("store_id", "text"),), writer=WATERMARKS)
SCHEMA_MIGRATIONS = OutputTable(
    "schema_migrations",
    (_c("version", "int"), _c("name", "text"), _c("applied_at", "text")),
    key=("version",),
    writer=MIGRATIONS,
)

OUTPUT_TABLES: tuple[OutputTable, ...] = (
    PIPELINE_RUNS,
    RUN_METRICS,
    RECOMMENDATIONS,
    MODEL_REGISTRY,
    MODEL_EVENTS,
    FEATURE_DRIFT,
    DRIFT_REFERENCE,
    RUN_CONFIG,
    EXPLANATION_PAIRS,
    EXPLANATION_CONTRIBUTIONS,
    FEATURE_IMPORTANCE,
    RUN_CURVES,
    CANDIDATE_RECALL_DAYS,
    RUN_NOTES,
    EVALUATION_CACHE,
    CONTRACT_WATERMARKS,
    CONTRACT_WATERMARK_LOG,
    STORE_IDENTITY,
    SCHEMA_MIGRATIONS,
)
OUTPUTS_BY_NAME: dict[str, OutputTable] = {t.name: t for t in OUTPUT_TABLES}
