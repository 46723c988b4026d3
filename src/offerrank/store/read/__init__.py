"""The store's read API: the queries of the run's own tables (and of the input tables'
bookkeeping) that the steps, the retrain policy, the HTTP API and the exports ask, by
table family.

`store.results.outputs` owns the writes; this package owns these reads. Steps, the HTTP
API and the delivery code call these functions instead of writing SQL (an import-linter
contract forbids them `sqlite3`). Still outside it: the model registry's own module
(`training.registry`) and `monitoring.explain_pair`'s reads of the explanations.

- `runs`: the run log (`pipeline_runs`): the step list, a date's latest run, the newest
  complete run, stale `running` rows.
- `metrics`: `run_metrics`.
- `models`: `model_registry` and `model_events`.
- `monitoring`: `drift_reference`, `candidate_recall_days`, `evaluation_cache`.
- `recommendations`: what a date served.
- `offers`: an offer's details (its product, discount, validity).
- `inputs`: the contract tables' state as a model records it, and dated counts.
- `snapshot`: the HTTP API's read-only connection, one snapshot per request.
"""
