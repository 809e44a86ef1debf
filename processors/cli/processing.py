"""Commands that process the queue: worker, cron, drain, sweep."""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
import uuid

import click

import processors.cli.common as cli
from processors import jobs
from processors.channels import shown
from processors.metrics import keep_values_in_process
from processors.pipeline import drain as drain_module
from processors.pipeline.projections import REGISTRY
from processors.pipeline.queue_health import queue_health
from receiver import logs
from receiver.config import Settings

# RQ keeps a worker under its name in Redis keys and CLIENT SETNAME, which refuses blanks.
WORKER_NAME = re.compile(r"[A-Za-z0-9._:@-]{1,100}")


def worker_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--name: letters, digits and . _ : @ - only (a host name fits)."""
    if value is not None and not WORKER_NAME.fullmatch(value):
        raise click.BadParameter(
            f"{shown(value)} is not a worker name: use 1-100 letters, digits and . _ : @ -"
        )
    return value


@cli.main.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option(
    "--name",
    callback=worker_name,
    help="Worker name shown by RQ: letters, digits and . _ : @ - (default: queue and random).",
)
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

    from processors.safe_jobs import GuardedWorker

    settings = _settings_with_redis()
    with cli.errors_as_messages():
        logs.configure(settings.log_format)
        connection = jobs.redis_connection(settings)
    keep_values_in_process()  # before any metric exists
    if metrics_port:
        _serve_metrics(metrics_port, metrics_host)
    log = logging.getLogger("wabahook.worker")
    while True:
        # Only wabahook's own jobs, read as JSON and checked before they are logged or run.
        rq_worker = GuardedWorker(
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
        except redis.exceptions.ConnectionError as exc:
            # RQ gives up in some places when Redis goes away; a worker must not.
            log.warning("Redis unavailable, worker restarts in 2 s", extra={"error": str(exc)})
            if _stopped_while_waiting(2):
                return
            connection = jobs.redis_connection(settings)
            continue
        if burst or rq_worker.stop_requested:
            return  # burst done, or a shutdown was requested
        # RQ quits its loop on an error of its own (and logs it): a worker must go on.
        log.error("the RQ worker loop ended on an error, restarting in 2 s")
        if _stopped_while_waiting(2):
            return


@cli.main.command("cron")
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

    from processors.safe_jobs import JsonCronScheduler

    settings = _settings_with_redis()
    with cli.errors_as_messages():
        logs.configure(settings.log_format)
    log = logging.getLogger("wabahook.cron")
    while True:
        # RQ's scheduler, enqueuing its jobs as JSON, the only format workers take.
        scheduler = JsonCronScheduler(
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


@cli.main.command("drain")
@click.option(
    "--until-empty", is_flag=True, help="Keep going until no event is due (default: one batch)."
)
@cli.batch_size_option
@cli.json_option
def drain_command(until_empty: bool, batch_size: int, as_json: bool) -> None:
    """Process queued events now, in this process (no Redis needed).

    \b
    Example:
      wabahook drain --until-empty
    """
    with cli.database() as db, cli.errors_as_messages():
        if not until_empty:
            stats = drain_module.drain_batch(db, batch_size)
        else:
            due = queue_health(db)["queued"]
            with cli.progress(due, "draining", quiet=as_json) as reach:
                seen = 0

                def advance(result: drain_module.DrainResult) -> None:
                    nonlocal seen
                    seen += result.events
                    reach(seen)

                stats = drain_module.drain(db, batch_size=batch_size, on_batch=advance)
    if as_json:
        cli.emit_json(stats.as_dict())
        return
    items = ", ".join(f"{stats.items.get(p.name, 0)} {p.name}" for p in REGISTRY)
    click.echo(
        f"processed {stats.processed}, rejected {stats.rejected}, failed {stats.failed} ({items})"
    )


@cli.main.command("sweep")
@cli.json_option
def sweep_command(as_json: bool) -> None:
    """Report the queue's health and enqueue a drain if events wait without one.

    \b
    Example:
      wabahook sweep --json
    """
    settings = cli.database_settings()
    with cli.errors_as_messages():
        health = jobs.sweep_once(settings)
    if as_json:
        cli.emit_json(health)
        return
    oldest = health["oldest_queued_seconds"]
    waiting = f" (oldest {oldest:.1f} s)" if oldest is not None else ""
    click.echo(
        f"queued {health['queued'] - health['failed']}{waiting}, "
        f"failed {health['failed']} ({health['retries_due']} due for a retry)"
    )
    if "drain_enqueued" in health:
        click.echo("drain enqueued" if health["drain_enqueued"] else "a drain is already waiting")


def _stopped_while_waiting(seconds: float) -> bool:
    """Wait between two RQ loops; True if SIGTERM or SIGINT came meanwhile.

    RQ's own signal handlers belong to the loop that ended: without these, a stop
    requested now would reach nobody and the worker would run on.
    """
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop.wait(seconds)


def _settings_with_redis() -> Settings:
    """Settings with a REDIS_URL and a database that answered (else a one-line error)."""
    if cli.command_settings().redis_url is None:
        cli.fail("REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
    return cli.database_settings()  # the jobs need it: say so now, not per job


def _serve_metrics(port: int, host: str) -> None:
    """Serve this worker's Prometheus metrics on host:port, or stop with one line."""
    from prometheus_client import start_http_server

    from processors.metrics import OperationsCollector, QueueCollector

    registry = jobs.worker_metrics().registry
    registry.register(QueueCollector(jobs.context()[1]))
    registry.register(OperationsCollector(jobs.context()[1]))
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        cli.fail(f"cannot serve metrics on {shown(host)} port {port}: {exc.strerror or exc}")
