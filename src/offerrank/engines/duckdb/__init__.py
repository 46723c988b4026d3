"""The DuckDB engine (the default): the store in an in-memory DuckDB."""
