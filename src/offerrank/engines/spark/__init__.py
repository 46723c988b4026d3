"""The pipeline on Apache Spark: the same feature and candidate SQL, transpiled by sqlglot.

Nothing here imports pyspark at package import time, so the DuckDB engine keeps working
on a machine without it; `offerrank[spark]` installs it.
"""
