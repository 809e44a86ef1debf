"""Parse both notification formats (On-Premise v1 and Cloud API) into one model.

The parser reads the stored bytes and yields plain facts plus, for each item, its
JSON path inside the body. PostgreSQL later extracts the item's payload from its
own parse of the same bytes, so stored JSON is never re-serialised by Python.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

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
# Longer keys than this cannot be indexed (and no real id is anywhere near it).
MAX_ID_LENGTH = 512
_DIGITS = re.compile(r"^\s*-?\d{1,15}\s*$")
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
    notes: Counter[str] = field(default_factory=Counter)


def parse(body: bytes) -> ParsedEvent:
    """Parse one stored body; raise Rejected when it can never be projected."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(f"invalid UTF-8 at byte {exc.start}") from None
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise Rejected(f"invalid JSON: {getattr(exc, 'msg', 'too deeply nested')}") from None
    if not isinstance(document, dict):
        raise Rejected(f"JSON {type(document).__name__} is not an object")
    if _SUSPECT_ESCAPE.search(body) and _has_unstorable_text(document):
        raise Rejected("contains \\u0000 or a lone surrogate, which PostgreSQL jsonb refuses")
    if document.get("object") == "whatsapp_business_account":
        return _parse_cloud(document)
    if "object" not in document and any(
        k in document for k in ("contacts", "messages", "statuses", "errors")
    ):
        event = ParsedEvent("onprem")
        _parse_value(event, document, (), phone_number_id=None)
        return event
    raise Rejected("unknown shape: neither a Cloud API nor an On-Premise notification")


def _parse_cloud(document: dict[str, Any]) -> ParsedEvent:
    event = ParsedEvent("cloud")
    entries = document.get("entry")
    if not isinstance(entries, list):
        raise Rejected("Cloud API body without an entry list")
    for e, entry in enumerate(entries):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            event.notes["bad_entry"] += 1
            continue
        for c, change in enumerate(changes):
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                event.notes["bad_change"] += 1
                continue
            if change.get("field") != "messages":
                # Template, account and quality updates: kept in the raw event, counted.
                event.notes[f"ignored_change:{change.get('field')}"] += 1
                continue
            value = change["value"]
            metadata = value.get("metadata")
            phone_number_id = (
                _string(metadata.get("phone_number_id")) if isinstance(metadata, dict) else None
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
        if (wa_id := _string(contact.get("wa_id")))
        and (name := _string(_dig(contact, "profile", "name"))) is not None
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
                code=_int(error.get("code")),
                title=_string(error.get("title")),
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
    message_id = _identifier(message.get("id"))
    if message_id is None:
        event.notes["message_without_id"] += 1
        return None
    kind = _string(message.get("type"))
    if kind not in KNOWN_TYPES:
        event.notes[f"unknown_type:{kind}"] += 1
    for key in message.keys() - KNOWN_MESSAGE_KEYS:
        event.notes[f"unknown_field:message.{key}"] += 1
    wa_id = _string(message.get("from")) or _string(message.get("from_user_id"))
    context = message.get("context")
    return InboundMessage(
        message_id=message_id,
        wa_id=wa_id,
        type=kind,
        sent_at=_int(message.get("timestamp")),
        phone_number_id=phone_number_id,
        text=_message_text(kind, message),
        context_message_id=_identifier(context.get("id")) if isinstance(context, dict) else None,
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
    message_id = _identifier(status.get("id"))
    value = _string(status.get("status"))
    status_at = _int(status.get("timestamp"))
    if message_id is None or value is None or status_at is None:
        event.notes["status_without_id_status_or_timestamp"] += 1
        return None
    if value not in KNOWN_STATUSES:
        event.notes[f"unknown_status:{value}"] += 1
    for key in status.keys() - KNOWN_STATUS_KEYS:
        event.notes[f"unknown_field:status.{key}"] += 1
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
                if isinstance(error, dict) and (code := _int(error.get("code"))) is not None
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
        recipient_id=_string(status.get("recipient_id"))
        or _string(_dig(status, "message", "recipient_id")),
        conversation_id=_string(conversation.get("id")),
        conversation_category=_string(_dig(conversation, "origin", "type")),
        pricing_category=_string(pricing.get("category")),
        pricing_model=_string(pricing.get("pricing_model")),
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
        event.notes[f"not_a_list:{key}"] += 1
        return
    for index, item in enumerate(items):
        if isinstance(item, dict):
            yield index, item
        else:
            event.notes[f"not_an_object:{key}"] += 1


def _items(event: ParsedEvent, value: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
    return (item for _, item in _indexed(event, value, key))


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _string(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _nonempty(value: Any) -> str | None:
    text = _string(value)
    return text if text else None


def _identifier(value: Any) -> str | None:
    text = _string(value)
    return text if text and len(text) <= MAX_ID_LENGTH else None


def _int(value: Any) -> int | None:
    """Unix timestamps and codes arrive as strings or numbers; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 10**15 else None
    if isinstance(value, float) and value.is_integer():
        return _int(int(value))
    if isinstance(value, str) and _DIGITS.match(value):
        return int(value)
    return None


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
