"""The contract tables as Arrow for an engine to load, and the columnar copy of their
checked history that spares a run reading it out of SQLite again.

- `tables`: the contract tables of the store as Arrow, typed.
- `history_cache`: Arrow IPC segments of the rows already checked.
"""
