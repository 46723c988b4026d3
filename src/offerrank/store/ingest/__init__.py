"""Import and export: a folder of table files into the store, and the store out to one.

- `io`: the all-or-nothing import and the export.
- `feed`: which files of a folder count as tables, and how each is read.
- `lake`: the day-partitioned Parquet layout a cluster reads.
"""
