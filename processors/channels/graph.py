"""Connecting a meta channel to Meta: subscribe the app to a WABA with this channel's callback."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from processors.channels import ChannelError, lock_channel, validate_name
from processors.channels.dialog360 import is_loopback
from processors.channels.meta import VERIFY_TOKEN
from receiver.config import shown
from receiver.db import Database
from receiver.errors import WabahookError
from receiver.logs import escape_controls
from receiver.queries import query
from receiver.sealing import Sealer, SealError

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v24.0"
TIMEOUT_SECONDS = 10.0
WABA_ID = re.compile(r"[0-9]{1,32}", re.ASCII)
GRAPH_VERSION = re.compile(r"v[0-9]{1,3}\.[0-9]{1,3}", re.ASCII)


class GraphError(WabahookError):
    """Meta's Graph API refused, failed or did not answer; the message says which."""


@dataclass(frozen=True, slots=True)
class Subscribed:
    """A meta channel whose URL Meta now posts a WABA's notifications to."""

    channel: str
    waba_id: str
    callback_url: str
    app: str | None  # the subscribed app's name, as Meta shows it


def callback_url(public_url: str, channel: str) -> str:
    """The URL Meta will verify and post to: https only, as Meta requires."""
    parts = urlsplit(public_url)
    if parts.scheme != "https" or not parts.hostname:
        raise GraphError(f"--public-url must be an https:// URL, not {shown(public_url)}")
    return f"{public_url.rstrip('/')}/webhooks/{channel}"


def check_graph_url(graph_url: str, version: str) -> str:
    """The versioned API root, if the access token would travel encrypted to it."""
    parts = urlsplit(graph_url)
    if parts.username is not None or parts.password is not None:
        raise GraphError("--graph-url takes no user:password: the access token is the credential")
    if not (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))):
        raise GraphError(
            "--graph-url must be an https:// URL: the access token would travel in clear text"
            " (http:// only to localhost, 127.0.0.1 or ::1)"
        )
    if not GRAPH_VERSION.fullmatch(version):
        raise GraphError(f"--graph-version must look like v24.0, not {shown(version)}")
    return f"{graph_url.rstrip('/')}/{version}"


def connect(
    db: Database,
    sealer: Sealer,
    name: str,
    *,
    waba_id: str,
    public_url: str,
    access_token: str,
    graph_url: str = DEFAULT_GRAPH_URL,
    version: str = DEFAULT_GRAPH_VERSION,
    timeout: float = TIMEOUT_SECONDS,
) -> Subscribed:
    """Subscribe the app to the WABA with this channel's URL and verify token, then read it back.

    Meta verifies the URL with the handshake before it answers, so the receiver must be
    reachable there. Nothing of the channel changes here, whatever Meta answers.
    """
    url = callback_url(public_url, validate_name(name))
    if not WABA_ID.fullmatch(waba_id):
        raise GraphError(f"--waba-id must be the WABA's numeric id, not {shown(waba_id)}")
    root = check_graph_url(graph_url, version)
    token = _verify_token(db, sealer, name)
    headers = {"Authorization": f"Bearer {access_token}"}
    with httpx.Client(base_url=root, timeout=timeout, headers=headers) as client:
        path = f"/{waba_id}/subscribed_apps"
        answer = _call(client, "POST", path, data={"override_callback_uri": url,
                                                    "verify_token": token})  # fmt: skip
        if answer.get("success") is not True:
            raise GraphError(f"Meta did not confirm the subscription: {_bounded(answer)}")
        listed = _call(client, "GET", path).get("data")
        for app in listed if isinstance(listed, list) else []:
            if isinstance(app, dict) and app.get("override_callback_uri") == url:
                about = app.get("whatsapp_business_api_data")
                app_name = about.get("name") if isinstance(about, dict) else None
                return Subscribed(name, waba_id, url, str(app_name) if app_name else None)
    raise GraphError(f"Meta lists no app of WABA {waba_id} posting to {url}")


def _verify_token(db: Database, sealer: Sealer, name: str) -> str:
    """The meta channel's current verify token, opened with this process's key."""
    with db.transaction() as conn:
        lock_channel(conn, name, "meta")
        row = conn.execute(
            query("newest_meta_secret"), {"channel": name, "kind": VERIFY_TOKEN}
        ).fetchone()
    if row is None:
        raise ChannelError(
            f"channel {name!r} has no verify token: channels rotate {name} --verify-token"
        )
    try:
        return sealer.open(bytes(row["sealed"])).decode("ascii")
    except SealError as exc:
        raise ChannelError(str(exc)) from None


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    where = f"{method} {path}"
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise GraphError(
            f"no answer from Meta within {client.timeout.read:g} s ({where})"
        ) from None
    except httpx.TransportError as exc:
        host = client.base_url.host  # never the whole URL: no credential shows
        raise GraphError(f"could not reach Meta at {host}: {_bounded(exc)}") from None
    try:
        data = response.json() if response.content else {}
    except ValueError:
        data = None
    if response.status_code >= 400:
        raise GraphError(
            f"Meta refused {where} (HTTP {response.status_code}): {_graph_reason(data)}"
        )
    if not isinstance(data, dict):
        raise GraphError(f"Meta answered {where} with something not a JSON object")
    return data


def _graph_reason(data: Any) -> str:
    """Graph's error object in a line: message, type and code (a token never appears there)."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "no reason given"
    kind = " ".join(str(error[k]) for k in ("type", "code") if error.get(k) is not None)
    message = str(error.get("message") or "no message")
    return _bounded(f"{message} ({kind})" if kind else message)


def _bounded(value: object, limit: int = 200) -> str:
    """Remote text for a terminal: one line, control characters escaped, bounded."""
    text = escape_controls(" ".join(str(value).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."
