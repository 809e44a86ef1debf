"""`POST /webhooks/<channel>`: authenticate, store the exact bytes, answer 200.

`GET` answers Meta's verification handshake for meta channels.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from flask import Blueprint, Flask, Response, abort, g, jsonify, request
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from receiver.auth import ChannelAuth, parse_basic, parse_signature
from receiver.db import Database, DatabaseError, DatabaseUnavailable
from receiver.sealing import Sealer, SealError, SecretsUnavailable
from receiver.state import state

blueprint = Blueprint("intake", __name__)
log = logging.getLogger("wabahook.request")

# Headers worth keeping with the body, by their WSGI environ keys. Never Authorization
# or cookies.
STORED_HEADERS = {
    "content-type": "CONTENT_TYPE",
    "content-length": "CONTENT_LENGTH",
    "content-encoding": "HTTP_CONTENT_ENCODING",
    "transfer-encoding": "HTTP_TRANSFER_ENCODING",
    "user-agent": "HTTP_USER_AGENT",
    "x-request-id": "HTTP_X_REQUEST_ID",
    "x-forwarded-for": "HTTP_X_FORWARDED_FOR",
    "x-forwarded-proto": "HTTP_X_FORWARDED_PROTO",
    "x-real-ip": "HTTP_X_REAL_IP",
    "x-360dialog-signature": "HTTP_X_360DIALOG_SIGNATURE",
    "x-hub-signature-256": "HTTP_X_HUB_SIGNATURE_256",
    "x-hub-signature": "HTTP_X_HUB_SIGNATURE",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
RETRY_AFTER_SECONDS = "5"
# Meta's challenge is a number; anything far longer is no handshake (and not echoed).
MAX_CHALLENGE_CHARS = 512
STORED_ANSWER = '{"event_id":%d,"status":"stored"}\n'
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


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


def _facts() -> _Facts:
    facts: _Facts = g.facts
    return facts


def _header(environ: dict[str, Any], key: str) -> list[str]:
    """A header's values as werkzeug's getlist gives them from a WSGI environ (one at most:
    the server joins repeated headers), without walking every header to find it."""
    value = environ.get(key)
    return [] if value is None else [value]


def channel_auth_loader(
    db: Database, sealer: Sealer | None = None
) -> Callable[[str], ChannelAuth | None]:
    """A loader of one channel's auth record, for the credential cache.

    A meta channel's secrets are opened here, once per load: never per request.
    """

    def load(channel: str) -> ChannelAuth | None:
        rows = db.fetch_all("channel_auth", {"channel": channel})
        if not rows:
            return None
        if rows[0]["auth"] == "meta":
            return _meta_auth(channel, rows)
        return ChannelAuth(
            enabled=rows[0]["enabled"],
            credentials=tuple(
                (row["username"], bytes(row["secret_sha256"]))
                for row in rows
                if row["username"] is not None
            ),
        )

    def _meta_auth(channel: str, rows: list[DictRow]) -> ChannelAuth:
        if not rows[0]["enabled"]:
            # Refused whatever it presents: its secrets stay sealed, a key or none.
            return ChannelAuth(enabled=False, kind="meta")
        if sealer is None:
            raise SecretsUnavailable(
                f"channel {channel} takes Meta signatures, but WABAHOOK_SECRET_KEY is not set"
            )
        try:
            opened = [(row["kind"], sealer.open(bytes(row["sealed"])))
                      for row in rows if row["sealed"] is not None]  # fmt: skip
        except SealError:
            raise SecretsUnavailable(
                f"channel {channel}'s secrets do not open with WABAHOOK_SECRET_KEY"
            ) from None
        return ChannelAuth(
            enabled=True,
            kind="meta",
            app_secrets=tuple(secret for kind, secret in opened if kind == "app_secret"),
            verify_tokens=tuple(secret for kind, secret in opened if kind == "verify_token"),
        )

    return load


@blueprint.route("/webhooks/<channel>", methods=["POST"], provide_automatic_options=False)
def receive(channel: str) -> Response:
    """Store one delivery and acknowledge it; processing happens later, elsewhere."""
    facts = _facts()
    facts.channel = channel
    app_state = state()
    authenticator = app_state.authenticator
    limit = app_state.settings.max_body_bytes
    environ = request.environ
    auth = authenticator.lookup(channel)
    signature = parse_signature(_header(environ, "HTTP_X_HUB_SIGNATURE_256"))
    if auth is not None and auth.is_meta:
        # Meta signs the body: a request without a well-formed signature is refused
        # before its body is read, a wrong signature after.
        if signature is None:
            abort(401)
        body = _read_body(limit)
        authenticated = authenticator.check_signature(auth, signature, body)
    elif authenticator.check_basic(auth, parse_basic(_header(environ, "HTTP_AUTHORIZATION"))):
        body = _read_body(limit)
        authenticated = True
    else:
        if signature is not None:
            # What a meta channel would do with a signed request: read the body and
            # compute a signature, so no answer or timing tells which kind a name is.
            authenticator.check_signature(None, signature, _read_body(limit))
        authenticated = False
    if not authenticated:
        abort(401)
    facts.authenticated = True
    if not body:
        abort(400, "empty body")
    # One statement, one durable commit per delivery: concurrent commits of the workers
    # share WAL flushes in PostgreSQL itself (docs/design/intake-commit.md).
    stored = app_state.db.fetch_one(
        "store_event",
        {
            "channel": channel,
            "body": body,
            "body_sha256": hashlib.sha256(body).digest(),
            "content_type": environ.get("CONTENT_TYPE") or None,
            "headers": Jsonb(_kept_headers(environ)),
            "client_addr": _client_address(environ.get("REMOTE_ADDR")),
            "request_id": facts.request_id,
        },
    )
    event_id = stored["raw_event_id"] if stored else None
    if event_id is None:
        # Disabled or removed since this process cached its credentials: nothing stored.
        abort(401)
    facts.event_id = event_id
    # What jsonify(event_id=..., status="stored") writes, without its encoder per request.
    response = Response(STORED_ANSWER % event_id, mimetype="application/json")
    # The nudge runs once the answer is sent: Redis never delays the 200.
    response.call_on_close(app_state.nudger.nudge)
    return response


@blueprint.route("/webhooks/<channel>", methods=["GET"], provide_automatic_options=False)
def handshake(channel: str) -> Response:
    """Meta's verification of a callback URL: the challenge back, for the right token only."""
    _facts().channel = channel
    args = request.args
    if request.method != "GET" or "hub.mode" not in args:
        raise MethodNotAllowed(valid_methods=["GET", "POST"])
    values = [args.getlist(name) for name in ("hub.mode", "hub.verify_token", "hub.challenge")]
    mode, token, challenge = (found[0] if len(found) == 1 else "" for found in values)
    authenticator = state().authenticator
    # The token is checked whatever else is wrong: one answer, one timing for every refusal.
    token_ok = authenticator.check_verify_token(authenticator.lookup(channel), token)
    if not (token_ok and mode == "subscribe" and 0 < len(challenge) <= MAX_CHALLENGE_CHARS):
        abort(403)
    response = Response(challenge, status=200, mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"  # the sender's text, never a page
    return response


def register_hooks(app: Flask) -> None:
    """Request ids, the access log line and uniform error answers."""
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DatabaseError, _database_unavailable)
    app.register_error_handler(SecretsUnavailable, _secrets_unavailable)


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
    facts = _facts()
    response.headers["X-Request-ID"] = facts.request_id
    elapsed = time.perf_counter() - facts.started
    req = request._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    path = environ.get("PATH_INFO", "")
    if path.startswith("/webhooks/"):
        # Only authenticated channels become label values: made-up names stay "-".
        channel = facts.channel if facts.authenticated else None
        state().metrics.observe(channel, response.status_code, elapsed)
    if path not in QUIET_PATHS:
        log.info(
            "request",
            extra={
                "request_id": facts.request_id,
                "method": environ.get("REQUEST_METHOD"),
                "path": req.path,
                "channel": facts.channel,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "bytes": req.content_length,
                "event_id": facts.event_id,
                "client": req.remote_addr,
            },
        )
    return response


