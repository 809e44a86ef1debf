"""What a delivery attempt's answer means, and where a destination may point: the rules
shared by the relay, `destinations test` and `forward`."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit, urlunsplit

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


def error_text(text: str) -> str:
    """A per-event error as stored: cut short, and without NUL, which text columns refuse."""
    return text[:ERROR_CHARS].replace("\x00", "\N{REPLACEMENT CHARACTER}").strip()


def retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After value asks to wait (RFC 9110: digits or an HTTP-date), else None."""
    value = (value or "").strip()
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
# (0.0.0.0/8, and its IPv6 twin ::, which reaches this host), link-local addresses,
# where cloud metadata services answer (169.254.169.254, fe80::/10, AWS's
# fd00:ec2::254). Loopback and private ranges are allowed: the application lives there.
REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("0.0.0.0/8", "::/128", "169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128")
)


def refused(address: str, allowed: tuple[str, ...] = ()) -> bool:
    """Whether a connection to `address` is refused (IPv4-mapped IPv6 read as IPv4)."""
    ip = ipaddress.ip_address(address.partition("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in ipaddress.ip_network(network) for network in allowed):
        return False
    return any(ip in network for network in REFUSED_NETWORKS)


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


def answer_of(status: int, first: bytes, retry_after_value: str | None) -> Answer:
    """Classify an answer from its status, its first bytes and its Retry-After."""
    if 200 <= status < 300:
        return Answer(status, None, retry=False)
    error = error_text(f"HTTP {status}: {first.decode('utf-8', 'replace')}")
    if status not in RETRY_STATUSES:
        return Answer(status, error, retry=False)
    return Answer(status, error, retry=True, retry_after=retry_after(retry_after_value))


def failure_of(reason: str, retry: bool = True) -> Answer:
    """No answer: a timeout, a connection error, a refused address (worth retrying), or a
    request that cannot be made at all (not worth it)."""
    return Answer(None, error_text(reason), retry=retry)


# What is left as it is in a URL's path and query: the reserved characters, and `%`
# (an escape already made). Spaces and anything past ASCII are percent-encoded.
_KEPT_IN_PATH = "/%:@!$&'()*+,;=?~-._"


def requested_url(url: str) -> str:
    """A stored destination URL as it is requested: in ASCII where it can be (one stored
    before URLs were kept that way), else as it is (its attempts then say why)."""
    try:
        return ascii_url(url)
    except ValueError:
        return url


def ascii_url(url: str) -> str:
    """`url` as a request line carries it: the host in IDNA, the rest percent-encoded
    where needed; ValueError when no request can be made to it (a bad port or host)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address: checked, and kept in brackets
        ipaddress.ip_address(host.partition("%")[0])
        host = f"[{host}]"
    else:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"the host {host!r} is no valid name") from None
    port = parts.port  # ValueError when it is no number from 0 to 65535
    netloc = host if port is None else f"{host}:{port}"
    path = quote(parts.path, safe=_KEPT_IN_PATH)
    query = quote(parts.query, safe=_KEPT_IN_PATH)
    return urlunsplit((parts.scheme, netloc, path, query, ""))
