"""Around every request: its id, its one log line and metrics, and uniform error answers."""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from receiver.db import DatabaseError, DatabaseUnavailable
from receiver.logs import ACCESS_LOGGER, write_access_line
from receiver.sealing import SecretsUnavailable
from receiver.state import state

log = logging.getLogger(ACCESS_LOGGER)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
RETRY_AFTER_SECONDS = "5"
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# One answer for every reason: 401 for a wrong password, an unknown or disabled
# channel...; 403, the handshake's one refusal, for an unknown, disabled or Basic
# channel, a wrong token...
FIXED_ANSWERS = {401: "unauthorized", 403: "forbidden", 413: "body too large"}


@dataclass(slots=True)
class _Facts:
    """What the request's log line and metrics say, gathered as it is handled.

    One object on `g` rather than a field each: every `g` access goes through a
    context-local proxy, and intake pays for each of them on every request.
    """

    started: float
    request_id: str
    channel: str | None = None
    authenticated: bool = False
    event_id: int | None = None


def facts() -> _Facts:
    """The current request's facts, for its handler to add to."""
    current: _Facts = g.facts
    return current


def register_hooks(app: Flask) -> None:
    """Request ids, the access log line and uniform error answers."""
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DatabaseError, _retry_later)
    app.register_error_handler(SecretsUnavailable, _retry_later)


def _start_request() -> None:
    started = time.perf_counter()
    supplied = request.environ.get("HTTP_X_REQUEST_ID", "")
    g.facts = _Facts(started, supplied if _REQUEST_ID.match(supplied) else _new_request_id())


def _new_request_id() -> str:
    """32 hex digits, as uuid4().hex, without its os.urandom call: a system call per
    request (measured 25-30 µs here), for an id that only has to be unique, not secret.
    Python reseeds `random` in every forked worker."""
    return f"{random.getrandbits(128):032x}"


def _finish_request(response: Response) -> Response:
    """The request's one log line (gunicorn's own access line is off by default)."""
    current = facts()
    response.headers["X-Request-ID"] = current.request_id
    elapsed = time.perf_counter() - current.started
    req = request._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    path = environ.get("PATH_INFO", "")
    if path.startswith("/webhooks/"):
        # Only authenticated channels become label values: made-up names stay "-".
        channel = current.channel if current.authenticated else None
        state().metrics.observe(channel, response.status_code, elapsed)
    if path not in QUIET_PATHS:
        write_access_line(
            state().settings.log_format,
            {
                "request_id": current.request_id,
                "method": environ.get("REQUEST_METHOD"),
                "path": req.path,
                "channel": current.channel,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "bytes": req.content_length,
                "event_id": current.event_id,
                "client": req.remote_addr,
            },
        )
    return response


def _http_error(error: HTTPException) -> Response:
    code = error.code or 500
    if code == 400:
        response = jsonify(error=error.description or "bad request")
    else:
        response = jsonify(error=FIXED_ANSWERS.get(code) or (error.name or "error").lower())
    response.status_code = code
    if code == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="wabahook"'
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        # What this path takes: POST for webhooks (GET for Meta's handshake; never HEAD,
        # which the handshake refuses), GET (and HEAD) for health and metrics.
        methods = set(error.valid_methods)
        if request.path.startswith("/webhooks/"):
            methods = {"GET", "POST"}
        response.headers["Allow"] = ", ".join(sorted(methods))
    return response


def _retry_later(error: DatabaseError | SecretsUnavailable) -> Response:
    """503 + Retry-After: the sender keeps the notification and tries again.

    Any database trouble, even one that is our own bug, is a 503: the sender retries (for
    up to 7 days) and nothing is lost, where a 500 would say nothing useful. Secrets that
    do not open are this server's configuration at fault, not the sender's: never a 401,
    so Meta retries and nothing is lost once the key is set right.
    """
    if isinstance(error, SecretsUnavailable):
        level, message = logging.ERROR, "meta channel secrets unavailable"
    else:
        level = logging.WARNING if isinstance(error, DatabaseUnavailable) else logging.ERROR
        message = "database unavailable"
    log.log(level, message, extra={"error": str(error), "request_id": facts().request_id})
    response = jsonify(error="storage unavailable, retry later")
    response.status_code = 503
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response
