"""Channels (one per phone number) and their Basic-auth credentials."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from psycopg.rows import DictRow

from receiver.auth import CHANNEL_NAME, digest, generate_secret
from receiver.config import shown
from receiver.db import Database
from receiver.errors import WabahookError
from receiver.queries import query

# E.164 allows at most 15 digits; fewer than 7 is no dialable number anywhere.
PHONE_NUMBER = re.compile(r"\+?[0-9]{7,15}")
# What people write between digit groups: "+49 (151) 123-45.67". Dropped before storing.
PHONE_SEPARATORS = re.compile(r"[ ().-]")
PHONE_RULE = "an optional +, then 7 to 15 digits (spaces, dashes, dots and parentheses are dropped)"


class ChannelError(WabahookError):
    """A channel operation was refused; the message says why."""


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A credential as shown once to the operator: the password is not stored."""

    channel: str
    username: str
    password: str

    @property
    def webhook_path(self) -> str:
        """The path 360dialog posts to for this channel."""
        return f"/webhooks/{self.channel}"

    def curl(self, base_url: str, body: str) -> str:
        """A single-line curl command that posts `body` (a sample notification: JSON with no
        single quote) with this credential."""
        return (
            f"curl -sS -w '\\n' -u {self.username}:{self.password} "
            f"-H 'Content-Type: application/json' --data-binary '{body}' "
            f"{base_url.rstrip('/')}{self.webhook_path}"
        )

    def as_json(self) -> dict[str, str]:
        """The fields scripts read."""
        return {
            "channel": self.channel,
            "user": self.username,
            "password": self.password,
            "webhook_path": self.webhook_path,
        }

    def __repr__(self) -> str:
        return f"IssuedCredential(channel={self.channel!r}, username={self.username!r})"


def validate_name(name: str) -> str:
    """`name` if it is a valid channel name, else ChannelError."""
    # fullmatch: the pattern's `$` would also accept a trailing newline.
    if not CHANNEL_NAME.fullmatch(name):
        raise ChannelError(
            f"invalid channel name {shown(name)}: use 1-63 lowercase letters, digits and inner"
            " hyphens"
        )
    return name


def normalize_phone_number(number: str) -> str:
    """The number without separators if it is E.164-like (see PHONE_RULE), else ChannelError."""
    compact = PHONE_SEPARATORS.sub("", number)
    if not PHONE_NUMBER.fullmatch(compact):
        raise ChannelError(f"{shown(number)} is not a phone number: use {PHONE_RULE}")
    return compact


def add_channel(db: Database, name: str, phone_number: str | None = None) -> IssuedCredential:
    """Create a channel with a first credential."""
    validate_name(name)
    if phone_number is not None:
        phone_number = normalize_phone_number(phone_number)
    with db.transaction() as conn:
        created = conn.execute(
            query("create_channel"), {"name": name, "phone_number": phone_number, "auth": "basic"}
        ).fetchone()
        if created is None:
            raise ChannelError(f"channel {name!r} already exists")
        return _issue(conn, name)


def rotate(db: Database, name: str) -> IssuedCredential:
    """Issue a new credential; the previous one stays valid until `expire_old`."""
    with db.transaction() as conn:
        lock_channel(conn, name)
        valid = conn.execute(query("valid_credentials"), {"channel": name}).fetchall()
        if len(valid) >= 2:
            raise ChannelError(
                f"channel {name!r} already has two valid credentials; finish that rotation "
                f"first with: wabahook channels rotate {name} --expire-old"
            )
        return _issue(conn, name)


def expire_old(db: Database, name: str) -> int:
    """End every credential of the channel but the newest; returns how many ended."""
    with db.transaction() as conn:
        lock_channel(conn, name)
        valid = conn.execute(query("valid_credentials"), {"channel": name}).fetchall()
        if not valid:
            raise ChannelError(f"channel {name!r} has no valid credential; run rotate first")
        ended = conn.execute(
            query("expire_credentials_except"), {"channel": name, "keep_id": valid[0]["id"]}
        ).fetchall()
        return len(ended)


def replace_credential(db: Database, name: str) -> IssuedCredential:
    """Issue a new credential and end all others at once (a lost password)."""
    with db.transaction() as conn:
        lock_channel(conn, name)
        issued = _issue(conn, name)
        newest = conn.execute(query("valid_credentials"), {"channel": name}).fetchall()[0]
        conn.execute(query("expire_credentials_except"), {"channel": name, "keep_id": newest["id"]})
        return issued


