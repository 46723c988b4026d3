"""`offerrank recommendations`: a day's served lists as Parquet or CSV, in a stable schema."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from explained_run import DAYS
from offerrank.cli.main import app
from offerrank.delivery.export import SCHEMA
from offerrank.delivery.reasons import BY_CODE

DAY = DAYS[1].isoformat()

# The documented schema (README, "Exports"): a column may only ever be added at the end.
COLUMNS = [
    "run_date",
    "customer_id",
    "rank",
    "offer_id",
    "product_id",
    "category",
    "discount_pct",
    "list_price",
    "offer_price",
    "valid_from",
    "valid_to",
    "score",
    "reason_code_1",
    "reason_code_2",
    "reason_code_3",
    "reason_1",
    "reason_2",
    "reason_3",
    "model_version",
    "run_id",
]


@pytest.fixture(scope="module")
def db(two_day_run) -> str:
    return str(two_day_run[0].db_path)  # read only: the export never writes the store


def _export(db: str, out: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(
        app, ["--db", db, "--json", "recommendations", "--date", DAY, "--out", str(out), *extra]
    )
    return res.exit_code, res.output


def test_parquet_and_csv_hold_every_served_pair_in_the_documented_schema(
    db: str, tmp_path: Path
) -> None:
    assert SCHEMA.names == COLUMNS
    code, out = _export(db, tmp_path / "offers.parquet")
    assert code == 0, out
    summary = json.loads(out)
    table = pq.read_table(tmp_path / "offers.parquet")
    assert table.schema.equals(SCHEMA)
    con = sqlite3.connect(db)
    stored = con.execute(
        "SELECT customer_id, rank, offer_id, score, model_version, reason_codes"
        " FROM recommendations WHERE run_date = ? ORDER BY customer_id, rank",
        (DAY,),
    ).fetchall()
    run_id = con.execute(
        "SELECT run_id FROM pipeline_runs WHERE run_date = ? AND step = 'rank'"
        " ORDER BY rowid DESC LIMIT 1",
        (DAY,),
    ).fetchone()[0]
    category = dict(
        con.execute(
            "SELECT o.offer_id, p.category FROM offers o JOIN products p USING (product_id)"
        ).fetchall()
    )
    con.close()
    rows = table.to_pylist()
    assert summary["rows"] == len(rows) == len(stored)
    assert summary["run_id"] == run_id == rows[0]["run_id"]
    for row, (customer, rank, offer, score, version, codes) in zip(rows, stored, strict=True):
        assert (row["customer_id"], row["rank"], row["offer_id"]) == (customer, rank, offer)
        assert row["score"] == score and row["model_version"] == version
        assert row["category"] == category[offer] and row["run_date"] == DAY
        exported = [row[f"reason_code_{i}"] for i in (1, 2, 3) if row[f"reason_code_{i}"]]
        assert exported == json.loads(codes) and set(exported) <= set(BY_CODE)
        assert all(row[f"reason_{i}"] for i in range(1, len(exported) + 1))
        assert row["offer_price"] == pytest.approx(
            row["list_price"] * (1 - row["discount_pct"]), abs=0.006
        )
    code, out = _export(db, tmp_path / "offers.csv")
    assert code == 0, out
    csv = pacsv.read_csv(tmp_path / "offers.csv")
    assert csv.column_names == COLUMNS and csv.num_rows == len(rows)
    assert csv.column("reason_1").to_pylist() == table.column("reason_1").to_pylist()


def test_customers_file_limits_the_export(db: str, tmp_path: Path) -> None:
    con = sqlite3.connect(db)
    served = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT customer_id FROM recommendations WHERE run_date = ? LIMIT 3", (DAY,)
        )
    ]
    con.close()
    wanted = tmp_path / "vip.csv"
    wanted.write_text("customer_id,name\n" + "".join(f"{c},x\n" for c in served) + "999999,y\n")
    code, out = _export(db, tmp_path / "vip.parquet", "--customers", str(wanted))
    assert code == 0, out
    summary = json.loads(out)
    assert summary["customers"] == 3 and summary["customers_without_offers"] == 1
    ids = set(pq.read_table(tmp_path / "vip.parquet").column("customer_id").to_pylist())
    assert ids == set(served)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--date", DAY, "--out", "offers.xlsx"], 2, "name the file .parquet or .csv"),
        (["--date", "2025-01-01", "--out", "offers.csv"], 1, "no recommendations for 2025-01-01"),
        (["--date", "17/02/2026", "--out", "offers.csv"], 2, "not a date"),
    ],
)
def test_bad_requests_are_one_line_and_write_nothing(
    db: str, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    args = [a if not a.startswith("offers.") else str(tmp_path / a) for a in args]
    res = CliRunner().invoke(app, ["--db", db, "recommendations", *args])
    assert res.exit_code == code and message in res.output
    assert "Traceback" not in res.output and not list(tmp_path.iterdir())


def test_a_customers_file_without_ids_is_refused(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "list.csv"
    bad.write_text("id\n1\n")
    code, out = _export(db, tmp_path / "x.csv", "--customers", str(bad))
    assert code == 1 and "no customer_id column" in out and not (tmp_path / "x.csv").exists()
