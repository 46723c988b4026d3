"""Closed-loop simulation on a tiny world: policies, copies, outcomes, OPE check, CLI."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from offerrank.cli.main import app
from offerrank.config import Settings
from offerrank.errors import OfferrankError
from offerrank.simulation.loop import SimConfig
from offerrank.simulation.ope_check import check_run
from offerrank.simulation.run import Variant, parse_variants, simulate

FIRST, LAST = date(2026, 2, 17), date(2026, 2, 19)


@pytest.fixture(scope="module")
def sim_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny world whose history ends the day before the horizon."""
    from offerrank.world.generate import generate_world

    path = tmp_path_factory.mktemp("simworld") / "tiny.db"
    generate_world(path, preset="tiny", seed=7, end=date(2026, 2, 16))
    return path


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as con:
        n = con.execute(sql).fetchone()[0]
    con.close()
    return int(n)


def _cfg(world: Path, tmp: Path, **kw: object) -> SimConfig:
    s = Settings(explain_sample=0, bootstrap_samples=0)
    return SimConfig(world, tmp / "sim", FIRST, kw.pop("last", LAST), s, **kw)  # type: ignore[arg-type]


def test_oracle_beats_random_and_each_policy_has_its_own_store(sim_world: Path, tmp_path: Path):
    before = _count(sim_world, "SELECT COUNT(*) FROM impressions")
    result = simulate(
        _cfg(sim_world, tmp_path),
        parse_variants("random,popularity,oracle", "probability", "greedy"),
    )
    assert _count(sim_world, "SELECT COUNT(*) FROM impressions") == before  # source untouched
    stores = {r.db_path for r in result.runs}
    assert len(stores) == 3 and sim_world not in stores
    out = {label: o for label, _, o in result.outcomes}
    assert out["oracle"].expected_redemptions > 1.5 * out["random"].expected_redemptions
    # same contacted customers and pool rules: the same number of impressions, K each
    assert len({o.impressions for o in out.values()}) == 1
    for run in result.runs:
        served = run.pools.filter(run.pools.column("position").to_numpy() > 0)
        shown = _count(
            run.db_path, f"SELECT COUNT(*) FROM impressions WHERE shown_date >= '{FIRST}'"
        )
        assert served.num_rows == shown == out[run.policy].impressions
        day = served.column("day").to_numpy().astype("datetime64[D]").astype(np.int64)
        decision = (day << 32) | served.column("customer_id").to_numpy()
        assert np.unique(decision, return_counts=True)[1].max() <= 3  # K per customer and day
    s = result.summary
    assert s["oracle"]["oracle_share_redemptions"].mean == pytest.approx(1.0)
    assert s["random"]["lift_redemptions_vs_random"].mean == pytest.approx(0.0)
    assert (
        out["oracle"].margin == pytest.approx(out["oracle"].margin)
        and out["oracle"].redemption_rate == out["oracle"].redemptions / out["oracle"].impressions
    )


def test_model_policy_runs_the_daily_pipeline_and_logs_propensities(
    sim_world: Path, tmp_path: Path
):
    cfg = _cfg(sim_world, tmp_path, last=date(2026, 2, 18), record_truth=True)
    result = simulate(cfg, [Variant("model", serving="epsilon")])
    (run,) = result.runs
    db = run.db_path
    assert (
        _count(
            db,
            "SELECT COUNT(DISTINCT run_date) FROM recommendations WHERE run_date >= '2026-02-17'",
        )
        == 2
    )
    assert (
        _count(
            db,
            "SELECT COUNT(*) FROM recommendations"
            " WHERE propensity IS NULL AND run_date >= '2026-02-17'",
        )
        == 0
    )
    props = _count(
        db,
        "SELECT COUNT(*) FROM impressions WHERE shown_date >= '2026-02-17'"
        " AND propensity > 0 AND propensity <= 1",
    )
    assert props == result.outcomes[0][2].impressions > 0
    rows = check_run(run, cfg.k)
    assert {r["estimator"] for r in rows} == {"ips", "snips", "dr"}
    assert all(r["trusted"] for r in rows)  # epsilon-greedy: every pool pair has support
    assert all(np.isfinite(float(r["truth"])) for r in rows)  # type: ignore[arg-type]


def test_a_world_already_past_the_horizon_is_refused(sim_world: Path, tmp_path: Path) -> None:
    cfg = SimConfig(sim_world, tmp_path, date(2026, 2, 10), date(2026, 2, 11), Settings())
    with pytest.raises(OfferrankError, match="already holds"):
        simulate(cfg, [Variant("random")])
    with pytest.raises(OfferrankError, match="unknown policy"):
        parse_variants("model,best", "probability", "greedy")


def test_cli_simulate_json(sim_world: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app,
        [
            "--db",
            str(sim_world),
            "simulate",
            "--from",
            "2026-02-17",
            "--to",
            "2026-02-17",
            "--policy",
            "random,oracle",
            "--workdir",
            str(tmp_path / "w"),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    assert set(payload["policies"]) == {"random", "oracle"}
    assert payload["policies"]["oracle"]["oracle_share_redemptions"]["mean"] == pytest.approx(1.0)
