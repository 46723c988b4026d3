"""Every command, every way to get it wrong: one line on stderr, the documented exit code.

Each command is run with a malformed option, a bad option value, a missing store, a
folder for a store, a file that is not a database, a truncated store, and three bad
config files; then (in one batch, without root's powers when the tests run as root) with an
unreadable store, a read-only store and a read-only folder. Exit codes: 2 for usage
and configuration, 1 for data and the environment; never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cli_driver import Outcome, invoke
from reliability_ledger import LEDGER

USAGE, DATA = 2, 1
GOLDEN = Path(__file__).parent / "fixtures" / "golden_store.sql"


def assert_refused(outcome: Outcome, code: int, case: str, *needles: str) -> None:
    """One line on stderr, the exit code, no traceback; record the case."""
    if outcome.traceback:
        LEDGER.traceback(case)
    assert outcome.traceback is None, outcome.traceback
    assert outcome.code == code, (case, outcome)
    assert len(outcome.err_lines) == 1, (case, outcome.err)
    assert outcome.err_lines[0].startswith("error: "), outcome.err
    for needle in needles:
        assert needle in outcome.err, (case, needle, outcome.err)
    LEDGER.bad_input(case)


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of broken stores, bad configs and one good store and feed."""
    root = tmp_path_factory.mktemp("cli")
    with sqlite3.connect(root / "good.db") as con:
        con.executescript(GOLDEN.read_text())
    con.close()
    (root / "notdb.db").write_bytes(b"this is not a SQLite database\n" * 200)
    data = (root / "good.db").read_bytes()
    (root / "truncated.db").write_bytes(data[: len(data) // 3])
    (root / "folder.db").mkdir()
    (root / "feed").mkdir()
    (root / "feed" / "customers.csv").write_text("customer_id,business_type,signup_date\n9,x,\n")
    (root / "not-toml.toml").write_text("top_k = \n")
    (root / "bad-value.toml").write_text("[offerrank]\ntop_k = 0\n")
    (root / "unknown-key.toml").write_text("[offerrank]\ntopk = 3\n")
    return root


# A valid command line per command (with the good store it would do its work).
COMMANDS: dict[str, list[str]] = {
    "generate": ["generate", "--preset", "tiny"],
    "import": ["import", "{feed}"],
    "export": ["export", "{out}"],
    "run": ["run", "--date", "2024-04-01"],
    "features": ["features", "--date", "2024-04-01", "--out", "{out}/f.csv"],
    "status": ["status"],
    "explain": ["explain", "--date", "2024-04-01", "--customer", "1"],
    "report": ["report", "--date", "2024-04-01"],
    "simulate": ["simulate", "--from", "2024-04-01", "--to", "2024-04-02", "--workdir", "{out}"],
    "models": ["models"],
    "models activate": ["models", "activate", "2024-04-01-lgbm"],
}
# A bad value of one of each command's options.
BAD_VALUE: dict[str, tuple[list[str], str]] = {
    "generate": (["generate", "--preset", "huge"], "huge"),
    "import": (["import", "{out}/no-such-folder"], "not a folder"),
    "export": (["export", "{out}", "--format", "xlsx"], "xlsx"),
    "run": (["run", "--date", "2024-04-01", "--top-k", "0"], "--top-k"),
    "features": (["features", "--date", "2026-13-45", "--out", "{out}/f.csv"], "--date"),
    "status": (["status", "--last", "0"], "--last"),
    "explain": (["explain", "--date", "2024-04-01", "--customer", "abc"], "--customer"),
    "report": (["report", "--date", "yesterday"], "--date"),
    "simulate": (
        ["simulate", "--from", "2024-04-01", "--to", "2024-04-02", "--policy", "greedy-ish"],
        "greedy-ish",
    ),
    "models": (["models", "list"], "No such command"),
    "models activate": (["models", "activate"], "Missing argument"),
}
MORE_BAD_OPTIONS: dict[str, tuple[list[str], str]] = {
    "run --engine pandas": (["run", "--date", "2024-04-01", "--engine", "pandas"], "--engine"),
    "run --date 2026-02-30": (["run", "--date", "2026-02-30"], "--date"),
    "run --to before --from": (["run", "--from", "2024-04-02", "--to", "2024-04-01"], "--to"),
    "generate --seed -1": (["generate", "--seed", "-1"], "--seed"),
    "generate --start after --end": (
        ["generate", "--preset", "tiny", "--start", "2026-02-01", "--end", "2026-01-01"],
        "before",
    ),
    "simulate --rank-by": (
        ["simulate", "--from", "2024-04-01", "--to", "2024-04-02", "--rank-by", "x"],
        "--rank-by",
    ),
    "simulate --serving": (
        ["simulate", "--from", "2024-04-01", "--to", "2024-04-02", "--serving", "x"],
        "--serving",
    ),
    "simulate --to before --from": (
        ["simulate", "--from", "2024-04-02", "--to", "2024-04-01", "--workdir", "{out}"],
        "before",
    ),
    "features --pairs missing": (
        ["features", "--date", "2024-04-01", "--pairs", "{out}/none.csv", "--out", "{out}/f"],
        "--pairs",
    ),
    "no command": ([], "Missing command"),
}
# What happens to a command's store: (the --db or config, expected code, a needle)
STORES = {
    "missing store": ("{root}/absent/metro.db", USAGE, "store not found"),
    "store is a folder": ("{root}/folder.db", USAGE, "a folder"),
    "not a database": ("{root}/notdb.db", DATA, "notdb.db"),
    "truncated store": ("{root}/truncated.db", DATA, "truncated.db"),
}
CONFIGS = {
    "config not TOML": ("not-toml.toml", "not valid TOML"),
    "config bad value": ("bad-value.toml", "top_k = 0"),
    "config unknown key": ("unknown-key.toml", "did you mean top_k"),
}
CREATES_STORE = {"generate", "import"}  # a missing store is theirs to create


def argv(words: list[str], root: Path, out: Path) -> list[str]:
    return [w.format(feed=root / "feed", out=out, root=root) for w in words]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_option_is_a_usage_error(place: Path, out: Path, command: str) -> None:
    words = [*argv(COMMANDS[command], place, out), "--frobnicate"]
    outcome = invoke(["--db", place / "good.db", *words])
    assert_refused(outcome, USAGE, f"{command}: unknown option", "--frobnicate")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_option_value_is_a_usage_error(place: Path, out: Path, command: str) -> None:
    words, needle = BAD_VALUE[command]
    outcome = invoke(["--db", place / "good.db", *argv(words, place, out)])
    assert_refused(outcome, USAGE, f"{command}: bad option value", needle)


@pytest.mark.parametrize("case", MORE_BAD_OPTIONS)
def test_more_bad_options(place: Path, out: Path, case: str) -> None:
    words, needle = MORE_BAD_OPTIONS[case]
    outcome = invoke(["--db", place / "good.db", *argv(words, place, out)])
    assert_refused(outcome, USAGE, case, needle)


@pytest.mark.parametrize(
    ("command", "store"),
    [
        (command, store)
        for command in COMMANDS
        for store in STORES
        if not (store == "missing store" and command in CREATES_STORE)
    ],
)
def test_a_broken_store_is_one_line(place: Path, out: Path, command: str, store: str) -> None:
    path, code, needle = STORES[store]
    db = path.format(root=place)
    outcome = invoke(["--db", db, *argv(COMMANDS[command], place, out)])
    assert_refused(outcome, code, f"{command}: {store}", needle)
    assert not Path(f"{place}/absent").exists()


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_config_is_a_usage_error(place: Path, out: Path, command: str, config: str) -> None:
    name, needle = CONFIGS[config]
    words = argv(COMMANDS[command], place, out)
    outcome = invoke(["--db", place / "good.db", "--config", place / name, *words])
    assert_refused(outcome, USAGE, f"{command}: {config}", name, needle)


def test_a_config_given_by_the_environment_is_checked_too(place: Path, out: Path) -> None:
    for env, needle in (
        ({"OFFERRANK_CONFIG": str(place / "missing.toml")}, "cannot read"),
        ({"OFFERRANK_CONFIG": str(place / "unknown-key.toml")}, "unknown setting"),
        ({"OFFERRANK_DB": str(place / "folder.db")}, "a folder"),
    ):
        outcome = invoke(["status"], env=env)
        assert_refused(outcome, USAGE, f"environment: {sorted(env)[0]}", needle)


# -- permissions: one batch of cases, run without root's powers when the tests run as root
# (case, folder/file modes, command): 1 with one line naming the store, or 0 for a read
READ_ONLY_CASES = [
    ("unreadable store", 0o755, 0o000, "run", DATA),
    ("unreadable store", 0o755, 0o000, "status", DATA),
    ("unreadable store", 0o755, 0o000, "import", DATA),
    ("unreadable store", 0o755, 0o000, "export", DATA),
    ("unreadable store", 0o755, 0o000, "generate", DATA),
    ("read-only store", 0o777, 0o444, "run", DATA),
    ("read-only store", 0o777, 0o444, "import", DATA),
    ("read-only store", 0o777, 0o444, "generate", DATA),
    ("read-only store", 0o777, 0o444, "status", 0),
    ("read-only store", 0o777, 0o444, "export", 0),
    ("read-only folder", 0o555, 0o666, "run", DATA),
    ("read-only folder", 0o555, 0o666, "import", DATA),
    ("read-only folder", 0o555, 0o666, "status", 0),
]


@pytest.fixture(scope="module")
def as_another_user() -> list[str]:
    """The command prefix under which file permissions bind: as root, root without the
    capabilities that override them (a plain user could not run this Python, which lives
    under /root here), else nothing."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def test_unreadable_and_read_only_stores(place: Path, as_another_user: list[str]) -> None:
    root = Path(tempfile.mkdtemp(prefix="offerrank-perm-"))
    try:
        root.chmod(0o755)
        shutil.copytree(place / "feed", root / "feed")
        (root / "out").mkdir(mode=0o777)
        (root / "out").chmod(0o777)
        cases = []
        for i, (_, folder_mode, file_mode, command, _) in enumerate(READ_ONLY_CASES):
            db = root / f"{i}" / "s.db"
            db.parent.mkdir()
            shutil.copy(place / "good.db", db)
            db.chmod(file_mode)
            db.parent.chmod(folder_mode)
            words = argv(COMMANDS[command], root, root / "out" / f"{i}")
            if command == "generate":
                words.append("--force")
            cases.append({"argv": ["--db", str(db), *words], "env": {"HOME": str(root)}})
        done = subprocess.run(
            [*as_another_user, sys.executable, str(Path(__file__).parent / "cli_driver.py")],
            input=json.dumps(cases), capture_output=True, text=True, cwd=root,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        for (case, _, _, command, code), found in zip(
            READ_ONLY_CASES, json.loads(done.stdout), strict=True
        ):
            outcome = Outcome(**found)
            if code:
                assert_refused(outcome, code, f"{command}: {case}", "s.db")
            else:
                assert outcome.code == 0 and outcome.traceback is None, (case, command, outcome)
                LEDGER.fault(f"{command}: {case}")
    finally:
        for path in root.rglob("*"):
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(root)
