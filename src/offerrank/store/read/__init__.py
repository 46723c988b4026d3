"""The store's read API: every query of the run's own tables (and of the input tables'
bookkeeping) that the pipeline, the API and the exports ask, by table family.

`store.outputs` owns the writes; this package owns the reads. Steps, the HTTP API and the
delivery code call these functions instead of writing SQL (an import-linter contract
forbids them `sqlite3`), so a table's columns are named in these two places only.

- `runs`: the run log (`pipeline_runs`): the step list, a date's latest run, the newest
  complete run, stale `running` rows.
- `metrics`: `run_metrics`.
- `models`: `model_registry` and `model_events`.
- `monitoring`: `drift_reference`, `candidate_recall_days`, `evaluation_cache`.
- `recommendations`: what a date served.
- `inputs`: the contract tables' state as a model records it, and dated counts.
"""
