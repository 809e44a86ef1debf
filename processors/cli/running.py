"""Commands that run wabahook: serve, console and up."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import processors.cli.common as cli
from processors.console.security import PASSWORD_VARIABLE, ConsoleExposureError, check_bind
from processors.serving import console_command, gunicorn_command
from receiver.config import ConfigError, Secret, Settings, behind_proxy_from_env, secret_value
from receiver.exposure import DEFAULT_BIND, ExposureError, check_binds
from receiver.sealing import stored_key_problem

F = TypeVar("F", bound=Callable[..., Any])


@cli.main.command("serve")
@click.option(
    "--bind", default=None, help="host:port to listen on [env WABAHOOK_BIND, 127.0.0.1:8080]."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes [env WABAHOOK_WORKERS, 2 x cores + 1].",
)
@click.option(
    "--behind-proxy",
    is_flag=True,
    help="A buffering load balancer (deploy/nginx) stands in front: allow a non-loopback "
    "--bind and trust one X-Forwarded-For hop [env WABAHOOK_BEHIND_PROXY].",
)
def serve(bind: str | None, workers: int | None, behind_proxy: bool) -> None:
    """Run the receiver under gunicorn (the production entry point).

    Without --behind-proxy it listens on loopback only: reached directly, slow or
    half-sent requests can hold every worker, and X-Forwarded-For is not trusted.

    \b
    Example:
      DATABASE_URL=... REDIS_URL=... wabahook serve --behind-proxy --bind 0.0.0.0:8080
    """
    if behind_proxy:
        os.environ["WABAHOOK_BEHIND_PROXY"] = "1"
    if bind:
        os.environ["WABAHOOK_BIND"] = bind
    with cli.errors_as_messages():
        settings = Settings.from_env()  # fail here, once, rather than in every worker
        try:
            check_binds(
                [os.environ.get("WABAHOOK_BIND", DEFAULT_BIND)], behind_proxy=settings.behind_proxy
            )
        except ExposureError as exc:
            raise click.UsageError(str(exc)) from None
        if problem := stored_key_problem(settings):  # gunicorn says it too, less plainly
            cli.fail(problem)
    if workers:
        os.environ["WABAHOOK_WORKERS"] = str(workers)
    os.execv(sys.executable, gunicorn_command())  # noqa: S606  (replace this process: signals reach gunicorn)


@cli.main.command("console")
@click.option(
    "--bind",
    default="127.0.0.1:8090",
    show_default=True,
    envvar="WABAHOOK_CONSOLE_BIND",
    help="host:port to listen on; off loopback only with WABAHOOK_CONSOLE_PASSWORD.",
)
def console(bind: str) -> None:
    """Serve the console: overview, event search, message timelines, replay.

    A web app for people, apart from the receiver. On 127.0.0.1 it asks for no
    login; anywhere else it needs WABAHOOK_CONSOLE_PASSWORD (or _FILE), asked as
    HTTP Basic with user "console", and refuses to start without it.

    \b
    Example:
      wabahook console --bind 127.0.0.1:8090
    """
    password = secret_value(os.environ, PASSWORD_VARIABLE)
    try:
        check_bind(bind, Secret(password) if password else None)
    except ConsoleExposureError as exc:
        raise click.UsageError(str(exc)) from None
    cli.database_settings()  # fail here, once, rather than in gunicorn's worker
    os.environ["WABAHOOK_CONSOLE_BIND"] = bind
    os.execv(sys.executable, console_command())  # noqa: S606  (signals reach gunicorn)


def port_option(name: str, default: int, help_text: str, lowest: int = 1) -> Callable[[F], F]:
    """A TCP port option (`lowest` 0: any free port)."""
    return click.option(
        name, type=click.IntRange(lowest, 65535), default=default, show_default=True, help=help_text
    )


@cli.main.command("up")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@port_option("--port", 8080, "Port to listen on.")
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var"),
    show_default=True,
    envvar="WABAHOOK_VAR_DIR",
    help="Where the embedded servers keep their data (also WABAHOOK_VAR_DIR; other "
    "commands run without DATABASE_URL look for a running quickstart there).",
)
@port_option(
    "--console-port",
    8090,
    "Port of the console on 127.0.0.1 (0: any free one; the printed line says which).",
    lowest=0,
)
@click.option(
    "--no-demo",
    is_flag=True,
    help="Do not seed the demo outbound messages (seeded once per VAR_DIR, only into the "
    "embedded PostgreSQL).",
)
def up(host: str, port: int, var_dir: Path, console_port: int, no_demo: bool) -> None:
    """Run wabahook on this machine in the foreground, for a first try.

    Starts embedded PostgreSQL and Valkey unless DATABASE_URL / REDIS_URL are
    set (their data under VAR_DIR; started as root, under /var/lib/wabahook/),
    migrates, creates the channel "demo" with a few demo messages, serves the
    receiver, a worker, cron and the console, and prints a curl line that posts
    a sample notification and the console's address. One `up` per VAR_DIR.
    Ctrl-C stops everything it started; the next run reuses VAR_DIR.

    \b
    Example:
      wabahook up --port 8080
    """
    from processors.local.local_files import QuickstartError
    from processors.local.quickstart import Quickstart

    try:  # the receiver's own rule, said here rather than as "the receiver did not start"
        check_binds([f"{host}:{port}"], behind_proxy=behind_proxy_from_env())
    except (ExposureError, ConfigError) as exc:
        raise click.UsageError(str(exc)) from None
    with cli.errors_as_messages():
        try:
            code = Quickstart(var_dir=var_dir, host=host, port=port, echo=click.echo,
                              console_port=console_port, demo=not no_demo).run()  # fmt: skip
        except QuickstartError as exc:
            cli.fail(str(exc))
    sys.exit(code)