def withdraw(db: Database, name: str, issued: IssuedCredential) -> None:
    """End a credential that was issued but never put to use (a failed connect)."""
    with db.transaction() as conn:
        conn.execute(
            query("expire_credential_by_secret"),
            {"channel": name, "secret_sha256": digest(issued.password)},
        )


def finish_connect(db: Database, name: str, phone_number: str | None) -> None:
    """After 360dialog shows the newest credential: end the others, keep the number.

    The webhook is registered by now, so the old credentials end even when the number
    360dialog reported is malformed; that number is refused and not stored.
    """
    expire_old(db, name)
    if phone_number is None:
        return
    try:
        number = normalize_phone_number(phone_number)
    except ChannelError:
        raise ChannelError(
            f"the webhook is connected, but 360dialog reported {shown(phone_number)} as the"
            " phone number, which is not one; it was not stored"
        ) from None
    db.fetch_one("set_phone_number", {"name": name, "phone_number": number})


def parse_size(text: str) -> int:
    """Bytes of a size such as `16MiB`, `512KiB`, `2MB` or `1048576`; else ChannelError."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ChannelError(f"{shown(text)} is no size: give bytes, or a number with KiB, MiB,"
                           " GiB, kB, MB or GB")  # fmt: skip
    size = int(match["number"]) * _UNITS[(match["unit"] or "b").lower()]
    if size < 1:
        raise ChannelError("a body limit must be at least 1 byte")
    return size


def set_max_body(db: Database, name: str, size: int | None, ceiling: int) -> None:
    """Set channel `name`'s body limit (None: back to the default), within `ceiling`."""
    validate_name(name)
    if size is not None and size > ceiling:
        raise ChannelError(
            f"{size} bytes is past the ceiling of {ceiling} (WABAHOOK_MAX_BODY_CEILING_BYTES);"
            " raise it first, on the receivers too"
        )
    if db.fetch_one("set_max_body", {"name": name, "max_body_bytes": size}) is None:
        raise ChannelError(f"no channel named {name!r}")


_SIZE = re.compile(r"(?P<number>[0-9]{1,15})\s*(?P<unit>[kKmMgG]i?[bB]|[bB])?")
_UNITS = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3,
          "kb": 1000, "mb": 1000**2, "gb": 1000**3}  # fmt: skip


def set_enabled(db: Database, name: str, enabled: bool) -> None:
    """Enable or disable a channel: a disabled channel answers 401 to everything."""
    validate_name(name)
    if db.fetch_one("set_channel_enabled", {"name": name, "enabled": enabled}) is None:
        raise ChannelError(f"no channel named {name!r}")


def list_channels(db: Database) -> list[DictRow]:
    """Every channel with its state and number of valid credentials."""
    return db.fetch_all("list_channels")


def exists(db: Database, name: str) -> bool:
    """Whether a channel of that name exists."""
    return bool(db.fetch_all("channel_auth", {"channel": name}))


def lock_channel(conn: Any, name: str, kind: str = "basic") -> None:
    """Lock channel `name` for a change of what proves its deliveries; ChannelError when
    there is none, or it is of another kind (its credentials would be ignored: every
    delivery sent with them refused)."""
    validate_name(name)
    row = conn.execute(query("lock_channel"), {"name": name}).fetchone()
    if row is None:
        raise ChannelError(f"no channel named {name!r}")
    if row["auth"] != kind:
        raise ChannelError(KIND_IS[row["auth"]].format(name=name))


# Why a change of one kind's credentials is refused on a channel of another kind, by
# the kind the channel is.
KIND_IS = {
    "basic": "channel {name!r} uses Basic credentials, not signatures",
    "meta": "channel {name!r} is a meta channel (Meta's signatures, no Basic credentials):"
    " use --provider meta, --secret-file or --verify-token",
    "360dialog-partner": "channel {name!r} is a 360dialog partner channel (signed with the"
    " partner's platform secret): its URL is set in 360dialog's Partner Hub, and its"
    " secret rotated with --secret-file",
}


def _issue(conn: Any, name: str) -> IssuedCredential:
    password = generate_secret()
    conn.execute(
        query("add_credential"),
        {"channel": name, "username": name, "secret_sha256": digest(password)},
    )
    return IssuedCredential(channel=name, username=name, password=password)
