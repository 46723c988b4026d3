"""The output tables' declaration (`store.results.output_tables`) is the schema: the
migrations end at it from any version a store was made by, every statement that writes a
declared table names declared columns from the table's declared writer, and a daily
run's rows have the declared types and no NULL where none is declared."""

from __future__ import annotations

import ast
import contextlib
import importlib
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from offerrank.store.contract import INPUTS, SQLITE_TYPES
from offerrank.store.results import migrations
from offerrank.store.results.output_tables import OUTPUT_TABLES, OUTPUTS_BY_NAME, OutputTable
from offerrank.world.storage import SIM_TABLES

SRC = Path(__file__).resolve().parent.parent / "src" / "offerrank"

Columns = list[tuple[str, str, bool, Any, int]]  # name, type, not null, default, key position
Schema = dict[str, tuple[Columns, dict[str, tuple[str, ...]]]]


def declared() -> Schema:
    """The declaration as PRAGMA table_info would show it (a key column counts as NOT NULL)."""
    schema: Schema = {}
    for t in OUTPUT_TABLES:
        defaults = dict(t.defaults)
        columns = [
            (
                c.name,
                SQLITE_TYPES[c.kind],
                not c.nullable,
                defaults.get(c.name),
                t.key.index(c.name) + 1 if c.name in t.key else 0,
            )
            for c in t.columns
        ]
        schema[t.name] = (columns, {i.name: i.columns for i in t.indexes})
    return schema


def actual(con: sqlite3.Connection) -> Schema:
    names = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    schema: Schema = {}
    for name in names:
        columns = [
            (col, kind, bool(notnull) or pk > 0, default, pk)
            for _, col, kind, notnull, default, pk in con.execute(f"PRAGMA table_info({name})")
        ]
        indexes = {
            index: tuple(c for _, _, c in con.execute(f"PRAGMA index_info({index})"))
            for _, index, _, origin, _ in con.execute(f"PRAGMA index_list({name})")
            if origin == "c"
        }
        schema[name] = (columns, indexes)
    return schema


def store_at(version: int, monkeypatch: pytest.MonkeyPatch) -> sqlite3.Connection:
    """A store as the code of migration `version` left it (0: a store without outputs)."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    if version:
        with monkeypatch.context() as m:
            m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:version])
            migrations.migrate(con)
    return con


def test_a_new_store_has_exactly_the_declared_tables_columns_and_indexes() -> None:
    con = sqlite3.connect(":memory:", isolation_level=None)
    migrations.migrate(con)
    assert actual(con) == declared()


VERSIONS = [version for version, _, _ in migrations.MIGRATIONS]


@pytest.mark.parametrize("start", [0, *VERSIONS[:-1]])
def test_a_store_of_any_version_migrates_to_the_declaration(
    start: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the oldest store (no output tables) and from every released version, with a
    served row written before: the row survives, the columns added since are NULL."""
    con = store_at(start, monkeypatch)
    if start:
        con.execute(
            "INSERT INTO recommendations (run_date, customer_id, offer_id, rank, score,"
            " model_version) VALUES ('2024-01-02', 7, 3, 1, 0.25, 'v1')"
        )
    assert migrations.migrate(con) == [v for v in VERSIONS if v > start]
    assert actual(con) == declared()
    if start:
        rows = con.execute(
            "SELECT customer_id, offer_id, score, propensity, reason_codes FROM recommendations"
        ).fetchall()
        assert rows == [(7, 3, 0.25, None, None)]


def test_a_table_s_key_names_its_own_columns() -> None:
    for table in OUTPUT_TABLES:
        assert set(table.key) <= set(table.column_names), table.name
        for index in table.indexes:
            assert set(index.columns) <= set(table.column_names), index.name


