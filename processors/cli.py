"""The `wabahook` command line."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar
from urllib.parse import urlsplit

import click

from processors import analytics, channels, dialog360, jobs
from processors import drain as drain_module
from processors import forward as forward_module
from processors import rebuild as rebuild_module
from processors import replay as replay_module
from processors import retention as retention_module
from processors.embedded import EmbeddedError
from processors.migrate import MigrationError, migrate
from processors.selection import Duration, build_selection, selection_options
from processors.serving import gunicorn_command
from receiver import logs
from receiver.config import ConfigError, Settings
from receiver.db import Database, DatabaseError

F = TypeVar("F", bound=Callable[..., Any])
EXPECTED_ERRORS = (
    ConfigError,
    DatabaseError,
    MigrationError,
    channels.ChannelError,
    EmbeddedError,
    dialog360.Dialog360Error,
    retention_module.RetentionError,
)
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


def fail(message: str) -> NoReturn:
    """Stop with a one-line error and exit status 1."""
    raise click.ClickException(message)


@contextmanager
def errors_as_messages() -> Iterator[None]:
    """Turn the project's expected errors into one-line CLI errors."""
    try:
        yield
    except EXPECTED_ERRORS as exc:
        fail(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


@contextmanager
def database() -> Iterator[Database]:
    """The database named by DATABASE_URL, for one command."""
    with errors_as_messages():
        settings = Settings.from_env()
        db = Database(
            settings.database_url, application_name="wabahook-cli", timeout=30, max_size=1
        )
        try:
            yield db
        finally:
            db.close()


def json_option(func: F) -> F:
    """`--json`: machine-readable output."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def emit_json(data: Any) -> None:
    """Print `data` as JSON on one line."""
    click.echo(json.dumps(data, default=_json_default, sort_keys=True))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="wabahook")
def main() -> None:
    """wabahook: a webhook receiver and event store for WhatsApp notifications.

    \b
    Configuration comes from the environment: DATABASE_URL, REDIS_URL,
    WABAHOOK_MAX_BODY_BYTES, WABAHOOK_TRUSTED_PROXY_HOPS, WABAHOOK_QUEUE,
    WABAHOOK_LOG_FORMAT. Start here:

    \b
      wabahook up                      # everything on this machine, for a first try
      wabahook migrate                 # create or update the schema
      wabahook channels add acme       # a webhook URL and credentials for one number
    """


@main.command("migrate")
@click.option(
    "--roles", is_flag=True, help="Also create the roles of sql/roles.sql (needs CREATEROLE)."
)
@json_option
def migrate_command(roles: bool, as_json: bool) -> None:
    """Create or update the database schema (safe to run at every release).

    Applies the pending files of sql/migrations in order, each in its own
    transaction, under an advisory lock; re-creates the views; prepares the
    raw-event partitions of the coming months.

    \b
    Example:
      DATABASE_URL=postgresql://wabahook@db/wabahook wabahook migrate --roles
    """
    with errors_as_messages():
        settings = Settings.from_env()
        applied = migrate(
            settings.database_url.reveal(),
            on_apply=None if as_json else lambda m: click.echo(f"applied {m.path.name}"),
            roles=roles,
        )
    if as_json:
        emit_json({"applied": [m.path.name for m in applied]})
    elif not applied:
        click.echo("the database is up to date")


@main.group("channels")
def channels_group() -> None:
    """Manage channels: one per phone number, each with its own URL and credentials."""


@channels_group.command("add")
@click.argument("name")
@click.option("--phone-number", help="The channel's phone number, for reference.")
@click.option(
    "--public-url",
    default=DEFAULT_PUBLIC_URL,
    show_default=True,
    help="Where 360dialog reaches this receiver (used in the printed curl line).",
)
@json_option
def channels_add(name: str, phone_number: str | None, public_url: str, as_json: bool) -> None:
    """Create channel NAME and print its credentials (shown only this once).

    NAME is 1-63 lowercase letters, digits and inner hyphens.

    \b
    Example:
      wabahook channels add acme-de --phone-number +4915112345678
    """
    with database() as db, errors_as_messages():
        issued = channels.add_channel(db, name, phone_number)
    _show_credential(issued, public_url, as_json, "created")


@channels_group.command("list")
@json_option
def channels_list(as_json: bool) -> None:
    """List channels with their state and number of valid credentials.

    \b
    Example:
      wabahook channels list --json
    """
    with database() as db, errors_as_messages():
        rows = channels.list_channels(db)
    if as_json:
        emit_json([dict(row) for row in rows])
        return
    if not rows:
        click.echo("no channels yet: wabahook channels add NAME")
        return
    click.echo(f"{'CHANNEL':<24} {'STATE':<9} {'CREDS':>5}  {'PHONE':<16} LAST RECEIVED")
    for row in rows:
        last = (
            row["last_received_at"].isoformat(timespec="seconds")
            if row["last_received_at"]
            else "-"
        )
        click.echo(
            f"{row['name']:<24} {'enabled' if row['enabled'] else 'disabled':<9} "
            f"{row['valid_credentials']:>5}  {row['phone_number'] or '-':<16} {last}"
        )


@channels_group.command("rotate")
@click.argument("name")
@click.option(
    "--expire-old", is_flag=True, help="Finish a rotation: end every credential but the newest."
)
@click.option(
    "--public-url",
    default=DEFAULT_PUBLIC_URL,
    show_default=True,
    help="Where 360dialog reaches this receiver (used in the printed curl line).",
)
@json_option
def channels_rotate(name: str, expire_old: bool, public_url: str, as_json: bool) -> None:
    """Rotate the credential of channel NAME in two steps, without downtime.

    First run issues a new credential while the old one stays valid; update
    the webhook headers at 360dialog, then run again with --expire-old.

    \b
    Example:
      wabahook channels rotate acme-de
      wabahook channels rotate acme-de --expire-old
    """
    with database() as db, errors_as_messages():
        if expire_old:
            ended = channels.expire_old(db, name)
            if as_json:
                emit_json({"channel": name, "expired": ended})
            else:
                click.echo(f"{name}: {ended} old credential(s) expired; the newest stays valid")
            return
        issued = channels.rotate(db, name)
    _show_credential(issued, public_url, as_json, "rotated")


@channels_group.command("disable")
@click.argument("name")
def channels_disable(name: str) -> None:
    """Refuse every delivery to channel NAME (401) until it is enabled again.

    \b
    Example:
      wabahook channels disable acme-de
    """
    with database() as db, errors_as_messages():
        channels.set_enabled(db, name, False)
    click.echo(f"{name}: disabled (receivers notice within a few seconds)")


@channels_group.command("enable")
@click.argument("name")
def channels_enable(name: str) -> None:
    """Accept deliveries to channel NAME again.

    \b
    Example:
      wabahook channels enable acme-de
    """
    with database() as db, errors_as_messages():
        channels.set_enabled(db, name, True)
    click.echo(f"{name}: enabled")


@channels_group.command("connect")
@click.argument("name")
@click.option(
    "--public-url",
    required=True,
    help="https:// address where 360dialog reaches this receiver (no port, no _).",
)
@click.option(
    "--api-key-file",
    type=click.File("r"),
    help="File holding the 360dialog API key [default: env D360_API_KEY].",
)
@click.option(
    "--base-url",
    default=dialog360.DEFAULT_BASE_URL,
    show_default=True,
    help="360dialog API base URL (On-Premise numbers: https://waba.360dialog.io).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 120),
    default=dialog360.TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds to wait for each 360dialog answer.",
)
@json_option
def channels_connect(
    name: str,
    public_url: str,
    api_key_file: TextIO | None,
    base_url: str,
    timeout: float,
    as_json: bool,
) -> None:
    """Register channel NAME's webhook with 360dialog and read its phone number back.

    Issues a new credential, sets it as the webhook's Basic auth header at
    360dialog, verifies the registration, stores the phone number, and only
    then ends the old credentials. The API key is read from D360_API_KEY or
    --api-key-file, never from the command line, and is never stored.

    \b
    Example:
      D360_API_KEY=... wabahook channels connect acme-de --public-url https://hooks.example.com
    """
    api_key = (api_key_file.read() if api_key_file else os.environ.get("D360_API_KEY", "")).strip()
    if not api_key:
        fail("no 360dialog API key: set D360_API_KEY or use --api-key-file")
    with database() as db, errors_as_messages():
        connected = dialog360.connect(
            db, name, public_url=public_url, api_key=api_key, base_url=base_url, timeout=timeout
        )
    if as_json:
        emit_json({"channel": connected.channel, "webhook_url": connected.webhook_url,
                   "phone_number": connected.phone_number})  # fmt: skip
        return
    click.echo(f"{name}: 360dialog now posts to {connected.webhook_url}")
    click.echo(f"{name}: phone number {connected.phone_number or 'not reported'}")


def _show_credential(
    issued: channels.IssuedCredential, public_url: str, as_json: bool, verb: str
) -> None:
    if as_json:
        emit_json(issued.as_json())
        return
    click.echo(f"channel {issued.channel} {verb}. The password is shown only now:")
    click.echo(f"  user:         {issued.username}")
    click.echo(f"  password:     {issued.password}")
    click.echo(f"  webhook path: {issued.webhook_path}")
    click.echo("Test it:")
    click.echo(f"  {issued.curl(public_url)}")


@main.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option("--name", help="Worker name shown by RQ (default: host and pid).")
@click.option("--quiet", is_flag=True, help="Log only warnings from RQ itself.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    envvar="WABAHOOK_METRICS_PORT",
    help="Serve Prometheus metrics on this port [env WABAHOOK_METRICS_PORT].",
)
@click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, help="Address for the metrics port."
)
def worker(
    burst: bool, name: str | None, quiet: bool, metrics_port: int | None, metrics_host: str
) -> None:
    """Run a worker that executes drain, sweep and maintenance jobs.

    Uses RQ's SimpleWorker: a drain is one long job that loops over batches,
    so forking a work horse per job would only cost a new database connection
    each time. Run as many workers as you like; they share the queue with
    FOR UPDATE SKIP LOCKED. SIGTERM finishes the current batch first.

    \b
    Example:
      DATABASE_URL=... REDIS_URL=... wabahook worker --metrics-port 9101
    """
    import redis
    from rq import SimpleWorker

    with errors_as_messages():
        settings = _settings_with_redis()
        logs.configure(settings.log_format)
        connection = jobs.redis_connection(settings)
        if metrics_port:
            from prometheus_client import start_http_server

            from processors.metrics import QueueCollector

            registry = jobs.worker_metrics().registry
            registry.register(QueueCollector(jobs.context()[1]))
            start_http_server(metrics_port, addr=metrics_host, registry=registry)
    log = logging.getLogger("wabahook.worker")
    while True:
        rq_worker = SimpleWorker(
            [settings.queue],
            connection=connection,
            # The queue name leads, so operators (and tests) can tell whose worker it is.
            name=name or f"{settings.queue}-{uuid.uuid4().hex[:12]}",
        )
        try:
            # No RQ scheduler process: drains retry at once; the cron sweep is the backoff.
            rq_worker.work(
                burst=burst, with_scheduler=False, logging_level="WARNING" if quiet else "INFO"
            )
            return  # burst done, or a shutdown was requested
        except redis.exceptions.ConnectionError as exc:
            # RQ gives up in some places when Redis goes away; a worker must not.
            log.warning("Redis unavailable, worker restarts in 2 s", extra={"error": str(exc)})
            time.sleep(2)
            connection = jobs.redis_connection(settings)


@main.command("cron")
@click.option("--quiet", is_flag=True, help="Log only warnings from RQ itself.")
def cron(quiet: bool) -> None:
    """Run the scheduler that enqueues the periodic jobs (RQ cron).

    \b
    Every few seconds: sweep (enqueue a drain for events that wait without
    one, retries that are due) and report the oldest queued event.
    Every hour: prepare the raw-event partitions of the coming months.
    One scheduler is enough; a second one only duplicates harmless sweeps.

    \b
    Example:
      DATABASE_URL=... REDIS_URL=... wabahook cron
    """
    import redis
    from rq.cron import CronScheduler

    with errors_as_messages():
        settings = _settings_with_redis()
        logs.configure(settings.log_format)
    log = logging.getLogger("wabahook.cron")
    while True:
        scheduler = CronScheduler(
            connection=jobs.redis_connection(settings),
            logging_level="WARNING" if quiet else "INFO",
        )
        scheduler.register(
            jobs.sweep, settings.queue, interval=jobs.SWEEP_SECONDS, result_ttl=60, ttl=30
        )
        scheduler.register(jobs.maintain_partitions, settings.queue, interval=3600, result_ttl=600)
        try:
            scheduler.start()  # type: ignore[no-untyped-call]
            return  # stopped by a signal
        except redis.exceptions.ConnectionError as exc:
            # RQ's scheduler gives up when Redis goes away; the sweep must not.
            log.warning("Redis unavailable, scheduler restarts in 2 s", extra={"error": str(exc)})
            time.sleep(2)


@main.command("drain")
@click.option(
    "--until-empty", is_flag=True, help="Keep going until no event is due (default: one batch)."
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=drain_module.BATCH_SIZE,
    show_default=True,
    help="Events per transaction.",
)
@json_option
def drain_command(until_empty: bool, batch_size: int, as_json: bool) -> None:
    """Process queued events now, in this process (no Redis needed).

    \b
    Example:
      wabahook drain --until-empty
    """
    with database() as db, errors_as_messages():
        stats = drain_module.DrainStats()
        if not until_empty:
            drain_module.drain_batch(db, stats, batch_size)
        else:
            due = jobs.queue_health(db)["queued"]
            with click.progressbar(
                length=due, label="draining", file=sys.stderr, hidden=as_json or due == 0
            ) as bar:
                seen = 0

                def advance(current: drain_module.DrainStats) -> None:
                    nonlocal seen
                    bar.update(current.events - seen)
                    seen = current.events

                drain_module.drain(db, batch_size=batch_size, on_batch=advance, stats=stats)
    if as_json:
        emit_json(stats.as_dict())
        return
    click.echo(
        f"processed {stats.processed}, rejected {stats.rejected}, failed {stats.failed} "
        f"({stats.messages} messages, {stats.statuses} statuses, {stats.errors} errors)"
    )


@main.command("sweep")
@json_option
def sweep_command(as_json: bool) -> None:
    """Report the queue's health and enqueue a drain if events wait without one.

    \b
    Example:
      wabahook sweep --json
    """
    with errors_as_messages():
        settings = Settings.from_env()
        health = jobs.sweep_once(settings)
    if as_json:
        emit_json(health)
        return
    oldest = health["oldest_queued_seconds"]
    waiting = f" (oldest {oldest:.1f} s)" if oldest is not None else ""
    click.echo(
        f"queued {health['queued'] - health['failed']}{waiting}, "
        f"failed {health['failed']} ({health['retries_due']} due for a retry)"
    )
    if "drain_enqueued" in health:
        click.echo("drain enqueued" if health["drain_enqueued"] else "a drain is already waiting")


@main.group("failed")
def failed_group() -> None:
    """Inspect and retry events whose processing failed."""


@failed_group.command("list")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@json_option
def failed_list(limit: int, as_json: bool) -> None:
    """List failed events with their error and attempts.

    \b
    Example:
      wabahook failed list --json
    """
    with database() as db, errors_as_messages():
        rows = db.fetch_all("failed_events", {"limit": limit})
    if as_json:
        emit_json([dict(row) for row in rows])
        return
    if not rows:
        click.echo("no failed events")
        return
    for row in rows:
        click.echo(
            f"{row['raw_event_id']:>10}  {row['channel']:<20} attempts {row['attempts']:<3} "
            f"{row['last_error']}"
        )


@failed_group.command("show")
@click.argument("event_id", type=click.IntRange(1))
@json_option
def failed_show(event_id: int, as_json: bool) -> None:
    """Show one failed event: error, attempts, next attempt and its stored body.

    \b
    Example:
      wabahook failed show 1234
    """
    with database() as db, errors_as_messages():
        row = db.fetch_one("failed_event", {"id": event_id})
    if row is None:
        fail(f"no failed event {event_id}")
    body = bytes(row.pop("body") or b"")
    if as_json:
        emit_json({**dict(row), "body": body.decode("utf-8", "replace")})
        return
    for key in ("raw_event_id", "channel", "received_at", "attempts", "last_error", "not_before"):
        click.echo(f"{key:>13}: {row[key]}")
    click.echo(f"{'body':>13}: {body[:2000].decode('utf-8', 'replace')}")


@failed_group.command("retry")
@click.argument("event_ids", nargs=-1, type=click.IntRange(1))
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed event.")
def failed_retry(event_ids: tuple[int, ...], retry_all: bool) -> None:
    """Make failed events due now and nudge a drain.

    \b
    Example:
      wabahook failed retry 1234 1235
      wabahook failed retry --all
    """
    if not event_ids and not retry_all:
        fail("name event ids or use --all")
    with database() as db, errors_as_messages():
        rows = db.fetch_all("retry_failed", {"all": retry_all, "ids": list(event_ids)})
        settings = Settings.from_env()
        nudged = settings.redis_url is not None and rows and jobs.enqueue(settings)
    click.echo(f"{len(rows)} event(s) due for a retry" + (", drain enqueued" if nudged else ""))


def _settings_with_redis() -> Settings:
    settings = Settings.from_env()
    if settings.redis_url is None:
        raise ConfigError("REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
    return settings


@main.command("replay")
@selection_options
@click.option("--failed", is_flag=True, help="Shortcut for --state failed.")
@click.option(
    "--dry-run", is_flag=True, help="Only say how many events of which channel and state."
)
@click.option("--wait", is_flag=True, help="Drain them here, with a progress bar, until done.")
@json_option
def replay_command(
    channels: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    ids: tuple[int, ...] | None,
    states: tuple[str, ...],
    failed: bool,
    dry_run: bool,
    wait: bool,
    as_json: bool,
) -> None:
    """Queue stored events again, e.g. after a parser fix or an outage.

    Projections converge to the same state however often an event is replayed:
    facts are deduplicated by their logical keys. Events that were rejected or
    failed become projections once the code handles them.

    \b
    Examples:
      wabahook replay --state rejected --state failed --dry-run
      wabahook replay --channel acme --since 2026-11-01 --until 2026-11-02 --wait
      wabahook replay --ids 1200-1300
    """
    selection = build_selection(
        channels, since, until, ids, states + (("failed",) if failed else ())
    )
    with database() as db, errors_as_messages():
        if dry_run:
            planned = replay_module.plan(db, selection)
            if as_json:
                groups = [
                    {"channel": channel, "state": state, "events": events}
                    for (channel, state), events in planned.counts.items()
                ]
                emit_json({"events": planned.total, "by_channel_and_state": groups})
                return
            for (channel, state), events in planned.counts.items():
                click.echo(f"{channel:<24} {state:<10} {events:>10}")
            click.echo(f"{planned.total} event(s) would be replayed")
            return
        marker, queued = replay_module.replay(db, selection)
        settings = Settings.from_env()
        if queued and settings.redis_url is not None and not wait:
            jobs.enqueue(settings)
        if wait and queued:
            _wait_for_replay(db, marker, queued, quiet=as_json)
        left, failures = replay_module.remaining(db, marker)
    if as_json:
        emit_json({"replay": marker, "queued": queued, "waiting": left, "failed": failures})
        return
    click.echo(f"{queued} event(s) queued again (replay {marker})")
    if wait:
        click.echo(f"done: {queued - left - failures} processed, {failures} failed")


def _wait_for_replay(db: Database, marker: str, queued: int, quiet: bool) -> None:
    """Drain in this process (workers may help) until the replay's events are out."""
    with click.progressbar(length=queued, label="replaying", file=sys.stderr, hidden=quiet) as bar:
        done = 0
        while True:
            left, failures = replay_module.remaining(db, marker)
            bar.update(queued - left - failures - done)
            done = queued - left - failures
            if left == 0:
                return
            if drain_module.drain_batch(db, drain_module.DrainStats()) == 0:
                time.sleep(0.2)  # another worker holds them


@main.command("rebuild")
@click.option("--dry-run", is_flag=True, help="Only estimate the work.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=drain_module.BATCH_SIZE,
    show_default=True,
    help="Events per transaction.",
)
@json_option
def rebuild_command(dry_run: bool, batch_size: int, as_json: bool) -> None:
    """Rebuild every projection from the stored raw events, without downtime.

    The new tables are built aside while intake and workers keep running and
    analysts keep reading the old ones; events that arrive meanwhile are caught
    up, then the new tables replace the old in one transaction.

    \b
    Example:
      wabahook rebuild --dry-run
      wabahook rebuild
    """
    with database() as db, errors_as_messages():
        work = rebuild_module.estimate(db)
        if dry_run:
            if as_json:
                emit_json(work)
            else:
                click.echo(
                    f"{work['events']} raw events ({work['bytes'] / 1_048_576:.1f} MiB) would be"
                    " projected again"
                )
            return
        with click.progressbar(
            length=work["events"],
            label="rebuilding",
            file=sys.stderr,
            hidden=as_json or not work["events"],
        ) as bar:
            seen = 0

            def advance(current: rebuild_module.RebuildStats) -> None:
                nonlocal seen
                bar.update(current.events - seen)
                seen = current.events

            stats = rebuild_module.rebuild(db, batch_size=batch_size, on_progress=advance)
    result = {"events": stats.events, "processed": stats.processed, "rejected": stats.rejected,
              "failed": stats.failed, "caught_up": stats.caught_up}  # fmt: skip
    if as_json:
        emit_json(result)
        return
    click.echo(
        f"rebuilt from {stats.events} events: {stats.processed} processed, {stats.rejected}"
        f" rejected, {stats.failed} failed ({stats.caught_up} arrived during the rebuild)"
    )


@main.command("forward")
@click.option("--to", "destination", required=True, help="The http(s) URL to post each body to.")
@selection_options
@click.option(
    "--header",
    "header_lines",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="An extra request header (repeatable).",
)
@click.option(
    "--header-file",
    type=click.File("r"),
    help="Extra headers, one 'Name: value' per line (keeps secrets off the command line).",
)
@click.option(
    "--rate",
    type=click.FloatRange(0.01),
    default=10.0,
    show_default=True,
    help="Requests per second at most.",
)
@click.option("--again", is_flag=True, help="Send events this destination already acknowledged.")
@click.option("--max-attempts", type=click.IntRange(1, 20), default=5, show_default=True)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 300),
    default=10.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@json_option
