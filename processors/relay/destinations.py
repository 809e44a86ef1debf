"""Destinations: the team's own applications, each with its URL, filters and signing secret."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from processors.channels.meta import ensure_key
from processors.relay.http import ascii_url
from processors.relay.signing import new_secret, secret_key
from processors.stored.selection import Selection
from receiver.auth import CHANNEL_NAME
from receiver.config import shown
from receiver.db import Database
from receiver.errors import WabahookError
from receiver.queries import query
from receiver.sealing import Sealer

FORMATS = ("raw", "facts")
# The types of fact a `facts` destination is sent (docs/relay.md, docs/facts/*.json).
FACT_TYPES = (
    "message.received", "message.status", "message.changed", "opt_out.changed",
    "template.updated", "account.event", "phone_number.updated", "group.updated",
    "person.updated", "conversion", "link.clicked", "flow.event", "partner.event",
    "history.progress", "history.message",
)  # fmt: skip
MAX_URL_CHARS = 2000


class DestinationError(WabahookError):
    """A destination cannot be added or changed as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class NewDestination:
    """What `destinations add` asks for."""

    name: str
    url: str
    format: str = "raw"
    channels: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    max_in_flight: int = 8
    max_age_seconds: float = 3 * 86400
    timeout_seconds: float = 10.0
    ordered: bool = False
    allow_addresses: tuple[str, ...] = ()


def check_url(url: str) -> str:
    """`url` if it is an http(s) URL without credentials in it, else DestinationError."""
    parts = urlsplit(url) if len(url) <= MAX_URL_CHARS and url.isprintable() else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationError(f"--url must be an http:// or https:// URL, not {shown(url)}")
    if parts.username is not None or parts.password is not None:
        # They would be stored and shown; the signature is what proves a delivery is ours.
        raise DestinationError("--url must not hold a user or password: the signature proves it")
    try:
        return ascii_url(url)  # stored as it is sent
    except ValueError as exc:
        raise DestinationError(f"--url {shown(url)} cannot be requested: {exc}") from None


def check_name(name: str) -> str:
    """`name` if it is a valid destination name, else DestinationError."""
    if not CHANNEL_NAME.fullmatch(name):  # the same rule as channel names
        raise DestinationError(
            f"invalid destination name {shown(name)}: use 1-63 lowercase letters, digits and"
            " inner hyphens"
        )
    return name


def check_networks(values: tuple[str, ...]) -> tuple[str, ...]:
    """`--allow-address` values as networks (CIDR or one address), else DestinationError."""
    networks = []
    for value in values:
        try:
            networks.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise DestinationError(
                f"--allow-address takes an address or CIDR, not {shown(value)}"
            ) from None
    return tuple(networks)


def add(db: Database, sealer: Sealer, wanted: NewDestination, secret: str | None) -> str:
    """Add a destination; returns its signing secret (`secret`, or a new one)."""
    check_name(wanted.name)
    url = check_url(wanted.url)
    if wanted.kinds and wanted.format == "raw":
        raise DestinationError(
            "--kind filters facts, and --format raw sends events before they are parsed: "
            "use --format facts with --kind"
        )
    if wanted.format not in FORMATS:
        raise DestinationError(f"--format must be one of {', '.join(FORMATS)}")
    for kind in wanted.kinds:
        if kind not in FACT_TYPES:
            raise DestinationError(
                f"--kind {shown(kind)} is no type of fact: use {', '.join(FACT_TYPES)}"
            )
    for channel in wanted.channels:
        if not CHANNEL_NAME.fullmatch(channel):
            raise DestinationError(f"--channel {shown(channel)} is no channel name")
    secret = new_secret() if secret is None else secret
    secret_key(secret)  # refused before anything is stored
    with db.transaction() as conn:
        ensure_key(conn, sealer)
        row = conn.execute(
            query("destination_add"),
            {
                "name": wanted.name, "url": url, "format": wanted.format,
                "channels": list(wanted.channels), "kinds": list(wanted.kinds),
                "max_in_flight": wanted.max_in_flight, "max_age": wanted.max_age_seconds,
                "timeout": wanted.timeout_seconds, "ordered": wanted.ordered,
                "allow_addresses": list(check_networks(wanted.allow_addresses)),
            },
        ).fetchone()  # fmt: skip
        if row is None:
            raise DestinationError(f"a destination named {wanted.name!r} exists already")
        _add_secret(conn, sealer, row["id"], secret)
    return secret


def rotate_secret(db: Database, sealer: Sealer, name: str, secret: str | None) -> str:
    """Give `name` a new secret beside its current one (both sign until `expire_old`)."""
    secret = new_secret() if secret is None else secret
    secret_key(secret)
    with db.transaction() as conn:
        ensure_key(conn, sealer)
        _add_secret(conn, sealer, _id(conn, name), secret)
    return secret


def expire_old(db: Database, name: str) -> None:
    """Keep only the newest secret of `name`."""
    with db.transaction() as conn:
        conn.execute(query("destination_secrets_expire_others"), {"destination": _id(conn, name)})


def signing_keys(conn: Any, sealer: Sealer, destination: int) -> list[bytes]:
    """The HMAC keys of a destination's valid secrets, newest first."""
    rows = conn.execute(query("destination_valid_secrets"), {"destination": destination})
    return [secret_key(sealer.open(bytes(row["sealed"])).decode("ascii")) for row in rows]


def set_paused(db: Database, name: str, paused: bool) -> None:
    """Pause (events still queue up) or resume deliveries to `name`."""
    if db.fetch_one("destination_set_paused", {"name": name, "paused": paused}) is None:
        raise DestinationError(f"no destination named {shown(name)}")


def remove(db: Database, name: str) -> None:
    """Remove `name` and its delivery log."""
    if db.fetch_one("destination_remove", {"name": name}) is None:
        raise DestinationError(f"no destination named {shown(name)}")


def listed(db: Database) -> list[dict[str, Any]]:
    """Every destination with its delivery counts."""
    return [dict(row) for row in db.fetch_all("destinations_all")]


def named(db: Database, name: str) -> dict[str, Any]:
    """Destination `name` with its delivery counts, else DestinationError."""
    for row in listed(db):
        if row["name"] == name:
            return row
    raise DestinationError(f"no destination named {shown(name)}")


def queue_stored(db: Database, name: str, selection: Selection) -> int:
    """Queue the selected stored events for raw destination `name`; how many."""
    with db.transaction() as conn:
        row = conn.execute(query("destination_format"), {"name": name}).fetchone()
        if row is None:
            raise DestinationError(f"no destination named {shown(name)}")
        if row["format"] != "raw":
            raise DestinationError(
                f"{name} takes facts, made when events are processed: replay the events"
                " (wabahook replay), and the facts it has not had yet are sent to it"
            )
        done = conn.execute(
            query("relay_queue_stored"), {**selection.params(), "destination": name}
        )
        return max(0, done.rowcount)


def _id(conn: Any, name: str) -> int:
    row = conn.execute(query("destination_id"), {"name": name}).fetchone()
    if row is None:
        raise DestinationError(f"no destination named {shown(name)}")
    return int(row["id"])


def _add_secret(conn: Any, sealer: Sealer, destination: int, secret: str) -> None:
    conn.execute(
        query("destination_secret_add"),
        {"destination": destination, "sealed": sealer.seal(secret.encode("ascii"))},
    )
