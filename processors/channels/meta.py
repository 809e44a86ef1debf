"""Signed channels, their secrets sealed under WABAHOOK_SECRET_KEY: Meta-direct channels
(an app secret and a verify token) and 360dialog partner channels (a platform secret)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from processors.channels import ChannelError, lock_channel, normalize_phone_number, validate_name
from receiver.db import Database
from receiver.queries import query
from receiver.sealing import Sealer, key_problem

# Meta's app secrets are 32 hex digits; tokens are what the operator pastes into Meta's
# dashboard. Both travel as plain text: visible ASCII, no spaces, bounded.
MAX_SECRET_CHARS = 256
MIN_SECRET_CHARS = 16
# The kinds of sealed secret (channel_meta_secrets.kind).
APP_SECRET = "app_secret"  # noqa: S105
VERIFY_TOKEN = "verify_token"  # noqa: S105
PLATFORM_SECRET = "platform_secret"  # noqa: S105
PARTNER = "360dialog-partner"
# The secret that signs a signed channel's bodies, by the channel's kind.
SIGNING_SECRET = {"meta": APP_SECRET, PARTNER: PLATFORM_SECRET}
NOTHING_TO_ROTATE = {
    "meta": "channel {name!r} is a meta channel: rotate its app secret with --secret-file"
    " FILE, or its verify token with --verify-token",
    PARTNER: "channel {name!r} is a 360dialog partner channel: rotate its platform secret"
    " with --secret-file FILE",
}


@dataclass(frozen=True, slots=True)
class IssuedMetaChannel:
    """A meta channel as shown once to the operator: its verify token is not shown again."""

    channel: str
    verify_token: str | None = field(repr=False)  # None when this step issued no new one
    auth: str = "meta"  # or 360dialog-partner, which has no verify token

    @property
    def webhook_path(self) -> str:
        """The path Meta posts to (and verifies with a GET) for this channel."""
        return f"/webhooks/{self.channel}"

    def as_json(self) -> dict[str, Any]:
        """The fields scripts read."""
        return {
            "channel": self.channel,
            "auth": self.auth,
            "verify_token": self.verify_token,
            "webhook_path": self.webhook_path,
        }


def check_secret_text(text: str, what: str) -> str:
    """`text` stripped, if it can be an app secret or a verify token, else ChannelError."""
    text = text.strip()
    if not text:
        raise ChannelError(f"the {what} is empty")
    if len(text) > MAX_SECRET_CHARS:
        raise ChannelError(f"the {what} is longer than {MAX_SECRET_CHARS} characters")
    if not all("!" <= c <= "~" for c in text):
        raise ChannelError(f"the {what} may hold only visible ASCII characters, no spaces")
    if len(text) < MIN_SECRET_CHARS:
        # A handshake is answered to whoever knows the token: it must not be guessable.
        raise ChannelError(f"the {what} is shorter than {MIN_SECRET_CHARS} characters")
    return text


def generate_verify_token() -> str:
    """A new verify token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def add_meta_channel(
    db: Database,
    sealer: Sealer,
    name: str,
    app_secret: str,
    verify_token: str | None = None,
    phone_number: str | None = None,
) -> IssuedMetaChannel:
    """Create a meta channel with its app secret and a verify token (generated unless given)."""
    validate_name(name)
    app_secret = check_secret_text(app_secret, "app secret")
    token = check_secret_text(verify_token, "verify token") if verify_token else None
    token = token or generate_verify_token()
    if phone_number is not None:
        phone_number = normalize_phone_number(phone_number)
    with db.transaction() as conn:
        ensure_key(conn, sealer)
        created = conn.execute(
            query("create_channel"), {"name": name, "phone_number": phone_number, "auth": "meta"}
        ).fetchone()
        if created is None:
            raise ChannelError(f"channel {name!r} already exists")
        _add_secret(conn, sealer, name, APP_SECRET, app_secret)
        _add_secret(conn, sealer, name, VERIFY_TOKEN, token)
    return IssuedMetaChannel(name, token)


