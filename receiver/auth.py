"""Who may deliver to a channel: Basic credentials (360dialog); Meta's or a 360dialog
partner's body signatures; Meta's handshake."""

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
from dataclasses import dataclass, field
from typing import Literal

CHANNEL_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Compared against when there is nothing real to compare with, so that an unknown
# channel costs the same work as a wrong password.
_DUMMY = ("wabahook", hashlib.sha256(b"no such credential").digest())
_DUMMY_SECRET = b"no such app secret"
_CACHE_LIMIT = 10_000
MAX_SIGNING_SECRETS = 2  # valid at once: the old and the new during a rotation
# X-Hub-Signature-256: "sha256=" and the HMAC-SHA256 of the body in hex (either case).
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
# x-360dialog-signature: the HMAC-SHA256 of the body in hex; a "sha256=" prefix tolerated.
_PARTNER_SIGNATURE = re.compile(r"(?:sha256=)?([0-9a-fA-F]{64})")
ChannelKind = Literal["basic", "meta", "360dialog-partner"]
# Kinds whose deliveries are proven by an HMAC-SHA256 of the body under a sealed secret.
SIGNED_KINDS = frozenset({"meta", "360dialog-partner"})


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """What a request presented in its Authorization header."""

    username: bytes
    password: bytes

    def __repr__(self) -> str:
        return f"BasicCredentials(username={self.username!r}, password=<hidden>)"


@dataclass(frozen=True, slots=True)
class ChannelAuth:
    """A channel's state and what proves a delivery is its sender's.

    A Basic channel (360dialog) holds its valid (username, secret digest) pairs; a
    meta channel (Meta's Cloud API) its valid app secrets and verify tokens; a partner
    channel (a 360dialog partner's own URL) its valid platform secrets. Secrets are
    opened once when the channel is loaded into the cache, never per request.
    """

    enabled: bool
    credentials: tuple[tuple[str, bytes], ...] = ()
    kind: ChannelKind = "basic"
    signing_secrets: tuple[bytes, ...] = field(default=(), repr=False)
    verify_tokens: tuple[bytes, ...] = field(default=(), repr=False)
    max_body_bytes: int | None = None  # its own body limit (`channels set --max-body`)

    @property
    def is_signed(self) -> bool:
        """Whether deliveries prove themselves by a signature of the body, not Basic credentials."""
        return self.kind in SIGNED_KINDS


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


def parse_signature(
    header_values: Sequence[str], form: re.Pattern[str] = _SIGNATURE
) -> bytes | None:
    """The 32 bytes of `X-Hub-Signature-256: sha256=<hex>`; none, several or malformed is None."""
    if len(header_values) != 1:
        return None
    match = form.fullmatch(header_values[0].strip())
    return bytes.fromhex(match.group(1)) if match else None


def parse_partner_signature(header_values: Sequence[str]) -> bytes | None:
    """The 32 bytes of `x-360dialog-signature: <hex>`; none, several or malformed is None."""
    return parse_signature(header_values, _PARTNER_SIGNATURE)


class Authenticator:
    """Checks what a delivery presents against its channel, caching each channel briefly."""

    def __init__(self, load: Callable[[str], ChannelAuth | None], ttl: float) -> None:
        self._load = load
        self._ttl = ttl
        self._cache: dict[str, tuple[float, ChannelAuth | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, channel: str) -> ChannelAuth | None:
        """The channel's auth record (cached), or None: unknown, or no channel's name."""
        return self._lookup(channel) if CHANNEL_NAME.fullmatch(channel) else None

    def check(self, channel: str, presented: BasicCredentials | None) -> bool:
        """True when `presented` is a valid credential of the enabled Basic `channel`."""
        return self.check_basic(self.lookup(channel), presented)

    @staticmethod
    def check_basic(auth: ChannelAuth | None, presented: BasicCredentials | None) -> bool:
        """True when `presented` is a valid credential of the enabled Basic channel `auth`."""
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

    @staticmethod
    def check_signature(auth: ChannelAuth | None, signature: bytes | None, body: bytes) -> bool:
        """True when `signature` is `body`'s HMAC-SHA256 under a secret of signed `auth`.

        Every secret (or a stand-in) is computed and compared in full, whatever the
        channel and its state, so the answer's timing tells nothing.
        """
        secrets_ = auth.signing_secrets if auth is not None and auth.is_signed else ()
        presented = signature if signature is not None else bytes(32)
        matched = False
        # As many as a rotation holds, stand-ins filling up: a channel mid-rotation
        # costs what every other does.
        padded = (*secrets_, *(_DUMMY_SECRET,) * (MAX_SIGNING_SECRETS - len(secrets_)))
        for index, secret in enumerate(padded):
            expected = hmac.new(secret, body, hashlib.sha256).digest()
            # A stand-in's match counts for nothing: its secret is no secret.
            matched |= hmac.compare_digest(expected, presented) & (index < len(secrets_))
        return (
            matched and bool(secrets_) and signature is not None
            and auth is not None and auth.enabled
        )  # fmt: skip

    @staticmethod
    def check_verify_token(auth: ChannelAuth | None, token: str) -> bool:
        """True when `token` is a valid verify token of the enabled meta channel `auth`."""
        tokens = auth.verify_tokens if auth is not None and auth.kind == "meta" else ()
        presented = digest(token.encode("utf-8", "surrogatepass"))
        matched = False
        for stored in tokens or (_DUMMY_SECRET,):
            # Digests: equal lengths, so the comparison's time says nothing of the token's.
            matched |= hmac.compare_digest(digest(stored), presented)
        return matched and bool(tokens) and auth is not None and auth.enabled

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