# -- every statement of the source that writes a declared table ---------------------------
WRITE = re.compile(
    r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+([^\s(]+)\s*(?:\(([^)]*)\))?"
    r"|\bUPDATE\s+(\S+)\s+SET\s+(.+?)\s+WHERE\b",
    re.S,
)
UNRESOLVED = "{?}"
# Helpers that insert into a table named by their caller: their callers are checked
# instead (`_insert` below; `insert_arrow` writes Arrow columns, checked by the run test).
GENERIC = {
    ("offerrank.store.results.outputs", "_insert"),
    ("offerrank.store.db", "insert_arrow"),
    ("offerrank.engines.duckdb.tables", "_load_table"),  # the engine's own copy of the inputs
}
OTHER_TABLES = set(INPUTS) | set(SIM_TABLES)


def _render(node: ast.JoinedStr | ast.Constant, namespace: dict[str, Any]) -> str:
    """The statement's text, with each `{expression}` evaluated in the module's namespace
    (constants such as a column tuple) or left as {?} (a local value)."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
            continue
        assert isinstance(value, ast.FormattedValue)
        try:
            code = compile(ast.Expression(value.value), "<sql>", "eval")
            parts.append(str(eval(code, dict(namespace))))
        except Exception:
            parts.append(UNRESOLVED)
    return "".join(parts)


def _statements() -> list[tuple[str, str, str]]:
    """(module, enclosing function, SQL text) of every string of the source that writes."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        if "spark" in module.split("."):
            continue  # Spark needs pyspark to import, and never writes the store
        namespace = vars(importlib.import_module(module))
        tree = ast.parse(path.read_text())
        inside: dict[int, str] = {}
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(fn):
                    inside.setdefault(id(node), fn.name)
        parts = {
            id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values
        }
        for node in ast.walk(tree):
            text = (
                isinstance(node, ast.JoinedStr)
                or (isinstance(node, ast.Constant) and isinstance(node.value, str))
            ) and id(node) not in parts
            if text:
                assert isinstance(node, ast.JoinedStr | ast.Constant)
                sql = _render(node, namespace)
                if "INSERT" in sql or "UPDATE" in sql:
                    found.append((module, inside.get(id(node), ""), sql))
    return found


def _set_columns(clause: str) -> list[str]:
    clause = re.sub(r"'[^']*'", "''", clause)
    return re.findall(r"(\w+)\s*=", clause)


def test_every_write_in_the_source_names_declared_columns_from_the_declared_writer() -> None:
    written: set[str] = set()
    for module, function, sql in _statements():
        for match in WRITE.finditer(sql):
            table = match.group(1) or match.group(3)
            if match.group(1):
                columns = [c.strip() for c in (match.group(2) or "").split(",") if c.strip()]
            else:
                columns = _set_columns(match.group(4))
            if UNRESOLVED in table:
                assert (module, function) in GENERIC, (module, function, sql)
                continue
            if table not in OUTPUTS_BY_NAME:
                assert table in OTHER_TABLES, (module, sql)
                continue
            declared_table = OUTPUTS_BY_NAME[table]
            assert module == declared_table.writer, (module, sql)
            unknown = set(columns) - set(declared_table.column_names)
            assert not unknown and UNRESOLVED not in "".join(columns), (module, sql)
            written.add(table)
    # every declared table is written by a statement above, except those whose rows come
    # in as Arrow columns (checked by the run test) or through `_insert` (checked below)
    through_helpers = {"recommendations", *_insert_calls(), "explanation_pairs"}
    through_helpers |= {"explanation_contributions", "feature_importance"}
    assert written | through_helpers == set(OUTPUTS_BY_NAME)