def add_partner_channel(
    db: Database, sealer: Sealer, name: str, platform_secret: str, phone_number: str | None = None
) -> IssuedMetaChannel:
    """Create a 360dialog partner channel, its bodies signed with `platform_secret`."""
    validate_name(name)
    platform_secret = check_secret_text(platform_secret, "platform secret")
    if phone_number is not None:
        phone_number = normalize_phone_number(phone_number)
    with db.transaction() as conn:
        ensure_key(conn, sealer)
        created = conn.execute(
            query("create_channel"), {"name": name, "phone_number": phone_number, "auth": PARTNER}
        ).fetchone()
        if created is None:
            raise ChannelError(f"channel {name!r} already exists")
        _add_secret(conn, sealer, name, PLATFORM_SECRET, platform_secret)
    return IssuedMetaChannel(name, None, PARTNER)


def rotate_signed(
    db: Database,
    sealer: Sealer,
    name: str,
    app_secret: str | None,
    new_verify_token: bool,
    kind: str = "meta",
) -> IssuedMetaChannel:
    """Add a signing secret (the old one stays valid until `expire_old_secrets`), and/or
    replace a meta channel's verify token (Meta asks for it only when the callback is set)."""
    if app_secret is None and not new_verify_token:
        raise ChannelError(NOTHING_TO_ROTATE[kind].format(name=name))
    secret_kind = SIGNING_SECRET[kind]
    what = secret_kind.replace("_", " ")
    app_secret = check_secret_text(app_secret, what) if app_secret is not None else None
    with db.transaction() as conn:
        lock_channel(conn, name, kind)
        ensure_key(conn, sealer)
        if app_secret is not None:
            if len(_valid(conn, name, secret_kind)) >= 2:
                raise ChannelError(
                    f"channel {name!r} already has two valid {what}s; finish that rotation"
                    f" first with: wabahook channels rotate {name} --expire-old"
                )
            _add_secret(conn, sealer, name, secret_kind, app_secret)
        token = None
        if new_verify_token:
            token = generate_verify_token()
            _add_secret(conn, sealer, name, VERIFY_TOKEN, token)
            newest = _valid(conn, name, VERIFY_TOKEN)[0]
            conn.execute(query("expire_meta_secrets_except"),
                         {"channel": name, "kind": VERIFY_TOKEN, "keep_id": newest})  # fmt: skip
    return IssuedMetaChannel(name, token, kind)


def expire_old_secrets(db: Database, name: str, kind: str = "meta") -> int:
    """End every signing secret of the channel but the newest; returns how many ended."""
    secret_kind = SIGNING_SECRET[kind]
    with db.transaction() as conn:
        lock_channel(conn, name, kind)
        valid = _valid(conn, name, secret_kind)
        if not valid:
            what = secret_kind.replace("_", " ")
            raise ChannelError(f"channel {name!r} has no valid {what}; rotate one in first")
        ended = conn.execute(
            query("expire_meta_secrets_except"),
            {"channel": name, "kind": secret_kind, "keep_id": valid[0]},
        ).fetchall()
        return len(ended)


def channel_kind(db: Database, name: str) -> str:
    """`basic`, `meta` or `360dialog-partner`, or ChannelError when there is no such channel."""
    validate_name(name)
    row = db.fetch_one("channel_kind", {"name": name})
    if row is None:
        raise ChannelError(f"no channel named {name!r}")
    return str(row["auth"])


def ensure_key(conn: Any, sealer: Sealer) -> None:
    """Store the key's check value with the first sealed secret, or check it matches."""
    conn.execute(query("store_secret_key_check"), {"sealed": sealer.check_token()})
    row = conn.execute(query("secret_key_check")).fetchone()
    problem = key_problem(sealer, bytes(row["sealed"]), bool(row["meta_channels"]))
    if problem:
        raise ChannelError(problem)


def _add_secret(conn: Any, sealer: Sealer, name: str, kind: str, plaintext: str) -> None:
    conn.execute(
        query("add_meta_secret"),
        {"channel": name, "kind": kind, "sealed": sealer.seal(plaintext.encode("ascii"))},
    )


def _valid(conn: Any, name: str, kind: str) -> list[int]:
    """Ids of the valid secrets of `kind`, newest first."""
    rows = conn.execute(query("valid_meta_secrets"), {"channel": name, "kind": kind}).fetchall()
    return [row["id"] for row in rows]
