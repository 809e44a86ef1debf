"""gunicorn settings for the receiver (`gunicorn -c python:receiver.gunicorn_conf`)."""

import multiprocessing
import os

from receiver.exposure import DEFAULT_BIND

bind = os.environ.get("WABAHOOK_BIND", DEFAULT_BIND)
# Sync workers: one short request at a time each, the load balancer buffers slow
# clients. Each worker opens its own PostgreSQL pool after the fork.
# WABAHOOK_THREADS above 1: gthread workers, whose request threads hand their rows to
# one writer per process that commits them in groups (receiver.group_commit).
threads = max(1, int(os.environ.get("WABAHOOK_THREADS", "1")))
worker_class = "gthread" if threads > 1 else "sync"
workers = int(os.environ.get("WABAHOOK_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# A worker silent this long is replaced: 360dialog gives up after 5 s anyway, and the
# intake's own deadline (WABAHOOK_DB_TIMEOUT) answers 503 well before.
timeout = 5
# SIGTERM: stop accepting, finish in-flight requests for up to this long.
graceful_timeout = 10
keepalive = 2
# Request line and headers: generous for webhooks, bounded against abuse.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
max_requests = 10_000
max_requests_jitter = 1_000
# One log line per request: the app's own (request id, channel, status, duration,
# event id) on stderr with the other logs. gunicorn's JSON access line would be a
# second one for the same request; WABAHOOK_ACCESS_LOG=- turns it on (on stdout).
accesslog = os.environ.get("WABAHOOK_ACCESS_LOG") or None
logger_class = "receiver.gunicorn_logging.JsonAccessLogger"
errorlog = "-"
# gunicorn >= 27 opens a control socket in $HOME by default; several receivers on
# one host (or a read-only home) would trip over it, and nothing here uses it.
control_socket_disable = True


def when_ready(server: object) -> None:
    """With WABAHOOK_INTAKE_WRITER=process: start the host's writer before the workers."""
    from receiver.config import Settings
    from receiver.writer import Supervisor

    if Settings.from_env().intake_writer:
        try:
            supervisor = Supervisor(server.log.error)  # type: ignore[attr-defined]
            supervisor.start()
        except OSError as exc:  # no folder for its socket (a read-only /tmp...)
            # Intake goes on without it: each worker commits its own deliveries.
            server.log.error("intake writer not started (%s): workers commit themselves", exc)  # type: ignore[attr-defined]
            return
        server.wabahook_writer = supervisor  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    """Stop the writer once the workers are gone."""
    supervisor = getattr(server, "wabahook_writer", None)
    if supervisor is not None:
        supervisor.stop()


def child_exit(server: object, worker: object) -> None:
    """Let Prometheus' multiprocess mode forget a worker that exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]


def on_starting(server: object) -> None:
    """Refuse a public bind without a proxy, or a secret key that cannot open the meta
    channels' secrets; start with an empty multiprocess metrics folder."""
    from receiver.config import ConfigError, Settings, behind_proxy_from_env
    from receiver.exposure import ExposureError, check_binds
    from receiver.sealing import stored_key_problem

    # The same rule as `wabahook serve`, for gunicorn started with this file directly.
    try:
        check_binds(server.cfg.bind, behind_proxy=behind_proxy_from_env())  # type: ignore[attr-defined]
        # Said once, here, rather than as a 503 to every signed delivery.
        problem = stored_key_problem(Settings.from_env())
    except (ConfigError, ExposureError) as exc:
        server.log.error("%s", exc)  # type: ignore[attr-defined]
        raise SystemExit(2) from None
    if problem:
        server.log.error("%s", problem)  # type: ignore[attr-defined]
        raise SystemExit(2)
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))