def forward_command(
    destination: str,
    channels: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    ids: tuple[int, ...] | None,
    states: tuple[str, ...],
    header_lines: tuple[str, ...],
    header_file: TextIO | None,
    rate: float,
    again: bool,
    max_attempts: int,
    timeout: float,
    as_json: bool,
) -> None:
    """Re-deliver stored bodies, byte for byte, to another endpoint.

    Each event is posted with its exact stored bytes and original Content-Type
    (plus X-Wabahook-Event-Id). Timeouts, connection errors, 429 and 5xx are
    retried with backoff. What the destination acknowledged is remembered: a
    second run continues where the first stopped.

    \b
    Example:
      wabahook forward --to https://staging.example.com/hook --channel acme \
        --since 2026-11-23 --until 2026-11-24 --header-file auth-headers.txt --rate 20
    """
    if urlsplit(destination).scheme not in ("http", "https"):
        fail(f"--to must be an http:// or https:// URL, not {destination!r}")
    lines = [*header_lines, *(header_file.read().splitlines() if header_file else [])]
    headers = {}
    for line in filter(str.strip, lines):
        key, colon, value = line.partition(":")
        if not colon or not key.strip():
            fail(f"a header must look like 'Name: value', not {line.strip()[:40]!r}")
        headers[key.strip()] = value.strip()
    selection = build_selection(channels, since, until, ids, states)
    with database() as db, errors_as_messages():
        total = forward_module.pending_count(db, selection, destination, again)
        with click.progressbar(
            length=total, label="forwarding", file=sys.stderr, hidden=as_json or not total
        ) as bar:
            results = forward_module.forward(
                db, selection, destination, headers=headers, rate=rate, again=again,
                max_attempts=max_attempts, timeout=timeout, on_result=lambda _: bar.update(1),
            )  # fmt: skip
    delivered = sum(r.outcome == "delivered" for r in results)
    failed = [r for r in results if r.outcome == "failed"]
    if as_json:
        emit_json({"destination": destination, "delivered": delivered, "failed": len(failed),
                   "results": [r.as_dict() for r in results]})  # fmt: skip
    else:
        for result in failed:
            click.echo(f"{result.raw_event_id:>10}  failed after {result.attempts}: {result.error}")
        click.echo(f"{delivered} delivered, {len(failed)} failed, to {destination}")
    if failed:
        sys.exit(1)


