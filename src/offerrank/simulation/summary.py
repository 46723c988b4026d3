"""Per-policy figures over seeds: means with 95 % confidence intervals, lifts, oracle share.

Lifts and oracle shares are computed per seed first and then averaged: every policy of
a seed starts from the same store and shares the world's random future, so the paired
ratio cancels most of the day-to-day noise. They use the *expected* values (sums of
true probabilities), which measure what the choices were worth without the luck of
the redemption draws; the realised counts are reported next to them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import stats

from offerrank.simulation.outcomes import Outcome

BASE_METRICS = (
    "impressions",
    "redemptions",
    "redemption_rate",
    "expected_redemptions",
    "margin",
    "expected_margin",
    "discount_cost",
)


@dataclass(frozen=True)
class Interval:
    """Mean over seeds and its two-sided 95 % Student-t interval (NaN with one seed)."""

    mean: float
    low: float
    high: float
    n: int

    def text(self, fmt: str = "{:,.1f}") -> str:
        if math.isnan(self.mean):
            return "n/a"
        if self.n < 2 or math.isnan(self.low):
            return fmt.format(self.mean)
        return f"{fmt.format(self.mean)} ± {fmt.format((self.high - self.low) / 2)}"

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n}


def interval(values: list[float] | np.ndarray) -> Interval:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(v.mean())
    if v.size < 2:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return Interval(mean, mean - half, mean + half, int(v.size))


def policy_label(policy: str, rank_by: str = "probability", serving: str = "greedy") -> str:
    """`model`, `model[expected_margin]`, `model[plackett_luce]`, `oracle[expected_margin]` ..."""
    tags = [t for t in (rank_by != "probability" and rank_by, serving != "greedy" and serving) if t]
    return f"{policy}[{','.join(tags)}]" if tags else policy


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def summarize(results: list[tuple[str, int, Outcome]]) -> dict[str, dict[str, Interval]]:
    """{label: {metric: Interval}} from (label, seed, outcome) triples."""
    by: dict[str, dict[int, Outcome]] = defaultdict(dict)
    for label, seed, out in results:
        by[label][seed] = out
    oracle_margin = "oracle[expected_margin]" if "oracle[expected_margin]" in by else "oracle"
    summary: dict[str, dict[str, Interval]] = {}
    for label, seeds in by.items():
        rows: dict[str, list[float]] = defaultdict(list)
        for seed, out in sorted(seeds.items()):
            d = out.as_dict()
            for m in BASE_METRICS:
                rows[m].append(d[m])
            for base in ("random", "popularity"):
                ref = by.get(base, {}).get(seed)
                if ref is not None:
                    r = _ratio(out.expected_redemptions, ref.expected_redemptions) - 1
                    rows[f"lift_redemptions_vs_{base}"].append(r)
                    g = _ratio(out.expected_margin, ref.expected_margin) - 1
                    rows[f"lift_margin_vs_{base}"].append(g)
            if seed in by.get("oracle", {}):
                o = by["oracle"][seed]
                rows["oracle_share_redemptions"].append(
                    _ratio(out.expected_redemptions, o.expected_redemptions)
                )
            if seed in by.get(oracle_margin, {}):
                o = by[oracle_margin][seed]
                rows["oracle_share_margin"].append(_ratio(out.expected_margin, o.expected_margin))
        summary[label] = {m: interval(v) for m, v in rows.items()}
    return summary


def as_json(summary: dict[str, dict[str, Interval]]) -> dict[str, dict[str, dict[str, float]]]:
    return {label: {m: i.as_dict() for m, i in ms.items()} for label, ms in summary.items()}


COLUMNS = (
    ("impressions", "impressions", "{:,.0f}"),
    ("redemptions", "redemptions", "{:,.1f}"),
    ("rate", "redemption_rate", "{:.2%}"),
    ("exp. redemptions", "expected_redemptions", "{:,.1f}"),
    ("margin (net)", "margin", "{:,.0f}"),
    ("exp. margin", "expected_margin", "{:,.0f}"),
    ("lift red. vs random", "lift_redemptions_vs_random", "{:+.0%}"),
    ("lift margin vs random", "lift_margin_vs_random", "{:+.0%}"),
    ("lift red. vs popularity", "lift_redemptions_vs_popularity", "{:+.0%}"),
    ("oracle share red.", "oracle_share_redemptions", "{:.0%}"),
    ("oracle share margin", "oracle_share_margin", "{:.0%}"),
)


def table_rows(summary: dict[str, dict[str, Interval]]) -> tuple[list[str], list[list[str]]]:
    """Header and text cells of the per-policy table (mean ± 95 % CI half-width)."""
    header = ["policy", *(name for name, _, _ in COLUMNS)]
    rows = []
    for label, ms in summary.items():
        cells = [label]
        for _, metric, fmt in COLUMNS:
            i = ms.get(metric)
            cells.append(i.text(fmt) if i is not None else "n/a")
        rows.append(cells)
    return header, rows


def plain_table(summary: dict[str, dict[str, Interval]]) -> str:
    """The per-policy table as aligned plain text (for benchmarks and docs)."""
    header, rows = table_rows(summary)
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    return "\n".join(lines)
