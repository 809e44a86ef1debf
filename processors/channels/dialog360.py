"""Connecting a channel to 360dialog: register the webhook, read the number back."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from processors import channels
from receiver.db import Database
from receiver.errors import WabahookError

DEFAULT_BASE_URL = "https://waba-v2.360dialog.io"
TIMEOUT_SECONDS = 10.0


class Dialog360Error(WabahookError):
    """360dialog refused, failed or did not answer; the message says which."""


@dataclass(frozen=True, slots=True)
class Connected:
    """A channel registered at 360dialog."""

    channel: str
    webhook_url: str
    phone_number: str | None


def webhook_url(public_url: str, channel: str) -> str:
    """The URL 360dialog will post to; refused early where 360dialog would refuse it."""
    parts = urlsplit(public_url)
    if parts.scheme != "https" or not parts.hostname:
        raise Dialog360Error(f"--public-url must be an https:// URL, not {public_url!r}")
    if parts.port is not None or "_" in public_url:
        raise Dialog360Error("360dialog refuses webhook URLs with a :port or an underscore")
    return f"{public_url.rstrip('/')}/webhooks/{channel}"


def check_base_url(base_url: str) -> str:
    """`base_url` if the API key would travel encrypted to it: https, or http on loopback."""
    parts = urlsplit(base_url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname)):
        return base_url
    raise Dialog360Error(
        "--base-url must be an https:// URL: the API key would travel in clear text"
        " (http:// only to localhost, 127.0.0.1 or ::1)"
    )


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1): traffic that stays here."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def connect(
    db: Database,
    name: str,
    *,
    public_url: str,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    timeout: float = TIMEOUT_SECONDS,
) -> Connected:
    """Give the channel a new credential, register it at 360dialog, verify, read the number.

    The new credential replaces the old ones only once 360dialog shows it back; on any
    failure it is withdrawn again and the channel keeps the credentials it had.
    """
    url = webhook_url(public_url, channel=channels.validate_name(name))
    check_base_url(base_url)
    issued = channels.rotate(db, name)
    token = base64.b64encode(f"{issued.username}:{issued.password}".encode()).decode()
    authorization = f"Basic {token}"
    try:
        with httpx.Client(
            base_url=base_url, timeout=timeout, headers={"D360-API-KEY": api_key}
        ) as client:
            _call(client, "POST", "/v1/configs/webhook",
                  json={"url": url, "headers": {"Authorization": authorization}})  # fmt: skip
            registered = _call(client, "GET", "/v1/configs/webhook")
            if registered.get("url") != url:
                raise Dialog360Error(
                    f"360dialog shows the webhook {registered.get('url')!r}, not {url!r}"
                )
            shown = (registered.get("headers") or {}).get("Authorization")
            if shown is not None and shown != authorization:
                raise Dialog360Error("360dialog shows other webhook headers than were sent")
            number = _call(client, "GET", "/v1/configs/phone_number").get("phone_number")
    except BaseException:
        channels.withdraw(db, name, issued)
        raise
    phone_number = str(number) if number is not None else None
    channels.finish_connect(db, name, phone_number)
    return Connected(name, url, phone_number)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise Dialog360Error(
            f"no answer from 360dialog within {client.timeout.read:g} s ({method} {path})"
        ) from None
    except httpx.TransportError as exc:
        raise Dialog360Error(f"could not reach 360dialog at {client.base_url}: {exc}") from None
    status = response.status_code
    if status in (401, 403):
        raise Dialog360Error(f"360dialog refused the API key (HTTP {status} on {method} {path})")
    if 400 <= status < 500:
        raise Dialog360Error(
            f"360dialog rejected {method} {path} (HTTP {status}): {_reason(response)}"
        )
    if status >= 500:
        raise Dialog360Error(
            f"360dialog failed (HTTP {status} on {method} {path}); try again later"
        )
    try:
        data = response.json() if response.content else {}
    except ValueError:
        raise Dialog360Error(
            f"360dialog answered {method} {path} with something not JSON"
        ) from None
    return data if isinstance(data, dict) else {}


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or "no reason given"
    if isinstance(data, dict):
        meta = data.get("meta")
        if isinstance(meta, dict) and meta.get("developer_message"):
            return str(meta["developer_message"])[:200]
        for key in ("error", "errors", "message", "detail"):
            if data.get(key):
                return str(data[key])[:200]
    return str(data)[:200]