def _http_error(error: HTTPException) -> Response:
    code = error.code or 500
    if code == 401:
        # One answer for every reason: wrong password, unknown or disabled channel...
        response = jsonify(error="unauthorized")
        response.headers["WWW-Authenticate"] = 'Basic realm="wabahook"'
    elif code == 403:
        # The handshake's one refusal: unknown, disabled or Basic channel, wrong token...
        response = jsonify(error="forbidden")
    elif code == 413:
        response = jsonify(error="body too large")
    elif code == 400:
        response = jsonify(error=error.description or "bad request")
    else:
        response = jsonify(error=(error.name or "error").lower())
    response.status_code = code
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        # What this path takes: POST for webhooks (GET for Meta's handshake; never HEAD,
        # which the handshake refuses), GET (and HEAD) for health and metrics.
        methods = set(error.valid_methods)
        if request.path.startswith("/webhooks/"):
            methods = {"GET", "POST"}
        response.headers["Allow"] = ", ".join(sorted(methods))
    return response


def _database_unavailable(error: DatabaseError) -> Response:
    # Any database trouble, even one that is our own bug, is a 503: the sender retries
    # (for up to 7 days) and nothing is lost, where a 500 would say nothing useful.
    level = logging.WARNING if isinstance(error, DatabaseUnavailable) else logging.ERROR
    log.log(
        level,
        "database unavailable",
        extra={"error": str(error), "request_id": _facts().request_id},
    )
    return _retry_later()


