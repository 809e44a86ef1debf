"""One HTTP delivery attempt's parts, shared by the relay and `forward`."""

from __future__ import annotations

import ipaddress
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import certifi
import httpcore
import httpx

from receiver.errors import WabahookError

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Of a destination's answer only this much is read: enough for the error text, and a
# hostile destination that answers gigabytes costs no more memory than a polite one.
ANSWER_BYTES = 1024
ERROR_CHARS = 200
# What a request can carry in a header value (RFC 9110 field-value: visible ASCII,
# obs-text, spaces and tabs between them); a CR, an LF or a NUL would end or split it.
FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")


class UnsendableHeader(WabahookError, ValueError):
    """A stored header value no request can carry; the message says which and why."""


def as_received(name: str, value: str) -> bytes:
    """A stored header value as the bytes it arrived as; UnsendableHeader if none could be."""
    try:
        # The receiver keeps a header's bytes past ASCII as Latin-1 text: this undoes it.
        raw = value.encode("latin-1")
    except UnicodeEncodeError:  # the reason first: a long value is cut short when stored
        raise UnsendableHeader(f"stored {name} holds a character past Latin-1: {value!r}") from None
    # Surrounding spaces are no part of a field value, and h11 refuses to send them.
    raw = raw.strip(b" \t")
    if not FIELD_VALUE.fullmatch(raw):
        raise UnsendableHeader(f"stored {name} holds a control character: {value!r}")
    return raw


def first_bytes(response: httpx.Response, limit: int = ANSWER_BYTES) -> bytes:
    """At most `limit` bytes of the answer's body; the rest is never read.

    Leaving the stream early makes httpx close that connection instead of reusing it.
    """
    kept = bytearray()
    for chunk in response.iter_raw():  # transport-sized chunks (64 KiB at most)
        kept += chunk[: limit - len(kept)]
        if len(kept) >= limit:
            break
    return bytes(kept)


def error_text(text: str) -> str:
    """A per-event error as stored: cut short, and without NUL, which text columns refuse."""
    return text[:ERROR_CHARS].replace("\x00", "\N{REPLACEMENT CHARACTER}").strip()


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the destination asked to wait (RFC 9110: digits or an HTTP-date), else None."""
    value = response.headers.get("Retry-After", "").strip()
    # isascii: str.isdigit() also takes superscripts and other scripts' digits.
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# Where no destination may point unless `--allow-address` names it: "this network"
# (0.0.0.0/8), link-local addresses, where cloud metadata services answer (169.254.169.254,
# fe80::/10, AWS's fd00:ec2::254). Loopback and private ranges are allowed: the team's
# application usually lives there.
REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("0.0.0.0/8", "169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128")
)


def refused(address: str, allowed: tuple[str, ...] = ()) -> bool:
    """Whether a connection to `address` is refused (IPv4-mapped IPv6 read as IPv4)."""
    ip = ipaddress.ip_address(address.partition("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in ipaddress.ip_network(network) for network in allowed):
        return False
    return any(ip in network for network in REFUSED_NETWORKS)


class _PeerCheckingBackend(httpcore.SyncBackend):
    """Connects as httpcore does, then checks the address actually connected to.

    Checked on the connection, not on the name when a destination is added: a name that
    resolves elsewhere later (DNS rebinding) is caught all the same, before a byte is sent.
    """

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self._allowed = allowed

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        stream = super().connect_tcp(host, port, *args, **kwargs)
        peer = stream.get_extra_info("socket").getpeername()[0]
        if refused(peer, self._allowed):
            stream.close()
            raise httpcore.ConnectError(
                f"refused to connect to {peer}: a link-local or metadata address"
                " (--allow-address names the ones a destination may use)"
            )
        return stream


def destination_client(
    timeout: float, max_in_flight: int, allowed: tuple[str, ...] = (), user_agent: str = ""
) -> httpx.Client:
    """A keep-alive client for one destination: no redirects, no proxies from the
    environment (the peer checked must be the destination), connections checked."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx takes no network backend of its own: its pool is replaced by an equal one
    # that connects through the checking backend.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl.create_default_context(cafile=certifi.where()),
        max_connections=max_in_flight,
        max_keepalive_connections=max_in_flight,
        keepalive_expiry=5.0,
        network_backend=_PeerCheckingBackend(allowed),
    )
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        # identity: the answer's first bytes are read raw, and a compressed answer
        # could inflate far beyond what was read off the wire.
        headers={"User-Agent": user_agent or "wabahook-relay", "Accept-Encoding": "identity"},
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """What one POST came to: delivered (2xx), worth retrying, or refused for good."""

    status: int | None  # None: no answer (timeout, connection error, refused address)
    error: str | None
    retry: bool  # a timeout, a connection error, 408, 425, 429 or 5xx
    retry_after: float | None = None  # seconds the destination asked to wait

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post_once(client: httpx.Client, url: str, body: bytes, headers: dict[bytes, bytes]) -> Answer:
    """POST `body` once, read at most ANSWER_BYTES of the answer, and classify it: the
    step the relay and `forward` share."""
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            answer = first_bytes(response)
    except httpx.HTTPError as exc:
        return Answer(None, error_text(f"{type(exc).__name__}: {exc}"), retry=True)
    status = response.status_code
    if 200 <= status < 300:
        return Answer(status, None, retry=False)
    error = error_text(f"HTTP {status}: {answer.decode('utf-8', 'replace')}")
    if status not in RETRY_STATUSES:
        return Answer(status, error, retry=False)
    return Answer(status, error, retry=True, retry_after=retry_after(response))
