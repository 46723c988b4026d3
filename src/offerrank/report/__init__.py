"""The run report: one self-contained HTML file per run date, read from the store."""

from offerrank.report.page import write_report

__all__ = ["write_report"]
