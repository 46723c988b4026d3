"""Point-in-time features: one SQL definition per table, run by DuckDB (or Spark)."""
