"""The long-running commands on Redis: worker (runs the jobs) and cron (enqueues them)."""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
import uuid

import click

import processors.cli.common as cli
from processors import jobs
from processors.cli.supervision import supervised
from processors.metrics import keep_values_in_process
from receiver import logs
from receiver.config import Settings, shown
from receiver.nudge import DRAIN_SLOTS, enqueue_drain, job_queue

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

    The RQ loop runs in a child process, watched by this one: an event whose parsing
    takes longer than WABAHOOK_BATCH_DEADLINE seconds (default 10) is rejected
    ("processing deadline exceeded"), the child restarted, the rest drained.

    \b
    Example:
      DATABASE_URL=... REDIS_URL=... wabahook worker --metrics-port 9101
    """
    settings = _settings_with_redis()
    with cli.errors_as_messages():
        logs.configure(settings.log_format)
    # The queue name leads, so operators (and tests) can tell whose worker it is.
    worker_name = name or f"{settings.queue}-{uuid.uuid4().hex[:12]}"

    # The drain runs in a child under the batch deadline (processors.pipeline.deadline).
    code = supervised(
        settings,
        lambda: _work(settings, worker_name, burst, quiet, metrics_port, metrics_host),
        tidy=lambda: _forget_killed_worker(settings, worker_name),
    )
    sys.exit(code)


def _work(
    settings: Settings,
    name: str,
    burst: bool,
    quiet: bool,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """The worker's RQ loop, in the supervised child: restarted on trouble until stopped."""
    import redis

    from processors.local.discovery import process_alive
    from processors.safe_jobs import GuardedWorker, forget_dead_namesake

    with cli.errors_as_messages():
        connection = jobs.redis_connection(settings)
    keep_values_in_process()  # before any metric exists
    if metrics_port:
        _serve_metrics(metrics_port, metrics_host)
    log = logging.getLogger("wabahook.worker")
    stop = threading.Event()
    rq_worker: GuardedWorker | None = None
    while True:
        # Between RQ's loops a stop request lands here (RQ's handlers belong to its loop):
        # also while Redis is away and every attempt to reach it takes its time.
        _catch_stop(stop)
        if stop.is_set():
            return
        try:
            # A worker of this name whose process is gone (a child the batch deadline
            # killed while Redis was away) would make RQ refuse the name.
            forget_dead_namesake(connection, name, alive=process_alive)
            # Only wabahook's own jobs, read as JSON and checked before they are logged or
            # run. RQ asks Redis for its address here already: inside the try, so that a
            # Redis still down on a restart is waited for too.
            rq_worker = GuardedWorker([settings.queue], connection=connection, name=name)
            # No RQ scheduler process: drains retry at once; the cron sweep is the backoff.
            rq_worker.work(
                burst=burst, with_scheduler=False, logging_level="WARNING" if quiet else "INFO"
            )
        except redis.exceptions.ConnectionError as exc:
            if rq_worker is not None and rq_worker.stop_requested:
                return  # asked to stop, and Redis went away while RQ wound up (say, with up)
            # RQ gives up in some places when Redis goes away; a worker must not.
            _catch_stop(stop)
            log.warning("Redis unavailable, worker restarts in 2 s", extra={"error": str(exc)})
            if stop.wait(2):
                return
            connection = jobs.redis_connection(settings)
            continue
        if burst or rq_worker.stop_requested:
            return  # burst done, or a shutdown was requested
        # RQ quits its loop on an error of its own (and logs it): a worker must go on.
        _catch_stop(stop)
        log.error("the RQ worker loop ended on an error, restarting in 2 s")
        if stop.wait(2):
            return


def _forget_killed_worker(settings: Settings, name: str) -> None:
    """After the child was killed: end RQ's record of it and of the drain it ran (so the
    next child may take the name, and the drain's slot is free), and enqueue a drain for
    the events its batches held. Best effort: the next child and the sweep do it too."""
    import redis

    from processors.safe_jobs import forget_dead_namesake

    log = logging.getLogger("wabahook.worker")
    assert settings.redis_url is not None
    # Bounded: while this runs, no child drains.
    connection = redis.Redis.from_url(
        settings.redis_url.reveal(), socket_timeout=5, socket_connect_timeout=5
    )
    try:
        forget_dead_namesake(connection, name, alive=lambda pid: False)
        queue = job_queue(settings.queue, connection)
        any(enqueue_drain(queue, slot) for slot in range(DRAIN_SLOTS))
    except redis.exceptions.RedisError as exc:
        log.warning("could not tidy up after the killed worker", extra={"error": str(exc)})
    finally:
        connection.close()


@cli.main.command("cron")
@click.option("--quiet", is_flag=True, help="Log only warnings from RQ itself.")
def cron(quiet: bool) -> None:
    """Run the scheduler that enqueues the periodic jobs (RQ cron).

    \b
    Every few seconds: sweep (enqueue a drain for events that wait without
    one, retries that are due) and report the oldest queued event.
    Every hour: prepare the raw-event partitions of the coming months, and
    delete the stored bodies past each channel's own retention (channels set
    NAME --retention).
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
    stop = threading.Event()
    while True:
        _catch_stop(stop)  # between RQ's loops a stop request lands here
        if stop.is_set():
            return
        # RQ's scheduler, enqueuing its jobs as JSON, the only format workers take.
        scheduler = JsonCronScheduler(
            connection=jobs.redis_connection(settings),
            logging_level="WARNING" if quiet else "INFO",
        )
        scheduler.register(
            jobs.sweep, settings.queue, interval=jobs.SWEEP_SECONDS, result_ttl=60, ttl=30
        )
        scheduler.register(jobs.maintain_partitions, settings.queue, interval=3600, result_ttl=600)
        scheduler.register(
            jobs.apply_retention, settings.queue, interval=3600, result_ttl=600,
            job_timeout=jobs.RETENTION_SECONDS * 2,
        )  # fmt: skip
        try:
            scheduler.start()  # type: ignore[no-untyped-call]
            return  # stopped by a signal
        except redis.exceptions.ConnectionError as exc:
            if scheduler.stop_requested:
                return  # asked to stop, and Redis went away while RQ wound up
            # RQ's scheduler gives up when Redis goes away; the sweep must not.
            _catch_stop(stop)
            log.warning("Redis unavailable, scheduler restarts in 2 s", extra={"error": str(exc)})
            if stop.wait(2):
                return


def _catch_stop(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set `stop` from now on (until RQ's loop installs its own)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())


def _settings_with_redis() -> Settings:
    """Settings with a REDIS_URL and a database that answered (else a one-line error)."""
    if cli.command_settings().redis_url is None:
        cli.fail("REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
    return cli.database_settings()  # the jobs need it: say so now, not per job


def _serve_metrics(port: int, host: str) -> None:
    """Serve this worker's Prometheus metrics on host:port, or stop with one line."""
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=host, registry=jobs.scraped_registry())
    except OSError as exc:
        cli.fail(f"cannot serve metrics on {shown(host)} port {port}: {exc.strerror or exc}")
