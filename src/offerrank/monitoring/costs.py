"""Where the unit costs behind the margin figures come from, in the feed's own terms.

A margin figure (margin lift, expected margin) is only as good as the unit costs it
subtracts. A retailer's feed may carry none (every cost 0: the margin is the whole
price, the figures mean nothing) or an assumed one (the same share of the list price for
every product: the figures rank like the price); the run says which, and the report hides
margin figures when there are no costs.
"""

from __future__ import annotations

from dataclasses import dataclass

FLAT_SPREAD = 0.005  # share of list price: costs within half a per cent of one ratio


@dataclass(frozen=True)
class CostBasis:
    source: str  # "feed" | "assumed" | "none"
    detail: str

    @property
    def code(self) -> int:
        """As a run metric (unit_costs): 2 from the feed, 1 assumed, 0 none."""
        return {"none": 0, "assumed": 1, "feed": 2}[self.source]


def cost_basis(stats: dict[str, float]) -> CostBasis:
    """The source of the unit costs, from `Engine.unit_costs` figures."""
    products, with_cost = stats["products"], stats["with_cost"]
    if products == 0 or with_cost == 0:
        return CostBasis("none", "the feed has no unit costs (all 0): margin figures hidden")
    if with_cost < products:
        share = with_cost / products
        return CostBasis(
            "feed", f"unit costs from the feed for {share:.0%} of products (the others cost 0)"
        )
    if stats["spread"] <= FLAT_SPREAD:
        return CostBasis(
            "assumed",
            f"unit costs look assumed: every product costs {stats['low_ratio']:.0%}"
            f"-{stats['high_ratio']:.0%} of its list price, so margins follow prices",
        )
    return CostBasis("feed", "unit costs from the feed")
