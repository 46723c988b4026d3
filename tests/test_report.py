"""The run report: one self-contained HTML file, checked in a real headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import offerrank.cli.inspect  # noqa: F401  (registers status, explain, report)
from browser import browser, need_chromium
from explained_run import DAYS, copy_world
from offerrank.cli.main import app
from offerrank.errors import OfferrankError
from offerrank.monitoring.curves import evaluation_curves, validation_curves
from offerrank.report import write_report
from offerrank.store.db import connect, transaction
from offerrank.store.results import outputs
from offerrank.store.results.migrations import migrate

DAY = DAYS[1]
CHARTS = {
    "step-timings", "validation-roc", "evaluation-roc", "precision-recall-at-k",
    "margin-lift-at-k", "calibration", "drift", "importance", "top-offers",
    "trend-auc", "trend-pool", "trend-recs", "trend-drift",
}  # fmt: skip


@pytest.fixture(scope="module")
def world(two_day_run) -> Path:
    """The folder of the session's two-day run (store, models); copy before writing."""
    return two_day_run[0].db_path.parent


@pytest.fixture(scope="module")
def report(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(copy_world(world, tmp_path_factory.mktemp("report")), DAY)


def test_report_is_written_and_self_contained(report: Path) -> None:
    assert report.name == "index.html" and report.parent.name == DAY.isoformat()
    html = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"<link|@import|url\(", html, re.I)
    charts = set(re.findall(r'<figure class="chart" data-chart="([^"]+)"', html))
    assert charts == CHARTS  # every chart has data in this run, none is "empty"
    for needle in ("Logistic Regression", "LightGBM", "historical_redemption_rate", "log-odds"):
        assert needle in html


def test_report_for_a_date_without_a_run_is_a_user_error(world: Path, tmp_path: Path) -> None:
    with pytest.raises(OfferrankError, match="no run recorded"):
        write_report(copy_world(world, tmp_path), DAY.replace(year=2020))


def test_cli_report_writes_the_file(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = copy_world(world, tmp_path)
    monkeypatch.chdir(tmp_path)  # reports_dir defaults to ./reports
    out = CliRunner().invoke(
        app, ["--db", str(settings.db_path), "--json", "report", "--date", DAY.isoformat()]
    )
    assert out.exit_code == 0, out.output
    assert Path(json.loads(out.output)["path"]).resolve() == (
        tmp_path / "reports" / DAY.isoformat() / "index.html"
    )


def test_store_curves_replaces_only_the_groups_given(world: Path, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path)
    con = connect(settings.db_path)
    migrate(con)
    day = DAY.isoformat()
    frame = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2, 2],
            "label": [1, 0, 0, 0, 1, 0],
            "score": [0.9, 0.2, 0.1, 0.8, 0.3, 0.05],
            "margin": [1.0, 2.0, 3.0, 1.0, 5.0, 1.0],
        }
    )
    with transaction(con):
        names = outputs.replace_curves(con, day, evaluation_curves(frame, 2))
    assert sorted(names) == [
        "evaluation.calibration", "evaluation.margin_lift",
        "evaluation.precision_recall_at_k", "evaluation.roc",
    ]  # fmt: skip
    validation = (np.array([0, 1, 0, 1]), {"lightgbm": np.array([0.1, 0.9, 0.2, 0.8])})
    with transaction(con):
        outputs.replace_curves(con, day, validation_curves(*validation))
    rows = dict(con.execute("SELECT name, curve_json FROM run_curves WHERE run_date = ?", (day,)))
    pr = json.loads(rows["evaluation.precision_recall_at_k"])
    # k=1: each customer's top pick -> customer 1 hit, customer 2 miss; k=2: both hit once.
    assert pr["k"] == [1, 2] and pr["precision"] == [0.5, 0.5] and pr["recall"] == [0.5, 1.0]
    assert json.loads(rows["validation.roc"])["models"]["lightgbm"]["auc"] == 1.0
    con.close()


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    need_chromium()
    url = report.resolve().as_uri()
    dom = browser(url, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body is not None
    n = len(CHARTS)
    assert f'data-charts="{n}"' in body.group(0) and f'data-charts-drawn="{n}"' in body.group(0)
    shot = tmp_path / "report.png"
    out = browser(url, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2400")
    assert out.returncode == 0 and shot.stat().st_size > 10_000, out.stderr[-2000:]
    keep = os.environ.get("OFFERRANK_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "report.png")


def test_store_without_explanations_still_reports(world: Path, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path)
    con = sqlite3.connect(settings.db_path)
    con.execute("DELETE FROM feature_importance")
    con.execute("DELETE FROM run_curves")
    con.commit()
    html = write_report(settings, DAY).read_text()
    assert 'data-chart="importance"' in html and 'class="chart empty"' in html
