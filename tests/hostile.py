"""Hostile and broken bodies, each with what processing must make of it.

Every body is authenticated (it gets past intake); what matters is that none of them
fails, halts the queue or sinks a sibling item. Shared by the parser's unit tests and
the catalogue that posts them through the real receiver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

T = 1750000000  # a plausible status time (June 2025)
FAR_FUTURE = int(time.time()) + 3 * 86400  # past the day of slack after receipt


@dataclass(frozen=True)
class Hostile:
    """A body and its expected outcome."""

    name: str
    body: bytes
    state: str = "processed"
    messages: frozenset[str] = frozenset()  # message ids that must be projected
    statuses: frozenset[tuple[str, str]] = frozenset()  # (message id, status) projected
    notes: frozenset[str] = frozenset()  # note keys that must be counted
    rejection: str = ""  # part of the rejection reason
    codes: dict[str, list[int]] = field(default_factory=dict)  # message id -> error codes


def status(mid: str, ts: object = T, extra: str = "", state: str = "sent") -> str:
    """One On-Premise status item as JSON text; `ts` goes in verbatim when not an int."""
    stamp = f'"{ts}"' if isinstance(ts, int) else str(ts)
    return f'{{"id":"{mid}","status":"{state}","timestamp":{stamp}{extra}}}'


def statuses(*items: str) -> bytes:
    """An On-Premise body of status items."""
    return ('{"statuses":[' + ",".join(items) + "]}").encode()


def cloud_text(mid: str, text: str = "hi", extra: str = "", sender: str = "4915100000001") -> bytes:
    """A Cloud API body with one text message."""
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
        '"value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"100"},'
        f'"messages":[{{"from":"{sender}","id":"{mid}","timestamp":"{T}","type":"text",'
        f'"text":{{"body":"{text}"}}{extra}}}]}}}}]}}]}}'
    ).encode()


OK = status("ok-sibling")
SIBLING = frozenset({("ok-sibling", "sent")})

BODIES = [
    # Numbers Python's int() refuses (over 4,300 digits) but jsonb takes.
    Hostile("5000-digit integer", b'{"statuses":[' + OK.encode() + b'],"n":' + b"7" * 5000 + b"}",
            statuses=SIBLING),
    Hostile("5000-digit timestamp", statuses(OK, status("big-ts", "7" * 5000)), statuses=SIBLING,
            notes=frozenset({"status_without_id_status_or_timestamp"})),
    # Numbers jsonb refuses (numeric's range): the whole body is rejected, visibly.
    Hostile("200000-digit integer", b'{"statuses":[],"n":' + b"9" * 200_000 + b"}",
            state="rejected", rejection="PostgreSQL jsonb refuses it"),
    Hostile("exponent past numeric", b'{"statuses":[],"n":1e999999}', state="rejected",
            rejection="PostgreSQL jsonb refuses it"),
    Hostile("NaN", b'{"statuses":[],"n":NaN}', state="rejected", rejection="NaN"),
    Hostile("-Infinity", b'{"statuses":[],"n":-Infinity}', state="rejected",
            rejection="Infinity"),
    Hostile("lone surrogate", b'{"statuses":[],"n":"\\ud800"}', state="rejected",
            rejection="lone surrogate"),
    Hostile("escaped NUL", b'{"statuses":[],"n":"a\\u0000b"}', state="rejected",
            rejection="\\u0000"),
    Hostile("UTF-8 BOM before a valid envelope", b"\xef\xbb\xbf" + cloud_text("wamid.bom"),
            messages=frozenset({"wamid.bom"})),
    Hostile("two BOMs", b"\xef\xbb\xbf\xef\xbb\xbf{}", state="rejected", rejection="invalid JSON"),
    Hostile("deep nesting", b'{"statuses":[],"n":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            state="rejected", rejection="invalid JSON"),
    Hostile("invalid UTF-8", b'{"statuses":[],"n":"\xff"}', state="rejected",
            rejection="invalid UTF-8"),
    # Times outside 2009-01-01 .. received_at + 1 day: the item goes, its sibling stays.
    Hostile("status timestamp 99999999999999", statuses(OK, status("t-big", 99999999999999)),
            statuses=SIBLING, notes=frozenset({"implausible_timestamp:status"})),
    Hostile("status timestamp in milliseconds (year 56869)",
            statuses(OK, status("t-ms", 1732590000000)), statuses=SIBLING,
            notes=frozenset({"implausible_timestamp:status"})),
    Hostile("status timestamp 1200 BC", statuses(OK, status("t-bc", -99999999999)),
            statuses=SIBLING, notes=frozenset({"implausible_timestamp:status"})),
    Hostile("status timestamp 1970", statuses(OK, status("t-1970", 1)), statuses=SIBLING,
            notes=frozenset({"implausible_timestamp:status"})),
    Hostile("status three days ahead", statuses(OK, status("t-ahead", FAR_FUTURE, state="read")),
            statuses=SIBLING, notes=frozenset({"implausible_timestamp:status"})),
    Hostile("message timestamp 10**14",
            cloud_text("wamid.ts").replace(f'"{T}"'.encode(), b"100000000000000"),
            messages=frozenset({"wamid.ts"}), notes=frozenset({"implausible_timestamp:message"})),
    # Numbers past an integer column: the value goes, with a note.
    Hostile("error code 99999999999", statuses(OK, status(
        "code-big", extra=',"errors":[{"code":99999999999,"title":"x"},{"code":131026}]',
        state="failed")), statuses=SIBLING | {("code-big", "failed")},
            notes=frozenset({"error_code_out_of_range"}), codes={"code-big": [131026]}),
    Hostile("notification error code 2**40", b'{"errors":[{"code":1099511627776,"title":"t"}]}',
            notes=frozenset({"error_code_out_of_range"})),
    Hostile("30-digit recipient", statuses(OK, status("r-huge", extra=',"recipient_id":' + "9" * 30)),
            statuses=SIBLING | {("r-huge", "sent")}),
    # Strings past an index's limit: the value (or, for a key, the item) goes.
    Hostile("3000-character status", statuses(OK, status("s-long", state="x" * 3000)),
            statuses=SIBLING, notes=frozenset({"status_without_id_status_or_timestamp"})),
    Hostile("message id of 300 euro signs", cloud_text("€" * 300),
            notes=frozenset({"message_without_id"})),
    Hostile("3000-character wa_id", cloud_text("wamid.longfrom", sender="1" * 3000),
            messages=frozenset({"wamid.longfrom"}), notes=frozenset({"too_long:from"})),
    Hostile("3000-character conversation id", statuses(OK, status(
        "conv-long", extra=',"conversation":{"id":"' + "c" * 3000 + '"}')),
            statuses=SIBLING | {("conv-long", "sent")}, notes=frozenset({"too_long:id"})),
    # Sender text in note keys: bounded in number, length and characters.
    Hostile("3000 made-up types", b'{"messages":[' + b",".join(
        b'{"id":"t%d","type":"kind-%d-%s","timestamp":"%d"}' % (i, i, b"x" * 200, T)
        for i in range(3000)) + b"]}", messages=frozenset({"t0", "t2999"}),
            notes=frozenset({"notes_truncated"})),
    Hostile("control characters in a type", cloud_text("wamid.ctl").replace(
        b'"type":"text"', b'"type":"\\u001b]0;owned\\u0007\\r\\nx"'),
            messages=frozenset({"wamid.ctl"}),
            notes=frozenset({"unknown_type:\\x1b]0;owned\\x07\\r\\nx"})),
    # Wrong types everywhere.
    Hostile("wrong types", b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":'
            b'"messages","value":{"metadata":[],"messages":[{"id":["x"]},{"id":"w1","from":{},'
            b'"timestamp":true,"type":7,"context":"c"}],"statuses":{"id":"s"},"errors":[1,'
            b'{"code":"abc","title":{}}]}}]},7,{"changes":"x"}]}',
            messages=frozenset({"w1"}), notes=frozenset({"not_a_list:statuses", "bad_entry"})),
    Hostile("float and padded timestamps", statuses(
        status("f1", "1.75e9"), status("f2", '" 1750000001 "'), status("f3", "1750000002.5")),
            statuses=frozenset({("f1", "sent"), ("f2", "sent")}),
            notes=frozenset({"status_without_id_status_or_timestamp"})),
]  # fmt: skip
