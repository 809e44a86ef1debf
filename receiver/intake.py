"""`POST /webhooks/<channel>`: authenticate, store the exact bytes, answer 200.

`GET` answers Meta's verification handshake for meta channels.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections.abc import Callable
from typing import Any, NoReturn

from flask import Blueprint, Response, abort, jsonify, request
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from receiver.auth import (
    ChannelAuth,
    ChannelKind,
    parse_basic,
    parse_partner_signature,
    parse_signature,
)
from receiver.db import Database
from receiver.request_hooks import facts
from receiver.sealing import Sealer, SealError, SecretsUnavailable
from receiver.state import state

blueprint = Blueprint("intake", __name__)

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
# Meta's challenge is a number; anything far longer is no handshake (and not echoed).
MAX_CHALLENGE_CHARS = 512
STORED_ANSWER = '{"event_id":%d,"status":"stored"}\n'
# The sealed secrets that sign bodies: a meta channel's app secret, a partner's platform secret.
SIGNING_SECRETS = frozenset({"app_secret", "platform_secret"})


def _header(environ: dict[str, Any], key: str) -> list[str]:
    """A header's values as werkzeug's getlist gives them from a WSGI environ (one at most:
    the server joins repeated headers), without walking every header to find it."""
    value = environ.get(key)
    return [] if value is None else [value]


def channel_auth_loader(
    db: Database, sealer: Sealer | None = None
) -> Callable[[str], ChannelAuth | None]:
    """A loader of one channel's auth record, for the credential cache.

    A signed channel's secrets are opened here, once per load: never per request.
    """

    def load(channel: str) -> ChannelAuth | None:
        rows = db.fetch_all("channel_auth", {"channel": channel})
        if not rows:
            return None
        if rows[0]["auth"] != "basic":
            return _signed_auth(channel, rows[0]["auth"], rows)
        return ChannelAuth(
            enabled=rows[0]["enabled"],
            credentials=tuple(
                (row["username"], bytes(row["secret_sha256"]))
                for row in rows
                if row["username"] is not None
            ),
            max_body_bytes=rows[0]["max_body_bytes"],
        )

    def _signed_auth(channel: str, kind: ChannelKind, rows: list[DictRow]) -> ChannelAuth:
        if not rows[0]["enabled"]:
            # Refused whatever it presents: its secrets stay sealed, a key or none.
            return ChannelAuth(enabled=False, kind=kind, max_body_bytes=rows[0]["max_body_bytes"])
        if sealer is None:
            raise SecretsUnavailable(
                f"channel {channel} takes signed bodies, but WABAHOOK_SECRET_KEY is not set"
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
            kind=kind,
            signing_secrets=tuple(secret for use, secret in opened if use in SIGNING_SECRETS),
            verify_tokens=tuple(secret for use, secret in opened if use == "verify_token"),
            max_body_bytes=rows[0]["max_body_bytes"],
        )

    return load


@blueprint.route("/webhooks/<channel>", methods=["POST"], provide_automatic_options=False)
def receive(channel: str) -> Response:
    """Store one delivery and acknowledge it; processing happens later, elsewhere."""
    current = facts()
    current.channel = channel
    app_state = state()
    authenticator = app_state.authenticator
    settings = app_state.settings
    environ = request.environ
    auth = authenticator.lookup(channel)
    # The channel's own limit, within the ceiling. A signed body is read (up to the
    # ceiling) before its signature tells whether the channel is known: its limit is
    # applied after, so that no answer tells a channel with a raised limit from none.
    limit = min(
        auth.max_body_bytes
        if auth is not None and auth.max_body_bytes
        else settings.max_body_bytes,
        settings.max_body_ceiling_bytes,
    )
    ceiling = settings.max_body_ceiling_bytes
    meta_signature = parse_signature(_header(environ, "HTTP_X_HUB_SIGNATURE_256"))
    partner_signature = parse_partner_signature(_header(environ, "HTTP_X_360DIALOG_SIGNATURE"))
    if auth is not None and auth.is_signed:
        # Meta and 360dialog sign the body: a request without a well-formed signature
        # is refused before its body is read, a wrong one (of either kind) after, so
        # that no answer tells which kind of channel a name is.
        if meta_signature is None and partner_signature is None:
            abort(401)
        signature = meta_signature if auth.kind == "meta" else partner_signature
        body = _read_body(ceiling)
        authenticated = authenticator.check_signature(auth, signature, body)
        if authenticated and len(body) > limit:
            abort(413)
    elif authenticator.check_basic(auth, parse_basic(_header(environ, "HTTP_AUTHORIZATION"))):
        body = _read_body(limit)
        authenticated = True
    else:
        signature = meta_signature or partner_signature
        if signature is not None:
            # What a signed channel would do with a signed request: read the body and
            # compute a signature, so no answer or timing tells which kind a name is.
            authenticator.check_signature(None, signature, _read_body(ceiling))
        authenticated = False
    if not authenticated:
        abort(401)
    current.authenticated = True
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
            "request_id": current.request_id,
        },
    )
    event_id = stored["raw_event_id"] if stored else None
    if event_id is None:
        # Disabled or removed since this process cached its credentials: nothing stored.
        abort(401)
    current.event_id = event_id
    # What jsonify(event_id=..., status="stored") writes, without its encoder per request.
    response = Response(STORED_ANSWER % event_id, mimetype="application/json")
    # The nudge runs once the answer is sent: Redis never delays the 200.
    response.call_on_close(app_state.nudger.nudge)
    return response


@blueprint.route("/webhooks/<channel>", methods=["GET"], provide_automatic_options=False)
def handshake(channel: str) -> Response:
    """Meta's verification of a callback URL: the challenge back, for the right token only."""
    facts().channel = channel
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


def _read_body(limit: int) -> bytes:
    """The whole body, or 413 when it is over `limit` bytes: never a truncated body."""
    declared = request.content_length
    if declared is not None:
        if declared > limit:
            abort(413)
        body = _read_stream(declared)
        if len(body) != declared:
            # The sender closed early: what arrived is not the notification it meant.
            _refuse_body(400, f"body ended after {len(body)} of {declared} bytes")
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
        # The rest of the body may still be on its way.
        _refuse_body(408, "request body not received in time")
    except Exception:  # the server's body reader: bad chunk sizes, a connection cut mid-chunk
        # Whatever the reader's reason, the body did not arrive whole; nothing is stored.
        _refuse_body(400, "malformed or incomplete body")
    return b"".join(parts)


def _refuse_body(status: int, reason: str) -> NoReturn:
    """`status` and close the connection: what is left of its byte stream cannot be read
    as the next request."""
    response = jsonify(error=reason)
    response.status_code = status
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
