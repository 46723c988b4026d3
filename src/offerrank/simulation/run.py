"""Simulate several policy variants over several seeds and summarise them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from offerrank.errors import UsageError
from offerrank.simulation.loop import PolicyRun, SimConfig, prepare_base, run_policy
from offerrank.simulation.outcomes import Outcome, outcome
from offerrank.simulation.policies import POLICIES
from offerrank.simulation.summary import Interval, policy_label, summarize


@dataclass(frozen=True)
class Variant:
    """A policy with its ranking key and (for `model`) its serving mode."""

    policy: str
    rank_by: str = "probability"
    serving: str = "greedy"

    @property
    def label(self) -> str:
        return policy_label(self.policy, self.rank_by, self.serving)


@dataclass
class SimulationResult:
    runs: list[PolicyRun]
    outcomes: list[tuple[str, int, Outcome]]
    summary: dict[str, dict[str, Interval]]
    seconds: float


def parse_variants(text: str, rank_by: str, serving: str) -> list[Variant]:
    """`model,random` -> variants; `model` takes the configured serving, others greedy."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in POLICIES]
    if unknown or not names:
        raise UsageError(
            f"--policy: unknown policy {', '.join(unknown) or '(none)'};"
            f" choose from {', '.join(POLICIES)}"
        )
    return [
        Variant(
            n,
            rank_by if n in ("model", "oracle") else "probability",
            serving if n == "model" else "greedy",
        )
        for n in names
    ]


def simulate(
    cfg: SimConfig,
    variants: list[Variant],
    on_day: Callable[[str, int, date], None] | None = None,
) -> SimulationResult:
    """Every variant on every seed (1..cfg.seeds), each on its own copy of the world."""
    if cfg.last < cfg.first:
        raise UsageError(f"--to {cfg.last} is before --from {cfg.first}")
    began = time.perf_counter()
    base = prepare_base(cfg, need_model=any(v.policy == "model" for v in variants))
    runs, outcomes = [], []
    for v in variants:
        settings = cfg.settings.model_copy(update={"rank_by": v.rank_by, "serving": v.serving})
        vcfg = replace(cfg, settings=settings)
        for seed in range(1, cfg.seeds + 1):
            tick = (lambda d, lab=v.label, s=seed: on_day(lab, s, d)) if on_day else None
            run = run_policy(vcfg, base, v.policy, seed, tick)
            runs.append(run)
            outcomes.append((v.label, seed, outcome(run.db_path, cfg.first, cfg.last)))
    return SimulationResult(runs, outcomes, summarize(outcomes), time.perf_counter() - began)
