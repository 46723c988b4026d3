"""The contract check: every rule of `store.contract` counted in DuckDB SQL.

- `rules`, `references`: the rules one row can break and the references, as SQL.
- `checker`: one DuckDB session holding a batch of tables, typed, to check.
- `append`: the rules of an append (agreement with the rows the store holds).
- `validate`: whole tables or a whole store; `incremental`: a daily run's check of
  only the rows not checked before, up to each table's `watermarks`.
- `introspect`: a store's contract tables as Arrow, and what tables it holds.
- `violations`: one `Violation` per broken rule, one error for them all.
"""
