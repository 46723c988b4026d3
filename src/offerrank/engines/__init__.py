"""Compute engines behind one interface (`engines.base.Engine`), chosen by name through
`engines.registry`: DuckDB (embedded, the default) and Spark (scale-out)."""
