"""The store: one SQLite file holding the contract's input tables and the run outputs."""
