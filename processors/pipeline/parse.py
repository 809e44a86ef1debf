"""Parse both notification formats (On-Premise v1 and Cloud API) into one model.

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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn

from processors.pipeline.projections.errors import ErrorNotification, read_error
from processors.pipeline.projections.messages import InboundMessage, read_message
from processors.pipeline.projections.statuses import StatusUpdate, read_status
from processors.pipeline.reading import Path, dig, indexed, items, label_of, shown
from processors.pipeline.values import Notes, TimeWindow, json_int, string

Format = Literal["cloud", "onprem"]

UTF8_BOM = b"\xef\xbb\xbf"
# Far deeper than any notification, far below what Python's json can recurse into.
MAX_DEPTH = 256
_BRACKET_OR_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
# Cheap pre-check for escapes jsonb refuses (\u0000 and lone surrogates); a match
# is confirmed by walking the decoded document, since pairs and "\\u0000" are fine.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class Rejected(Exception):
    """The body can never be projected; the message is the reason shown to operators."""


@dataclass(slots=True)
class ParsedEvent:
    """Everything one body says, item by item."""

    format: Format
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    errors: list[ErrorNotification] = field(default_factory=list)
    notes: Notes = field(default_factory=Notes)
    window: TimeWindow = field(default_factory=lambda: TimeWindow.for_event(datetime.now(UTC)))


def parse(body: bytes, received_at: datetime | None = None) -> ParsedEvent:
    """Parse one stored body received at `received_at` (default: now).

    Raises Rejected, with the reason shown to operators, when it can never be projected.
    """
    window = TimeWindow.for_event(received_at or datetime.now(UTC))
    document = _document(body)
    if document.get("object") == "whatsapp_business_account":
        return _parse_cloud(document, window)
    if "object" not in document and any(
        k in document for k in ("contacts", "messages", "statuses", "errors")
    ):
        event = ParsedEvent("onprem", window=window)
        _parse_value(event, document, (), phone_number_id=None)
        return event
    raise Rejected("unknown shape: neither a Cloud API nor an On-Premise notification")


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
    try:
        document = json.loads(text, parse_int=json_int, parse_constant=_refuse_constant)
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
    depth = 0
    for token in _BRACKET_OR_STRING.finditer(body):
        match token.group()[:1]:
            case b"[" | b"{":
                depth += 1
                if depth > MAX_DEPTH:
                    return True
            case b"]" | b"}":
                depth -= 1
    return False


def _refuse_constant(name: str) -> NoReturn:
    # Python's json takes NaN and Infinity; JSON and PostgreSQL's jsonb do not.
    raise Rejected(f"invalid JSON: {name} is not a JSON number")


def _parse_cloud(document: dict[str, Any], window: TimeWindow) -> ParsedEvent:
    event = ParsedEvent("cloud", window=window)
    entries = document.get("entry")
    if not isinstance(entries, list):
        raise Rejected("Cloud API body without an entry list")
    for e, entry in enumerate(entries):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            event.notes.add("bad_entry")
            continue
        for c, change in enumerate(changes):
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                event.notes.add("bad_change")
                continue
            if change.get("field") != "messages":
                # Template, account and quality updates: kept in the raw event, counted.
                event.notes.add(f"ignored_change:{shown(change.get('field'))}")
                continue
            value = change["value"]
            metadata = value.get("metadata")
            phone_number_id = (
                label_of(event, metadata, "phone_number_id") if isinstance(metadata, dict) else None
            )
            _parse_value(
                event, value, ("entry", str(e), "changes", str(c), "value"), phone_number_id
            )
    return event


def _parse_value(
    event: ParsedEvent, value: dict[str, Any], base: Path, phone_number_id: str | None
) -> None:
    names = {
        wa_id: name
        for contact in items(event, value, "contacts")
        if (wa_id := label_of(event, contact, "wa_id"))
        and (name := string(dig(contact, "profile", "name"))) is not None
    }
    for index, message in indexed(event, value, "messages"):
        path = (*base, "messages", str(index))
        if (read := read_message(event, message, path, phone_number_id, names)) is not None:
            event.messages.append(read)
    for index, status in indexed(event, value, "statuses"):
        path = (*base, "statuses", str(index))
        if (update := read_status(event, status, path, phone_number_id)) is not None:
            event.statuses.append(update)
    for index, error in indexed(event, value, "errors"):
        path = (*base, "errors", str(index))
        event.errors.append(read_error(event, error, len(event.errors), path, phone_number_id))


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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


__all__ = [
    "ErrorNotification",
    "InboundMessage",
    "ParsedEvent",
    "Rejected",
    "StatusUpdate",
    "parse",
]