def _insert_calls() -> dict[str, list[str]]:
    """Table and columns of every `_insert(con, table, columns, rows)` call of the writers
    (named as literals, module constants or a literal assigned in the calling function)."""
    from offerrank.store.results import outputs

    calls: dict[str, list[str]] = {}
    for fn in ast.walk(ast.parse(Path(outputs.__file__).read_text())):
        if not isinstance(fn, ast.FunctionDef):
            continue
        namespace = dict(vars(outputs))
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                with contextlib.suppress(ValueError):
                    namespace[node.targets[0].id] = ast.literal_eval(node.value)
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_insert":
                table, columns = (
                    eval(compile(ast.Expression(arg), "<call>", "eval"), namespace)
                    for arg in node.args[1:3]
                )
                calls[table] = list(columns)
    return calls


def test_the_writers_helper_calls_name_declared_columns() -> None:
    from offerrank.store.results import outputs

    calls = _insert_calls()
    assert set(calls) == {"feature_drift", "run_curves", "model_registry", "model_events"} | {
        "run_notes"
    }
    for table, columns in calls.items():
        assert set(columns) <= set(OUTPUTS_BY_NAME[table].column_names), table
    assert set(outputs.RECOMMENDATION_COLUMNS) == set(
        OUTPUTS_BY_NAME["recommendations"].column_names
    )
    for name in outputs.EXPLANATION_TABLES:
        assert OUTPUTS_BY_NAME[name].writer == "offerrank.store.results.outputs"


# -- what a daily run writes --------------------------------------------------------------
DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"


def violations(con: sqlite3.Connection, table: OutputTable) -> list[str]:
    """Each way the table's rows break its declaration: a stored type other than the
    declared one, a NULL where none is declared, a date not YYYY-MM-DD, a flag not 0/1."""
    found = []
    for c in table.columns:
        allowed = {SQLITE_TYPES[c.kind].lower()} | ({"null"} if c.nullable else set())
        for (kind,) in con.execute(f"SELECT DISTINCT typeof({c.name}) FROM {table.name}"):
            if kind not in allowed:
                found.append(f"{table.name}.{c.name}: {kind}")
        rule = {"date": f"NOT {c.name} GLOB '{DATE_GLOB}'", "flag": f"{c.name} NOT IN (0, 1)"}
        if c.kind in rule:
            sql = f"SELECT COUNT(*) FROM {table.name} WHERE {c.name} IS NOT NULL AND {rule[c.kind]}"
            if con.execute(sql).fetchone()[0]:
                found.append(f"{table.name}.{c.name}: not a {c.kind}")
    return found


def test_the_rows_of_two_daily_runs_have_the_declared_types(two_day_run) -> None:  # noqa: ANN001
    settings = two_day_run[0]
    with contextlib.closing(sqlite3.connect(settings.db_path)) as con:
        found = [v for table in OUTPUT_TABLES for v in violations(con, table)]
        empty = {
            t.name
            for t in OUTPUT_TABLES
            if not con.execute(f"SELECT 1 FROM {t.name} LIMIT 1").fetchone()
        }
    assert found == []
    # the runs wrote every table but the evaluation reuse (nothing reused on the tiny world
    # is not required: the second day's window differs) and what no run of the tiny world needs
    assert empty == set(), empty


def test_a_broken_row_is_found() -> None:
    """The check above can fail: a fractional rank, a date with a time, a flag of 2 (a
    NULL where none is declared SQLite refuses itself)."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    migrations.migrate(con)
    con.execute(
        "INSERT INTO recommendations (run_date, customer_id, offer_id, rank, score,"
        " model_version) VALUES ('2024-01-02 10:00', 1, 2, 1.5, 0.5, 'v')"
    )
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO run_metrics (run_date, metric) VALUES (NULL, 'x')")
    con.execute(
        "INSERT INTO feature_drift (run_date, feature, drifted) VALUES ('2024-01-02', 'f', 2)"
    )
    recs = violations(con, OUTPUTS_BY_NAME["recommendations"])
    assert sorted(recs) == [
        "recommendations.rank: real",
        "recommendations.run_date: not a date",
    ]
    assert violations(con, OUTPUTS_BY_NAME["feature_drift"]) == [
        "feature_drift.drifted: not a flag"
    ]
