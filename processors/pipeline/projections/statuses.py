"""Status notifications, and each message's delivery merged from them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.reading import Path, Reading, code_of, indexed, label_of, shown, time_of

PROGRESS = ("sent", "delivered", "read", "played")
KNOWN_STATUSES = frozenset({*PROGRESS, "failed", "deleted", "warning"})
# The parent of a recipient's business-scoped id has had three names; all are read.
PARENT_KEYS = ("recipient_parent_user_id", "parent_recipient_user_id", "parent_user_id")
# A group message's status names its participant; Meta has spelled the phone number's key
# two ways.
PARTICIPANT_KEYS = ("recipient_participant_id", "participant_recipient_id")
PARTICIPANT_ID_KEYS = ("recipient_participant_user_id", "recipient_participant_parent_user_id")
KNOWN_STATUS_KEYS = frozenset(
    {"id", "status", "timestamp", "recipient_id", "recipient_type", "recipient_participant_id",
     "biz_opaque_callback_data", "conversation", "pricing", "errors", "message", "type",
     "recipient_user_id", *PARENT_KEYS, *PARTICIPANT_KEYS, *PARTICIPANT_ID_KEYS}
)  # fmt: skip
# Meta caps the sender's callback tag at 512 characters; it sits in no index, so the
# cap is on characters (a tag of 512 emoji is still a valid tag), not on bytes.
MAX_CALLBACK_CHARS = 512


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
    pricing_type: str | None  # regular, free_customer_service, free_entry_point, or new ones
    biz_opaque_callback_data: str | None  # the sender's own tag, echoed back
    # The recipient's business-scoped user id (BSUID) and its parent: a customer with a
    # username may have no phone number in the notification at all.
    recipient_user_id: str | None = None
    recipient_parent_user_id: str | None = None
    # A status of a group message: one per participant (recipient_id is the group).
    recipient_type: str | None = None
    participant_id: str | None = None  # the participant's phone number
    participant_user_id: str | None = None

    @property
    def participant(self) -> str:
        """Which participant a group status is about ("" for a one-to-one message): part
        of its identity, so two participants' statuses at one second are two facts. The
        phone number first: a message sent to it names it in every status, while the user
        id comes with delivered and read only."""
        return self.participant_id or self.participant_user_id or ""


def read_statuses(event: Reading, change: Change) -> Iterator[StatusUpdate]:
    """The status notifications of a `messages` change."""
    for index, status in indexed(event, change.value, "statuses"):
        path = (*change.path, "statuses", str(index))
        if (update := read_status(event, status, path, change.phone_number_id)) is not None:
            yield update


def read_status(
    event: Reading, status: dict[str, Any], path: Path, phone_number_id: str | None
) -> StatusUpdate | None:
    """One status notification, or None (noted) without id, status or time."""
    message_id = label_of(event, status, "id") or None
    value = label_of(event, status, "status")
    status_at = time_of(event, status.get("timestamp"), "status")
    if message_id is None or value is None or status_at is None:
        event.notes.add("status_without_id_status_or_timestamp")
        return None
    if value not in KNOWN_STATUSES:
        event.notes.add(f"unknown_status:{shown(value)}")
    for key in [key for key in status if key not in KNOWN_STATUS_KEYS]:  # in body order
        event.notes.add(f"unknown_field:status.{shown(key)}")
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
                if isinstance(error, dict)
                and (code := code_of(event, error.get("code"))) is not None
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
        recipient_id=identifier_of(event, status, "recipient_id")
        or identifier_of(event, status.get("message"), "recipient_id"),
        conversation_id=label_of(event, conversation, "id"),
        conversation_category=label_of(event, conversation.get("origin"), "type"),
        pricing_category=label_of(event, pricing, "category"),
        pricing_model=label_of(event, pricing, "pricing_model"),
        billable=billable if isinstance(billable, bool) else None,
        error_codes=tuple(codes),
        path=path,
        pricing_type=label_of(event, pricing, "type"),
        biz_opaque_callback_data=callback_of(event, status),
        recipient_user_id=identifier_of(event, status, "recipient_user_id"),
        recipient_parent_user_id=first_identifier(event, status, PARENT_KEYS),
        recipient_type=label_of(event, status, "recipient_type"),
        participant_id=first_identifier(event, status, PARTICIPANT_KEYS),
        participant_user_id=identifier_of(event, status, "recipient_participant_user_id"),
    )


def first_identifier(event: Reading, parent: Any, keys: tuple[str, ...]) -> str | None:
    """The first of `keys` that holds an identifier."""
    return next((found for key in keys if (found := identifier_of(event, parent, key))), None)


def identifier_of(event: Reading, parent: Any, key: str) -> str | None:
    """An identifier (phone number, user id): omitted or "" is unknown, never a value."""
    return label_of(event, parent, key) or None


def callback_of(event: Reading, status: dict[str, Any]) -> str | None:
    """The status's `biz_opaque_callback_data`: a string of at most MAX_CALLBACK_CHARS."""
    value = status.get("biz_opaque_callback_data")
    if value is None or value == "":  # no tag was attached
        return None
    if not isinstance(value, str):  # Meta echoes the string it was given, nothing else
        event.notes.add("not_a_string:biz_opaque_callback_data")
        return None
    if len(value) > MAX_CALLBACK_CHARS:
        event.notes.add("too_long:biz_opaque_callback_data")
        return None
    return value


def _row(s: Any) -> tuple[Any, ...]:
    return (s.message_id, s.status, s.status_at, s.phone_number_id, s.recipient_id,
            s.conversation_id, s.conversation_category, s.pricing_category, s.pricing_model,
            s.billable, _int_array(s.error_codes), comma_path(s.path), s.pricing_type,
            s.biz_opaque_callback_data, s.recipient_user_id,
            s.recipient_parent_user_id, s.recipient_type, s.participant_id,
            s.participant_user_id, s.participant)  # fmt: skip


def _int_array(values: tuple[int, ...]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


PROJECTION = Projection(
    name="statuses",
    fields=frozenset({"messages"}),
    read=read_statuses,
    stage_table="stage_status",
    columns=(
        "message_id",
        "status",
        "status_at",
        "phone_number_id",
        "recipient_id",
        "conversation_id",
        "conversation_category",
        "pricing_category",
        "pricing_model",
        "billable",
        "error_codes",
        "path",
        "pricing_type",
        "biz_opaque_callback_data",
        "recipient_user_id",
        "recipient_parent_user_id",
        "recipient_type",
        "participant_id",
        "participant_user_id",
        "participant",
    ),
    row=_row,
    queries=("project_statuses", "project_deliveries"),
    tables={
        "status_event": ("channel", "message_id", "status", "status_at", "participant"),
        "message_delivery": ("channel", "message_id"),
    },
)