@main.command("stats")
@click.option("--channel", help="Only this channel.")
@click.option(
    "--days",
    type=click.IntRange(1, 3660),
    default=7,
    show_default=True,
    help="How many days back (UTC), today included.",
)
@json_option
def stats_command(channel: str | None, days: int, as_json: bool) -> None:
    """Show the delivery funnel, latency, top failures and intake health.

    \b
    Example:
      wabahook stats --days 30 --channel acme-de
    """
    with database() as db, errors_as_messages():
        summary = analytics.summarize(db, days, channel)
    if as_json:
        emit_json(summary.as_json())
        return
    totals = summary.totals
    scope = f"channel {channel}" if channel else "all channels"
    click.echo(f"last {days} day(s), {scope}")
    click.echo("")
    click.echo(f"{'DAY':<12}{'SENT':>9}{'DELIVERED':>11}{'READ':>9}{'FAILED':>8}"
               f"{'DELIV %':>9}{'READ %':>8}")  # fmt: skip
    for row in summary.funnel:
        click.echo(
            f"{row['day'].isoformat():<12}{row['sent']:>9}{row['delivered']:>11}{row['read']:>9}"
            f"{row['failed']:>8}{_percent(row['delivered_rate']):>9}{_percent(row['read_rate']):>8}"
        )
    click.echo(
        f"{'total':<12}{totals['sent']:>9}{totals['delivered']:>11}{totals['read']:>9}"
        f"{totals['failed']:>8}{_percent(totals['delivered_rate']):>9}"
        f"{_percent(totals['read_rate']):>8}"
    )
    latency = summary.latency
    click.echo("")
    click.echo(
        "latency  sent→delivered p50 "
        f"{_seconds(latency.get('p50_sent_to_delivered_seconds'))}, p90 "
        f"{_seconds(latency.get('p90_sent_to_delivered_seconds'))}   delivered→read p50 "
        f"{_seconds(latency.get('p50_delivered_to_read_seconds'))}, p90 "
        f"{_seconds(latency.get('p90_delivered_to_read_seconds'))}"
    )
    click.echo("")
    click.echo("top failures" if summary.failures else "no failures")
    for row in summary.failures:
        click.echo(f"  {row['messages']:>8}  {row['error_code']}  {row['error_title'] or ''}")
    queue = summary.queue
    oldest = queue["oldest_queued_seconds"]
    click.echo("")
    click.echo(
        f"intake   {totals['requests']} deliveries,"
        f" {totals['duplicate_deliveries']} sender retries,"
        f" {totals['rejected']} rejected, {queue['failed']} failed, "
        f"{queue['queued'] - queue['failed']} queued"
        + (f" (oldest {oldest:.0f} s)" if oldest is not None else "")
    )


