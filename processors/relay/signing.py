"""Standard Webhooks signatures: `webhook-id`, `webhook-timestamp`, `webhook-signature`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from receiver.errors import WabahookError

PREFIX = "whsec_"


class SecretFormatError(WabahookError, ValueError):
    """A signing secret is not `whsec_` and base64 of 24 to 64 random bytes."""


def new_secret() -> str:
    """A new signing secret: `whsec_` and base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret; SecretFormatError if it is not one."""
    encoded = secret.strip().removeprefix(PREFIX)
    try:
        key = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        key = b""
    if not secret.strip().startswith(PREFIX) or not 24 <= len(key) <= 64:
        # Never echo it: it is a secret.
        raise SecretFormatError("a signing secret is whsec_ and base64 of 24 to 64 random bytes")
    return key


def signature(keys: list[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,<base64 HMAC-SHA256>` per key, space-separated
    (two during a rotation: an application that knows either secret accepts it)."""
    signed = f"{message_id}.{timestamp}.".encode("ascii") + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")
        for key in keys
    )


def verify(secret: str, message_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """Whether `header` holds a valid signature of the message under `secret` (what a
    receiving application does; the docs' examples do the same)."""
    expected = signature([secret_key(secret)], message_id, timestamp, body).encode("ascii")
    return any(
        hmac.compare_digest(expected, candidate.encode("ascii"))
        for candidate in header.split(" ")
        if candidate.isascii()
    )
