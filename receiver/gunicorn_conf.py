"""gunicorn settings for the receiver (`gunicorn -c python:receiver.gunicorn_conf`)."""

import multiprocessing
import os
import socket
import time
from typing import Any

from receiver.exposure import DEFAULT_BIND

bind = os.environ.get("WABAHOOK_BIND", DEFAULT_BIND)
# Sync workers: one short request at a time each, the load balancer buffers slow
# clients. Each worker opens its own PostgreSQL pool after the fork, and each request
# commits its own row: PostgreSQL groups concurrent commits itself, and the in-app
# alternatives measured no better (docs/design/intake-commit.md).
worker_class = "sync"
workers = int(os.environ.get("WABAHOOK_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# A worker silent this long is replaced: 360dialog gives up after 5 s anyway, and the
# intake's own deadline (WABAHOOK_DB_TIMEOUT) answers 503 well before.
timeout = 5
# A request's body must have arrived this long after the app is handed the request, or
# it is answered 408 (pre_request below). Without a bound a stalled body meets the
# `timeout` above: the worker is aborted mid-read (a 500, a new worker). 3 s, counting
# the credential lookup before the read, leaves the store's database deadline
# (WABAHOOK_DB_TIMEOUT, 1.5 s) room inside the 5 s.
BODY_DEADLINE_SECONDS = 3.0
# SIGTERM: stop accepting, finish in-flight requests for up to this long.
graceful_timeout = 10
keepalive = 2
# Request line and headers: generous for webhooks, bounded against abuse.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
max_requests = 10_000
max_requests_jitter = 1_000
# One log line per request, the app's own (request id, channel, status, duration, event
# id), on stderr with the other logs: gunicorn's access line would say it a second time.
accesslog = None
errorlog = "-"
# gunicorn >= 27 opens a control socket in $HOME by default; several receivers on
# one host (or a read-only home) would trip over it, and nothing here uses it.
control_socket_disable = True


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


def pre_request(worker: object, req: Any) -> None:
    """Bound the time the app can wait for this request's body (BODY_DEADLINE_SECONDS)."""
    # The parser's unreader recv()s the body from `sock`, the connection itself: a plain
    # HTTP/1 request only (HTTP/2 streams are fed otherwise and keep gunicorn's bounds).
    unreader: Any = getattr(req, "unreader", None)
    sock = getattr(unreader, "sock", None)
    if isinstance(sock, socket.socket):
        unreader.sock = _DeadlineSocket(sock, req, time.monotonic() + BODY_DEADLINE_SECONDS)


def post_request(worker: object, req: Any, environ: object, resp: object) -> None:
    """Give gunicorn its connection back as it was, for its own reads (keep-alive)."""
    unreader: Any = getattr(req, "unreader", None)
    bounded = getattr(unreader, "sock", None)
    if isinstance(bounded, _DeadlineSocket):
        unreader.sock = bounded.restored()


class _DeadlineSocket:
    """The connection as gunicorn's body reader sees it during a request: every recv()
    waits at most until the body's deadline, then raises TimeoutError (answered 408).

    A fixed timeout per recv() would not bound the body: gunicorn's readers loop over
    recv() until they hold what was asked for, so a sender trickling a byte a second
    would hold the worker for as long as it likes. A timeout recomputed before each
    recv() bounds the whole read, with no signal to catch. A watchdog shutting the socket
    down at the deadline would need a thread and race the answer; here nothing happens
    unless the app waits for bytes still to come.
    """

    __slots__ = ("_deadline", "_prior", "_req", "_sock", "_touched")

    def __init__(self, sock: socket.socket, req: Any, deadline: float) -> None:
        self._sock = sock
        self._req = req
        self._deadline = deadline
        self._prior = sock.gettimeout()
        self._touched = False

    def recv(self, size: int) -> bytes:
        """One recv(), given what is left of the deadline."""
        left = self._deadline - time.monotonic()
        self._touched = True
        # Past the deadline, bytes that have already arrived are still taken (no wait).
        self._sock.settimeout(max(left, 0.0))
        try:
            return self._sock.recv(size)
        except (TimeoutError, BlockingIOError):
            pass
        # The rest of the body may still come: the connection cannot carry another
        # request. gunicorn drops the app's own Connection header; this one it heeds.
        self._req.force_close()
        raise TimeoutError("request body not received before its deadline")

    def restored(self) -> socket.socket:
        """The connection, with the timeout it had before the request."""
        if self._touched:  # settimeout is a system call: skipped when no recv() was needed
            self._sock.settimeout(self._prior)
        return self._sock
