"""How the feature SQL runs: its stages in build order, and the plan that builds the
windowed sums for a batch. Engine-agnostic: every engine runs these files in this order.

WINDOW_PLAN: RANGE frames over daily aggregates, one sort per key for any number of
as_of dates (training). JOIN_PLAN: each (key, as_of) joined to the daily rows of its own
window, then grouped; it reads every daily row once per as_of date, which is cheapest for
a few dates. SINGLE_PLAN: one as_of date (a scoring day) shares one window, so the lines
in it are grouped directly.
"""

from __future__ import annotations

WINDOW_PLAN = "window"
JOIN_PLAN = "join"
SINGLE_PLAN = "single"
# Up to this many distinct as_of dates the join plan wins on the medium world (measured
# with bench/bench_features.py: at 4 dates it still beats the window plan, at 8 they tie).
JOIN_PLAN_MAX_DATES = 4

# Intermediate tables, in build order, and the SQL file that builds each under each plan.
_SHARED_HEAD = (
    "customer_keys",
    "offer_keys",
    "customer_orders",
    "customer_lines",
    "customer_daily",
    "category_daily",
    "product_daily",
)
_PLANNED = ("category_window", "customer_totals", "product_window")
_SHARED_TAIL = ("customer_entropy", "customer_window", "offer_history")
STAGES: tuple[str, ...] = _SHARED_HEAD + _PLANNED + _SHARED_TAIL
PLAN_FILES: dict[str, dict[str, str]] = {
    WINDOW_PLAN: {stage: stage for stage in STAGES},
    JOIN_PLAN: {stage: f"{stage}_by_join" if stage in _PLANNED else stage for stage in STAGES},
    SINGLE_PLAN: {stage: f"{stage}_single" if stage in _PLANNED else stage for stage in STAGES},
}
# Daily aggregates read by exactly one later stage: a view lets that stage stream them
# instead of writing (and compressing) millions of rows into a table first.
VIEW_STAGES: frozenset[str] = frozenset({"customer_daily", "category_daily", "product_daily"})
# The requested rows, registered under this name before the stages run.
QUERY_TABLE = "query_pairs"
# The stage that assembles the contract's features of every requested row.
ASSEMBLY = "pair_features"


def plan_for(n_dates: int) -> str:
    """SINGLE_PLAN for one as_of date, JOIN_PLAN for a few, else WINDOW_PLAN."""
    if n_dates <= 1:
        return SINGLE_PLAN
    return JOIN_PLAN if n_dates <= JOIN_PLAN_MAX_DATES else WINDOW_PLAN


def check_parameters(lookback_days: int, label_window_days: int) -> dict[str, int]:
    """The parameters every feature file may read; refuse impossible windows."""
    if lookback_days < 1 or label_window_days < 0:
        raise ValueError("lookback_days must be >= 1 and label_window_days >= 0")
    return {"lookback": lookback_days, "label_window": label_window_days}
