"""A day's recommendations as a file for channels (CRM, email, print): Parquet or CSV.

One row per served pair, in a documented schema that only ever grows (new columns at
the end): who, which rank, which offer on which product, the score, up to three reasons
as codes and sentences, and which model and run produced it. The file is written under a
temporary name and renamed into place, so a reader never sees half of it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from offerrank.config import Settings
from offerrank.delivery.offers import OfferDetails
from offerrank.delivery.reasons import MAX_REASONS, parse_codes, reason_text
from offerrank.errors import OfferrankError
from offerrank.store.db import connect
from offerrank.store.read import recommendations, runs
from offerrank.store.results.migrations import migrate

FORMATS = {".parquet": "parquet", ".csv": "csv"}

# The export's columns, in order, with their types (docs: README, "Exports").
SCHEMA = pa.schema(
    [
        ("run_date", pa.string()),
        ("customer_id", pa.int64()),
        ("rank", pa.int64()),
        ("offer_id", pa.int64()),
        ("product_id", pa.int64()),
        ("category", pa.string()),
        ("discount_pct", pa.float64()),
        ("list_price", pa.float64()),
        ("offer_price", pa.float64()),
        ("valid_from", pa.string()),
        ("valid_to", pa.string()),
        ("score", pa.float64()),
        *[(f"reason_code_{i}", pa.string()) for i in range(1, MAX_REASONS + 1)],
        *[(f"reason_{i}", pa.string()) for i in range(1, MAX_REASONS + 1)],
        ("model_version", pa.string()),
        ("run_id", pa.string()),
    ]
)


class ExportUsageError(OfferrankError):
    exit_code = 2


@dataclass
class ExportSummary:
    run_date: str
    run_id: str | None
    path: str
    rows: int
    customers: int
    customers_asked: int | None  # with --customers: how many ids the file listed
    customers_without_offers: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        text = (
            f"wrote {self.rows} offers for {self.customers} customers ({self.run_date})"
            f" to {self.path}"
        )
        missing = self.customers_without_offers
        if missing:
            verb = "has" if missing == 1 else "have"
            text += f"; {missing} of the {self.customers_asked} listed customers {verb} no offers"
        return text


def export_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ExportUsageError(f"--out {path}: name the file .parquet or .csv")
    return fmt


def read_customer_ids(path: Path) -> np.ndarray:
    """The `customer_id` column of a CSV or Parquet file (a header line is required)."""
    try:
        parquet = path.suffix.lower() == ".parquet"
        table = pq.read_table(path) if parquet else pacsv.read_csv(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise OfferrankError(f"--customers {path}: cannot read it ({exc})") from None
    if "customer_id" not in table.column_names:
        raise OfferrankError(
            f"--customers {path}: no customer_id column (found {', '.join(table.column_names)})"
        )
    column = table.column("customer_id")
    if not pa.types.is_integer(column.type) or column.null_count:
        raise OfferrankError(f"--customers {path}: customer_id must be whole numbers, no blanks")
    return np.unique(column.to_numpy())


def _run_id(settings: Settings, day: str) -> str | None:
    con = connect(settings.db_path)
    try:
        migrate(con)
        return runs.recommendations_run_id(con, day)
    finally:
        con.close()


def _reason_columns(rows: pa.Table, day: str) -> dict[str, pa.Array]:
    """reason_code_i and reason_i, rendered once per distinct (offer, codes) of the day."""
    keys = pc.binary_join_element_wise(
        pc.cast(rows.column("offer_id"), pa.string()),
        pc.fill_null(rows.column("reason_codes"), "[]"),
        "|",
    )
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    encoded = pc.dictionary_encode(keys)
    index = encoded.indices
    codes_out: list[list[str | None]] = [[] for _ in range(MAX_REASONS)]
    texts_out: list[list[str | None]] = [[] for _ in range(MAX_REASONS)]
    positions = pc.index_in(encoded.dictionary, value_set=keys).to_numpy()  # a row of each
    for key, row in zip(encoded.dictionary.to_pylist(), positions, strict=True):
        codes = parse_codes(key.split("|", 1)[1])
        offer = _offer_at(rows, int(row))
        for slot in range(MAX_REASONS):
            code = codes[slot] if slot < len(codes) else None
            codes_out[slot].append(code)
            texts_out[slot].append(None if code is None else reason_text(code, offer, day))
    columns = {}
    for slot in range(MAX_REASONS):
        columns[f"reason_code_{slot + 1}"] = pa.array(codes_out[slot], pa.string()).take(index)
        columns[f"reason_{slot + 1}"] = pa.array(texts_out[slot], pa.string()).take(index)
    return columns


def _offer_at(rows: pa.Table, i: int) -> OfferDetails | None:
    r = {name: rows.column(name)[i].as_py() for name in rows.column_names}
    if r["product_id"] is None:
        return None
    return OfferDetails(
        r["offer_id"],
        r["product_id"],
        r["category"],
        r["discount_pct"],
        str(r["start_date"])[:10],
        str(r["end_date"])[:10],
        r["target_business_type"],
        r["list_price"],
        r["price_tier"],
        None if r["is_own_brand"] is None else bool(r["is_own_brand"]),
    )


def export_recommendations(
    settings: Settings, run_date: date, out: Path, customers_file: Path | None = None
) -> ExportSummary:
    """Write the served lists of `run_date` (of the listed customers only, with a file)."""
    fmt = export_format(out)
    day = run_date.isoformat()
    wanted = read_customer_ids(customers_file) if customers_file else None
    run_id = _run_id(settings, day)
    rows = recommendations.served_lists_arrow(settings.db_path, day)
    if rows.num_rows == 0:
        raise OfferrankError(f"no recommendations for {day}: run `offerrank run --date {day}`")
    if wanted is not None:
        rows = rows.filter(pc.is_in(rows.column("customer_id"), value_set=pa.array(wanted)))
    n = rows.num_rows
    price = pc.multiply(rows.column("list_price"), pc.subtract(1, rows.column("discount_pct")))
    columns: dict[str, Any] = {
        "run_date": pa.repeat(pa.scalar(day), n),
        "offer_price": pc.round(price, 2),
        "valid_from": pc.utf8_slice_codeunits(
            pc.cast(rows.column("start_date"), pa.string()), 0, 10
        ),
        "valid_to": pc.utf8_slice_codeunits(pc.cast(rows.column("end_date"), pa.string()), 0, 10),
        "run_id": pa.repeat(pa.scalar(run_id, pa.string()), n),
        **_reason_columns(rows, day),
    }
    table = pa.table(
        [
            columns[f.name] if f.name in columns else rows.column(f.name).cast(f.type)
            for f in SCHEMA
        ],
        schema=SCHEMA,
    )
    _write(table, out, fmt)
    served = len(np.unique(table.column("customer_id").to_numpy())) if n else 0
    return ExportSummary(
        day,
        run_id,
        str(out),
        n,
        served,
        None if wanted is None else int(wanted.size),
        None if wanted is None else int(wanted.size) - served,
    )


def _write(table: pa.Table, out: Path, fmt: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if fmt == "parquet":
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(table, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
