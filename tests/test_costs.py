"""Where the margin figures' unit costs come from, said plainly."""

from __future__ import annotations

from offerrank.monitoring.costs import cost_basis


def _stats(costs: list[float], prices: list[float]) -> dict[str, float]:
    import numpy as np

    ratio = np.array(costs) / np.array(prices)
    return {
        "products": len(costs),
        "with_cost": sum(c > 0 for c in costs),
        "low_ratio": float(ratio.min()),
        "high_ratio": float(ratio.max()),
        "spread": float(ratio.std()),
    }


def test_no_costs_hide_the_margin_figures() -> None:
    basis = cost_basis(_stats([0, 0, 0], [1.0, 2.0, 3.0]))
    assert basis.source == "none" and basis.code == 0 and "hidden" in basis.detail


def test_one_share_of_the_price_everywhere_is_an_assumption() -> None:
    basis = cost_basis(_stats([0.70, 1.40, 2.10], [1.0, 2.0, 3.0]))
    assert basis.source == "assumed" and basis.code == 1 and "70%" in basis.detail


def test_costs_that_vary_come_from_the_feed() -> None:
    assert cost_basis(_stats([0.5, 1.6, 1.2], [1.0, 2.0, 3.0])).source == "feed"
    partial = cost_basis(_stats([0.5, 0, 1.2], [1.0, 2.0, 3.0]))
    assert partial.source == "feed" and "67% of products" in partial.detail