@main.command("report")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write.",
)
@click.option("--channel", help="Only this channel.")
@click.option(
    "--days",
    type=click.IntRange(1, 3660),
    default=30,
    show_default=True,
    help="How many days back (UTC), today included.",
)
def report_command(out: Path, channel: str | None, days: int) -> None:
    """Write one self-contained HTML report with charts (opens without network).

    \b
    Charts: the daily funnel, the delivery and read latency distributions,
    failures by error code, intake volume with sender retries.

    \b
    Example:
      wabahook report --out report.html --days 30
    """
    from processors import report

    with database() as db, errors_as_messages():
        summary = analytics.summarize(db, days, channel)
        latencies = analytics.latency_samples(db, days, channel)
    out.write_text(report.render(summary, latencies), encoding="utf-8")
    click.echo(f"wrote {out} ({out.stat().st_size / 1_048_576:.1f} MiB)")


def _percent(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1%}"


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}s"


@main.command("retention")
@click.option(
    "--older-than",
    "age",
    type=Duration(),
    required=True,
    help="Drop months whose every event is older than this age (90d, 12w).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be dropped.")
@click.option("--force", is_flag=True, help="Drop months that still hold queued events too.")
@json_option
def retention_command(age: timedelta, dry_run: bool, force: bool, as_json: bool) -> None:
    """Drop whole months of stored raw events (monthly partitions).

    Projections, deduplication keys and processing results are kept, so a
    sender retry of an old notification still adds nothing. Months that hold
    queued events are refused unless --force.

    \b
    Example:
      wabahook retention --older-than 90d --dry-run
    """
    cutoff = datetime.now(UTC) - age
    with database() as db, errors_as_messages():
        months = retention_module.expired(db, cutoff)
        if not dry_run:
            retention_module.drop(db, months, force=force)
    if as_json:
        emit_json({"dropped": not dry_run, "months": [
            {"partition": m.name, "from": m.lower_bound, "until": m.upper_bound,
             "events": m.events, "queued": m.queued} for m in months
        ]})  # fmt: skip
        return
    verb = "would drop" if dry_run else "dropped"
    for month in months:
        click.echo(f"{verb} {month.name}: {month.events} events ({month.queued} queued)")
    if not months:
        click.echo(f"no month is entirely older than {cutoff:%Y-%m-%d %H:%M} UTC")


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


if __name__ == "__main__":
    main()
