"""Commands that run wabahook: serve and up."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from processors.cli import (
    errors_as_messages,
    fail,
    main,
)
from processors.serving import gunicorn_command
from receiver.config import Settings


@main.command("serve")
@click.option(
    "--bind", default=None, help="host:port to listen on [env WABAHOOK_BIND, 127.0.0.1:8080]."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes [env WABAHOOK_WORKERS, 2 x cores + 1].",
)
def serve(bind: str | None, workers: int | None) -> None:
    """Run the receiver under gunicorn (the production entry point).

    \b
    Example:
      DATABASE_URL=... REDIS_URL=... wabahook serve --bind 0.0.0.0:8080
    """
    with errors_as_messages():
        Settings.from_env()  # fail here, once, rather than in every worker
    if bind:
        os.environ["WABAHOOK_BIND"] = bind
    if workers:
        os.environ["WABAHOOK_WORKERS"] = str(workers)
    os.execv(sys.executable, gunicorn_command())  # noqa: S606  (replace this process: signals reach gunicorn)


@main.command("up")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on.",
)
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var"),
    show_default=True,
    help="Where the embedded servers keep their data.",
)
def up(host: str, port: int, var_dir: Path) -> None:
    """Run wabahook on this machine in the foreground, for a first try.

    Starts embedded PostgreSQL and Valkey under VAR_DIR unless DATABASE_URL /
    REDIS_URL are set, migrates, creates the channel "demo", serves the
    receiver and prints a curl line that posts a sample notification.
    Ctrl-C stops everything it started; the next run reuses VAR_DIR.

    \b
    Example:
      wabahook up --port 8080
    """
    from processors.quickstart import Quickstart, QuickstartError

    with errors_as_messages():
        try:
            code = Quickstart(var_dir=var_dir, host=host, port=port, echo=click.echo).run()
        except QuickstartError as exc:
            fail(str(exc))
    sys.exit(code)
