"""What keeps the console to its people: a password off loopback, and CSRF on every POST."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, abort, g, request

from receiver.config import Secret
from receiver.errors import WabahookError
from receiver.exposure import is_local

USER = "console"
PASSWORD_VARIABLE = "WABAHOOK_CONSOLE_PASSWORD"  # noqa: S105  (a variable's name)
CSRF_COOKIE = "wabahook_csrf"
CSRF_FIELD = "csrf_token"


class ConsoleExposureError(WabahookError, ValueError):
    """A bind other machines can reach, without a password."""


def check_bind(bind: str, password: Secret | None) -> None:
    """Refuse a bind off loopback unless the console asks for a password."""
    if not is_local(bind) and password is None:
        raise ConsoleExposureError(
            f"refusing to serve the console on {bind} without {PASSWORD_VARIABLE}: it shows "
            "stored bodies and can replay events; set a password (user 'console') or bind "
            "127.0.0.1"
        )


def protect(app: Flask, password: Secret | None) -> None:
    """Basic auth (when a password is set), a CSRF cookie for forms, safe response headers."""
    digest = hashlib.sha256(password.reveal().encode()).digest() if password else None

    @app.before_request
    def _authenticate() -> Response | None:
        g.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        if digest is None and not _loopback_host():
            # Without a login, only pages asked for by a loopback name: a page of another
            # site whose name was re-pointed to 127.0.0.1 (DNS rebinding) gets nothing.
            return Response("the console answers on 127.0.0.1 or localhost only\n", 403)
        if digest is not None and not _basic_ok(digest):
            return Response(
                "login required\n", 401, {"WWW-Authenticate": 'Basic realm="wabahook console"'}
            )
        if request.method == "POST":
            _check_csrf()
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        if request.cookies.get(CSRF_COOKIE) != g.csrf:
            response.set_cookie(CSRF_COOKIE, g.csrf, httponly=True, samesite="Strict")
        # Stored bodies are the senders' text: never scripts, never framed elsewhere.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on
        # our own forms, and the CSRF check could not tell them from a foreign one.
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response


def _loopback_host() -> bool:
    """Whether the request names this machine by a loopback name or address."""
    host = urlsplit(f"//{request.host}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # any other name could point anywhere, a rebinding site's included


def _basic_ok(digest: bytes) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return False
    same_user = hmac.compare_digest(user, USER.encode())
    same_password = hmac.compare_digest(hashlib.sha256(password).digest(), digest)
    return same_user & same_password


def _check_csrf() -> None:
    """A POST carries the cookie's token in its form (a page of ours put it there)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    field = request.form.get(CSRF_FIELD, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), field.encode()):
        abort(403)
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        abort(403)  # a form posted from another site
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        abort(403)  # a browser that sent no Origin still says where the form came from
