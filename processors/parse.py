"""Parse both notification formats (On-Premise v1 and Cloud API) into one model.

The parser reads the stored bytes and yields plain facts plus, for each item, its
JSON path inside the body. PostgreSQL later extracts the item's payload from its
own parse of the same bytes, so stored JSON is never re-serialised by Python.

It never raises for any input but `Rejected`: what is unusable about the body as a
whole rejects it; what is unusable about one item drops that item (or one value of
it) with a note, and its siblings go on. Every typed value passes `processors.values`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn

from processors.values import (
    Notes,
    TimeWindow,
    int32,
    integer,
    json_int,
    label,
    printable,
    string,
)

Path = tuple[str, ...]
Format = Literal["cloud", "onprem"]

PROGRESS = ("sent", "delivered", "read", "played")
KNOWN_STATUSES = frozenset({*PROGRESS, "failed", "deleted", "warning"})
KNOWN_TYPES = frozenset(
    {
        "text", "image", "audio", "voice", "video", "document", "sticker", "location",
        "contacts", "button", "interactive", "reaction", "order", "system", "referral",
        "unknown", "unsupported", "ephemeral",
    }
)  # fmt: skip
MEDIA_TYPES = frozenset({"image", "audio", "voice", "video", "document", "sticker"})
KNOWN_MESSAGE_KEYS = frozenset(
    {"from", "id", "timestamp", "type", "context", "errors", "identity", "referral",
     "group_id", "from_user_id", "recipient_type"} | KNOWN_TYPES
)  # fmt: skip
KNOWN_STATUS_KEYS = frozenset(
    {"id", "status", "timestamp", "recipient_id", "recipient_type", "recipient_participant_id",
     "biz_opaque_callback_data", "conversation", "pricing", "errors", "message", "type"}
)  # fmt: skip
UTF8_BOM = b"\xef\xbb\xbf"
# Far deeper than any notification, far below what Python's json can recurse into.
MAX_DEPTH = 256
_BRACKET_OR_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
# Cheap pre-check for escapes jsonb refuses (\u0000 and lone surrogates); a match
# is confirmed by walking the decoded document, since pairs and "\\u0000" are fine.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class Rejected(Exception):
    """The body can never be projected; the message is the reason shown to operators."""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message a customer sent."""

    message_id: str
    wa_id: str | None
    type: str | None
    sent_at: int | None
    phone_number_id: str | None
    text: str | None
    context_message_id: str | None
    contact_name: str | None
    path: Path


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One status notification about a message."""

    message_id: str
    status: str
    status_at: int
    phone_number_id: str | None
    recipient_id: str | None
    conversation_id: str | None
    conversation_category: str | None
    pricing_category: str | None
    pricing_model: str | None
    billable: bool | None
    error_codes: tuple[int, ...]
    path: Path


@dataclass(frozen=True, slots=True)
class ErrorNotification:
    """An out-of-band error (v1 top-level `errors`, Cloud value-level `errors`)."""

    position: int
    code: int | None
    title: str | None
    phone_number_id: str | None
    path: Path


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
                event.notes.add(f"ignored_change:{_shown(change.get('field'))}")
                continue
            value = change["value"]
            metadata = value.get("metadata")
            phone_number_id = (
                _label(event, metadata, "phone_number_id") if isinstance(metadata, dict) else None
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
        for contact in _items(event, value, "contacts")
        if (wa_id := _label(event, contact, "wa_id"))
        and (name := string(_dig(contact, "profile", "name"))) is not None
    }
    for index, message in _indexed(event, value, "messages"):
        parsed = _message(event, message, (*base, "messages", str(index)), phone_number_id, names)
        if parsed is not None:
            event.messages.append(parsed)
    for index, status in _indexed(event, value, "statuses"):
        parsed_status = _status(event, status, (*base, "statuses", str(index)), phone_number_id)
        if parsed_status is not None:
            event.statuses.append(parsed_status)
    for index, error in _indexed(event, value, "errors"):
        event.errors.append(
            ErrorNotification(
                position=len(event.errors),
                code=_code(event, error.get("code")),
                title=string(error.get("title")),
                phone_number_id=phone_number_id,
                path=(*base, "errors", str(index)),
            )
        )


def _message(
    event: ParsedEvent,
    message: dict[str, Any],
    path: Path,
    phone_number_id: str | None,
    names: dict[str, str],
) -> InboundMessage | None:
    message_id = _label(event, message, "id") or None
    if message_id is None:
        event.notes.add("message_without_id")
        return None
    kind = _label(event, message, "type")
    if kind not in KNOWN_TYPES:
        event.notes.add(f"unknown_type:{_shown(kind)}")
    for key in [key for key in message if key not in KNOWN_MESSAGE_KEYS]:  # in body order
        event.notes.add(f"unknown_field:message.{_shown(key)}")
    wa_id = _label(event, message, "from") or _label(event, message, "from_user_id")
    context = message.get("context")
    return InboundMessage(
        message_id=message_id,
        wa_id=wa_id,
        type=kind,
        sent_at=_time(event, message.get("timestamp"), "message"),
        phone_number_id=phone_number_id,
        text=_message_text(kind, message),
        context_message_id=_label(event, context, "id") if isinstance(context, dict) else None,
        contact_name=names.get(wa_id) if wa_id else None,
        path=path,
    )


def _message_text(kind: str | None, message: dict[str, Any]) -> str | None:
    """Text body, media caption, button text, interactive reply title or reaction emoji."""
    if kind == "text":
        return _nonempty(_dig(message, "text", "body"))
    if kind in MEDIA_TYPES:
        return _nonempty(_dig(message, kind, "caption"))
    if kind == "button":
        return _nonempty(_dig(message, "button", "text"))
    if kind == "interactive":
        interactive = message.get("interactive")
        if isinstance(interactive, dict):
            for reply in ("button_reply", "list_reply"):
                if isinstance(interactive.get(reply), dict):
                    return _nonempty(interactive[reply].get("title"))
            if isinstance(interactive.get("nfm_reply"), dict):
                return _nonempty(interactive["nfm_reply"].get("body"))
        return None
    if kind == "reaction":
        return _nonempty(_dig(message, "reaction", "emoji"))  # "" or absent: reaction removed
    return None


def _status(
    event: ParsedEvent, status: dict[str, Any], path: Path, phone_number_id: str | None
) -> StatusUpdate | None:
    message_id = _label(event, status, "id") or None
    value = _label(event, status, "status")
    status_at = _time(event, status.get("timestamp"), "status")
    if message_id is None or value is None or status_at is None:
        event.notes.add("status_without_id_status_or_timestamp")
        return None
    if value not in KNOWN_STATUSES:
        event.notes.add(f"unknown_status:{_shown(value)}")
    for key in [key for key in status if key not in KNOWN_STATUS_KEYS]:  # in body order
        event.notes.add(f"unknown_field:status.{_shown(key)}")
    conversation = status.get("conversation")
    conversation = conversation if isinstance(conversation, dict) else {}
    pricing = status.get("pricing")
    pricing = pricing if isinstance(pricing, dict) else {}
    billable = pricing.get("billable")
    errors = status.get("errors")
    codes = (
        sorted(
            {
                code
                for error in errors
                if isinstance(error, dict) and (code := _code(event, error.get("code"))) is not None
            }
        )
        if isinstance(errors, list)
        else []
    )
    return StatusUpdate(
        message_id=message_id,
        status=value,
        status_at=status_at,
        phone_number_id=phone_number_id,
        recipient_id=_label(event, status, "recipient_id")
        or _label(event, status.get("message"), "recipient_id"),
        conversation_id=_label(event, conversation, "id"),
        conversation_category=_label(event, conversation.get("origin"), "type"),
        pricing_category=_label(event, pricing, "category"),
        pricing_model=_label(event, pricing, "pricing_model"),
        billable=billable if isinstance(billable, bool) else None,
        error_codes=tuple(codes),
        path=path,
    )


def _indexed(
    event: ParsedEvent, value: dict[str, Any], key: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    items = value.get(key)
    if items is None:
        return
    if not isinstance(items, list):
        event.notes.add(f"not_a_list:{key}")
        return
    for index, item in enumerate(items):
        if isinstance(item, dict):
            yield index, item
        else:
            event.notes.add(f"not_an_object:{key}")


def _items(event: ParsedEvent, value: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
    return (item for _, item in _indexed(event, value, key))


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _nonempty(value: Any) -> str | None:
    text = string(value)
    return text if text else None


def _label(event: ParsedEvent, parent: Any, key: str) -> str | None:
    """`parent[key]` as a label; a string too long for its column is noted and dropped."""
    value = parent.get(key) if isinstance(parent, dict) else None
    text = label(value)
    if text is None and string(value) is not None:
        event.notes.add(f"too_long:{key}")
    return text


def _time(event: ParsedEvent, value: Any, item: str) -> int | None:
    """A unix time within the event's plausible window; a time outside it is noted."""
    unix_time = integer(value)
    if unix_time is None:
        return None
    if unix_time not in event.window:
        event.notes.add(f"implausible_timestamp:{item}")
        return None
    return unix_time


def _code(event: ParsedEvent, value: Any) -> int | None:
    """An error code that fits `integer`; a number outside its range is noted."""
    code = int32(value)
    if code is None and integer(value) is not None:
        event.notes.add("error_code_out_of_range")
    return code


def _shown(value: Any) -> str:
    """A sender's value as part of a note key: bounded and printable."""
    text = string(value)
    return "None" if text is None else printable(text)


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
