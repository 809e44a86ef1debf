"""Parse both notification formats (On-Premise v1 and Cloud API) into processors.pipeline.model.

The parser reads the stored bytes and yields plain facts plus, for each item, its
JSON path inside the body. PostgreSQL later extracts the item's payload from its
own parse of the same bytes, so stored JSON is never re-serialised by Python.

It never raises for any input but `Rejected`: what is unusable about the body as a
whole rejects it; what is unusable about one item drops that item (or one value of
it) with a note, and its siblings go on. This module reads the document and walks
it; each kind of item is read by its projection's module (processors/pipeline/projections),
and every typed value passes `processors.pipeline.values`.
"""

from __future__ import annotations

import json
import re
from array import array
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, NoReturn

from processors.pipeline.model import Change, ParsedEvent
from processors.pipeline.projections import readers_of
from processors.pipeline.reading import label_of, shown, text_of, time_of
from processors.pipeline.values import TimeWindow, json_int
from receiver.errors import WabahookError

# A 360dialog partner's wrapped deliveries whose data is a Cloud API `value` of that
# field; every other `event` of theirs is a partner event.
WRAPPED_FIELDS = frozenset({"history", "smb_app_state_sync"})
PARTNER_EVENT = "partner_event"  # the field partner events are read under

UTF8_BOM = b"\xef\xbb\xbf"
# Far deeper than any notification, far below what Python's json can recurse into.
MAX_DEPTH = 256
# A JSON string, ended by its closing quote or, unterminated, by the end of the body:
# once started, the match never fails, so no byte is scanned twice. (A pattern that
# needs the closing quote restarts at every escaped quote of an unterminated string,
# which is quadratic in its length.)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes
# Cheap pre-check for escapes jsonb refuses (\u0000 and lone surrogates); a match
# is confirmed by walking the decoded document, since pairs and "\\u0000" are fine.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class Rejected(WabahookError):
    """The body can never be projected; the message is the reason shown to operators."""


def _take(event: ParsedEvent, change: Change) -> None:
    """Read `change` into `event` with each projection of its field; a field none reads is noted."""
    readers = readers_of(change.field)
    if not readers:
        event.notes.add(f"ignored_change:{shown(change.field)}")
    for projection in readers:
        event.items.setdefault(projection.name, []).extend(projection.read(event, change))


def parse(body: bytes, received_at: datetime | None = None) -> ParsedEvent:
    """Parse one stored body received at `received_at` (default: now).

    Raises Rejected, with the reason shown to operators, when it can never be projected.
    """
    window = TimeWindow.for_event(received_at or datetime.now(UTC))
    document = _document(body)
    if document.get("object") == "whatsapp_business_account":
        return _parse_cloud(document, window)
    if "object" not in document and "event" in document:  # no On-Premise body has one
        return _parse_partner(document, window)
    if "object" not in document and any(
        k in document for k in ("contacts", "messages", "statuses", "errors")
    ):
        event = ParsedEvent("onprem", window=window)
        _take(event, Change("messages", document, (), 0, None, None, None))
        return event
    raise Rejected("unknown shape: neither a Cloud API, an On-Premise nor a partner notification")


def _document(body: bytes) -> dict[str, Any]:
    """The body as a JSON object that PostgreSQL's jsonb also takes, or Rejected."""
    # A leading byte order mark is not JSON, but senders add it; PostgreSQL skips it too.
    text_bytes = body[len(UTF8_BOM) :] if body.startswith(UTF8_BOM) else body
    try:
        text = text_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(f"invalid UTF-8 at byte {exc.start}") from None
    if too_deep(text_bytes):
        raise Rejected(f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
    if text.startswith("\ufeff"):  # a second mark: refused as json.loads refuses it
        raise Rejected("invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig)")
    try:
        document = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise Rejected(f"invalid JSON: {exc.msg}") from None
    if not isinstance(document, dict):
        raise Rejected(f"a JSON {_json_type(document)} is not an object")
    if _SUSPECT_ESCAPE.search(text_bytes) and _has_unstorable_text(document):
        raise Rejected("contains \\u0000 or a lone surrogate, which PostgreSQL jsonb refuses")
    return document


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None or isinstance(value, bool):
        return "literal"
    return "number"


def too_deep(body: bytes) -> bool:
    """Whether arrays and objects nest deeper than MAX_DEPTH (strings skipped).

    Decided on the bytes, never by Python's recursion limit, whose headroom depends
    on the caller's stack: a drain and a rebuild must judge a body alike.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False  # the common case: not even enough brackets
    # Every step runs in C and visits each byte a bounded number of times: strings out,
    # then only brackets kept, then the deepest running sum of their +1 and -1.
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    steps = array("b", brackets.translate(_BRACKET_STEPS))
    return max(accumulate(steps), default=0) > MAX_DEPTH


def _refuse_constant(name: str) -> NoReturn:
    # Python's json takes NaN and Infinity; JSON and PostgreSQL's jsonb do not.
    raise Rejected(f"invalid JSON: {name} is not a JSON number")


def _parse_cloud(document: dict[str, Any], window: TimeWindow) -> ParsedEvent:
    event = ParsedEvent("cloud", window=window)
    entries = document.get("entry")
    if not isinstance(entries, list):
        raise Rejected("Cloud API body without an entry list")
    position = 0
    for e, entry in enumerate(entries):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            event.notes.add("bad_entry")
            continue
        waba_id = label_of(event, entry, "id")
        entry_time = time_of(event, entry.get("time"), "entry")
        for c, change in enumerate(changes):
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                event.notes.add("bad_change")
                continue
            value = change["value"]
            metadata = value.get("metadata")
            _take(
                event,
                Change(
                    field=shown(change.get("field")),
                    value=value,
                    path=("entry", str(e), "changes", str(c), "value"),
                    position=position,
                    waba_id=waba_id,
                    entry_time=entry_time,
                    phone_number_id=label_of(event, metadata, "phone_number_id"),
                ),
            )
            position += 1
    return event


def _parse_partner(document: dict[str, Any], window: TimeWindow) -> ParsedEvent:
    """A 360dialog partner's delivery: `{"id", "event", "data"}`, or a flat `{"event", ...}`.

    History and app state sync carry a Cloud API `value` as their data (with the WABA id
    beside it, where Cloud puts it in `entry.id`); every other event is a partner event.
    """
    event = ParsedEvent("partner", window=window)
    data = document.get("data")
    name = document.get("event")
    if isinstance(data, dict) and isinstance(name, str) and name in WRAPPED_FIELDS:
        change = Change(
            field=name,
            value=data,
            path=("data",),
            position=0,
            waba_id=text_of(event, data, "id") or None,
            entry_time=None,
            phone_number_id=text_of(event, data.get("metadata"), "phone_number_id") or None,
        )
    else:
        if name in WRAPPED_FIELDS:
            event.notes.add("not_an_object:data")  # read as a partner event, kept whole
        change = Change(PARTNER_EVENT, document, (), 0, None, None, None)
    _take(event, change)
    return event


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Made once: json.loads with these arguments would build a decoder for every body.
_DECODER = json.JSONDecoder(parse_int=json_int, parse_constant=_refuse_constant)


def _has_unstorable_text(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


__all__ = ["Rejected", "parse"]
