"""Closed-loop simulation bench: four policies, margin-aware ranking, and OPE checks.

Generates a `small` world ending the day before the horizon (unless --world is given),
then runs every policy on its own copy for each seed, prints the per-policy table with
95 % confidence intervals over seeds, the redemptions-vs-margin trade-off, and the bias
and spread of IPS / SNIPS / DR against the simulator's true values.

    .venv/bin/python bench/bench_simulate.py --days 7 --seeds 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from offerrank.config import Settings
from offerrank.simulation.loop import SimConfig
from offerrank.simulation.ope_check import bias_variance, check_run
from offerrank.simulation.run import Variant, simulate
from offerrank.simulation.summary import Interval, plain_table
from offerrank.world.generate import generate_world

VARIANTS = [
    Variant("random"),
    Variant("popularity"),
    Variant("oracle"),
    Variant("oracle", rank_by="expected_margin"),
    Variant("model"),
    Variant("model", rank_by="expected_margin"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--world", type=Path, help="an existing world store (default: generate)")
    ap.add_argument("--first", default="2026-02-17")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--epsilon", type=float, default=0.3)
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args()
    first = date.fromisoformat(a.first)
    last = first + timedelta(days=a.days - 1)
    work = a.workdir or Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    t0 = time.perf_counter()
    world = a.world
    if world is None:
        world = work / "world.db"
        generate_world(world, preset=a.preset, seed=7, end=first - timedelta(days=1), force=True)
    print(f"world {world} ready in {time.perf_counter() - t0:.1f} s")
    base = Settings(explain_sample=0, bootstrap_samples=0)
    cfg = SimConfig(world, work / "sim", first, last, base, k=a.k, seeds=a.seeds)

    t1 = time.perf_counter()
    result = simulate(cfg, VARIANTS)
    print(
        f"\n{a.preset}: {first}..{last} ({a.days} days), k={a.k}, {a.seeds} seeds;"
        f" mean ± 95 % CI half-width over seeds; {time.perf_counter() - t1:.0f} s\n"
    )
    print(plain_table(result.summary))
    print("\nseconds per run:")
    for run in result.runs:
        print(f"  {run.policy:<10} {run.rank_by:<16} seed {run.seed}: {run.seconds:6.1f} s")

    print("\ntrade-off (expected values summed over the horizon, mean over seeds):")
    for label in ("model", "model[expected_margin]", "oracle", "oracle[expected_margin]"):
        m = result.summary[label]
        print(
            f"  {label:<24} redemptions {m['expected_redemptions'].text('{:,.1f}'):>16}"
            f"   margin {m['expected_margin'].text('{:,.0f}'):>14}"
        )

    t2 = time.perf_counter()
    eps = cfg.settings.model_copy(update={"exploration_epsilon": a.epsilon})
    ocfg = SimConfig(world, work / "ope", first, last, eps, k=a.k, seeds=a.seeds, record_truth=True)
    logged = simulate(ocfg, [Variant("model", serving="epsilon")])
    rows = [r for run in logged.runs for r in check_run(run, a.k)]
    print(
        f"\nOPE: logger = model, epsilon-greedy serving (epsilon {a.epsilon});"
        f" value = expected reward per contacted customer-day; {time.perf_counter() - t2:.0f} s"
    )
    print(
        f"  {'target':<24}{'reward':<13}{'est.':<7}{'truth':>9}{'mean est.':>11}"
        f"{'bias':>9}{'sd':>9}  rel. error (95% CI)   trusted"
    )
    for (target, reward, est), v in bias_variance(rows).items():
        rel = v["relative_error"]
        assert isinstance(rel, Interval)
        print(
            f"  {target:<24}{reward:<13}{est:<7}{v['truth']:>9.4f}{v['estimate']:>11.4f}"
            f"{v['bias']:>9.4f}{v['sd']:>9.4f}  {rel.text('{:+.1%}'):<20}"
            f"  {v['trusted']}"
        )
    greedy = next(r for r in result.runs if r.policy == "model" and r.rank_by == "probability")
    flagged = check_run_without_truth(greedy, a.k)
    print(f"\n  greedy logger, target greedy_expected_margin: trusted={flagged[0]} ({flagged[1]})")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


def check_run_without_truth(run, k: int) -> tuple[bool, str | None]:  # noqa: ANN001
    """Trust flag of estimates from a greedy log (no exploration): expected to fail."""
    rows = check_run(run, k)
    row = next(r for r in rows if r["target"] == "greedy_expected_margin")
    return bool(row["trusted"]), row["reason"]  # type: ignore[return-value]


if __name__ == "__main__":
    main()
