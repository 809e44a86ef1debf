"""Basic authentication of deliveries against per-channel credential digests."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CHANNEL_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Compared against when there is nothing real to compare with, so that an unknown
# channel costs the same work as a wrong password.
_DUMMY = ("wabahook", hashlib.sha256(b"no such credential").digest())
_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """What a request presented in its Authorization header."""

    username: bytes
    password: bytes

    def __repr__(self) -> str:
        return f"BasicCredentials(username={self.username!r}, password=<hidden>)"


@dataclass(frozen=True, slots=True)
class ChannelAuth:
    """A channel's state and its currently valid (username, secret digest) pairs."""

    enabled: bool
    credentials: tuple[tuple[str, bytes], ...]


def generate_secret() -> str:
    """A new random password: 256 bits, URL- and shell-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str | bytes) -> bytes:
    """The SHA-256 digest under which a secret is stored."""
    return hashlib.sha256(secret.encode() if isinstance(secret, str) else secret).digest()


def parse_basic(header_values: Sequence[str]) -> BasicCredentials | None:
    """Read `Authorization: Basic ...`; anything ambiguous or malformed is None."""
    if len(header_values) != 1:
        return None  # none, or several: refuse rather than guess which one counts
    scheme, _, encoded = header_values[0].strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    username, colon, password = decoded.partition(b":")
    if not colon:
        return None
    return BasicCredentials(username, password)


class Authenticator:
    """Checks credentials for a channel, caching each channel's digests briefly."""

    def __init__(self, load: Callable[[str], ChannelAuth | None], ttl: float) -> None:
        self._load = load
        self._ttl = ttl
        self._cache: dict[str, tuple[float, ChannelAuth | None]] = {}
        self._lock = threading.Lock()

    def check(self, channel: str, presented: BasicCredentials | None) -> bool:
        """True when `presented` is a valid credential of the enabled `channel`."""
        auth = self._lookup(channel) if CHANNEL_NAME.fullmatch(channel) else None
        candidates = auth.credentials if auth is not None and auth.credentials else (_DUMMY,)
        username = presented.username if presented else b""
        password_digest = digest(presented.password if presented else b"")
        matched = False
        for stored_username, stored_digest in candidates:
            # Non-short-circuiting: every candidate is compared in full.
            same_user = hmac.compare_digest(stored_username.encode(), username)
            same_secret = hmac.compare_digest(stored_digest, password_digest)
            matched |= same_user & same_secret
        return matched and presented is not None and auth is not None and auth.enabled

    def _lookup(self, channel: str) -> ChannelAuth | None:
        now = time.monotonic()
        hit = self._cache.get(channel)
        if hit is not None and hit[0] > now:
            return hit[1]
        auth = self._load(channel)  # may raise DatabaseUnavailable: the caller answers 503
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()  # bounded: a flood of made-up channel names cannot grow it
            self._cache[channel] = (now + self._ttl, auth)
        return auth