def _secrets_unavailable(error: SecretsUnavailable) -> Response:
    # This server's configuration is at fault, not the sender: 503, never 401, so Meta
    # retries and nothing is lost once the key is set right.
    log.error("meta channel secrets unavailable",
              extra={"error": str(error), "request_id": _facts().request_id})  # fmt: skip
    return _retry_later()


def _retry_later() -> Response:
    """503 + Retry-After: the sender keeps the notification and tries again."""
    response = jsonify(error="storage unavailable, retry later")
    response.status_code = 503
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def _read_body(limit: int) -> bytes:
    """The whole body, or 413 when it is over `limit` bytes: never a truncated body."""
    declared = request.content_length
    if declared is not None:
        if declared > limit:
            abort(413)
        body = _read_stream(declared)
        if len(body) != declared:
            # The sender closed early: what arrived is not the notification it meant.
            _bad_body(f"body ended after {len(body)} of {declared} bytes")
        return body
    if not request.environ.get("wsgi.input_terminated"):
        return b""  # neither Content-Length nor a chunked body: HTTP says there is none
    # Chunked: read past the limit from the raw stream to tell "exactly full" from "over".
    body = _read_stream(limit + 1)
    if len(body) > limit:
        abort(413)
    return body


def _read_stream(size: int) -> bytes:
    """Up to `size` bytes of the request body; 400 when the body is not well formed,
    408 when it does not arrive in time."""
    stream = request.environ["wsgi.input"]
    parts: list[bytes] = []
    got = 0
    try:
        while got < size:
            part = stream.read(size - got)
            if not part:
                break
            parts.append(part)
            got += len(part)
    except HTTPException:
        raise
    except TimeoutError:  # under gunicorn: the body's deadline (receiver.gunicorn_conf)
        _too_slow()
    except Exception:  # the server's body reader: bad chunk sizes, a connection cut mid-chunk
        # Whatever the reader's reason, the body did not arrive whole; nothing is stored.
        _bad_body("malformed or incomplete body")
    return b"".join(parts)


def _too_slow() -> NoReturn:
    """408 and close the connection: the rest of the body may still be on its way."""
    response = jsonify(error="request body not received in time")
    response.status_code = 408
    response.headers["Connection"] = "close"
    abort(response)


def _bad_body(reason: str) -> NoReturn:
    """400 and close the connection: the rest of its byte stream cannot be trusted."""
    response = jsonify(error=reason)
    response.status_code = 400
    response.headers["Connection"] = "close"
    abort(response)


def _kept_headers(environ: dict[str, Any]) -> dict[str, str]:
    # From the environ itself: werkzeug's header view would scan every header per name.
    return {name: environ[key] for name, key in STORED_HEADERS.items() if environ.get(key)}


@functools.lru_cache(maxsize=1024)  # the same few addresses: the load balancer's hops
def _client_address(remote_addr: str | None) -> str | None:
    """The client's address for `inet`; a malformed forwarded value is None, never an error."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return None
    # PostgreSQL's inet has no IPv6 zone (fe80::1%eth0): keep the address without it.
    return str(address).partition("%")[0]
