"""Commands for downstream readers: `serve` (the HTTP API) and `recommendations` (exports)."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from offerrank.cli.app import State, app, emit, err_console, fail, parse_date, user_errors
from offerrank.errors import OfferrankError


def _check_store_schema(db_path: Path) -> None:
    """The API never writes, so it cannot upgrade an old store: say how instead."""
    from offerrank.api.queries import ReadOnlyStore, StoreUnavailable
    from offerrank.store.db import require_store, table_exists
    from offerrank.store.results.migrations import MIGRATIONS

    require_store(db_path)
    store = ReadOnlyStore(db_path)
    try:
        with store.snapshot() as con:
            if not table_exists(con, "schema_migrations"):
                version = 0
            else:
                version = con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
    except StoreUnavailable as exc:
        raise OfferrankError(str(exc)) from None
    finally:
        store.close()
    newest = MIGRATIONS[-1][0]
    if (version or 0) < newest:
        raise OfferrankError(
            f"store {db_path} has schema version {version or 0}, this offerrank serves {newest}:"
            f" upgrade it once with `offerrank --db {db_path} status`"
        )


def _check_port(host: str, port: int) -> None:
    """Fail with one line, before starting workers, when the address cannot be bound."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        raise OfferrankError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every one)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="File holding the bearer token every request but /healthz needs."
    ),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request."),
) -> None:
    """Serve the store's offers over HTTP, read-only (OpenAPI docs at /docs).

    GET /v1/customers/{id}/offers, /v1/runs/latest, /v1/runs/{date}, /healthz, /readyz.
    A daily run can write the store meanwhile: each request reads one snapshot.

    Example: offerrank serve --port 8000 --workers 2 --token-file /etc/offerrank/token
    """
    try:
        import uvicorn

        from offerrank.api.app import ENV, ServeConfig, read_token
    except ImportError as exc:
        fail(
            f"offerrank serve needs the serve extra ({exc.name} is missing):"
            " pip install 'offerrank[serve]'"
        )
        return
    import os

    state: State = ctx.obj
    with user_errors(state):
        db_path = state.settings().db_path
        config = ServeConfig(db_path.resolve(), token_file.resolve() if token_file else None)
        if token_file is not None:
            read_token(token_file)
        _check_store_schema(db_path)
        _check_port(host, port)
    os.environ[ENV] = config.to_env()
    if not state.quiet:
        auth = "bearer token required" if token_file else "no token"
        err_console.print(
            f"serving {db_path} at http://{host}:{port} (docs /docs; {workers} worker"
            f"{'s' if workers > 1 else ''}; {auth}); Ctrl-C stops",
            highlight=False,
            soft_wrap=True,
        )
    uvicorn.run(
        "offerrank.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info" if access_log else "warning",
        server_header=False,
    )


@app.command()
def recommendations(
    ctx: typer.Context,
    date_: str = typer.Option(..., "--date", help="Run date D (YYYY-MM-DD)."),
    out: Path = typer.Option(..., "--out", help="File to write: .parquet or .csv."),
    customers: Path | None = typer.Option(
        None,
        "--customers",
        help="Only these customers: a CSV or Parquet file with a customer_id column.",
        exists=True,
        dir_okay=False,
    ),
) -> None:
    """Export a day's recommendations for channels: one row per served offer, with its
    product, score, reasons, model version and run id (schema: README, Exports).

    Example: offerrank recommendations --date 2026-02-17 --out offers.parquet
    Example: offerrank recommendations --date 2026-02-17 --out crm.csv --customers vip.csv
    """
    from offerrank.delivery.export import export_recommendations

    state: State = ctx.obj
    run_date = parse_date(date_)
    with user_errors(state):
        summary = export_recommendations(state.settings(), run_date, out, customers)
    emit(state, summary.as_dict(), summary.describe())
