"""Marketing preferences: users' stop/resume choices and 131050 opt-out failures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.reading import Path, Reading, code_of, indexed, label_of, time_of
from processors.pipeline.values import Notes, TimeWindow, string

MARKETING = "marketing_messages"
OPT_OUT_CODE = 131050  # "this recipient has chosen to stop receiving marketing messages"
USER_PREFERENCES = "user_preferences"
OPT_OUT_SOURCE = f"error_{OPT_OUT_CODE}"


@dataclass(frozen=True, slots=True)
class PreferenceChange:
    """One change of a user's preference: stated by the user, or implied by a 131050 failure."""

    wa_id: str  # the phone number, else (Meta withheld it) the business-scoped user id
    category: str  # "" when the sender gave none
    value: str  # stop, resume, or whatever else the sender says (kept as text)
    changed_at: int
    detail: str | None
    source: str  # user_preferences, or error_131050
    message_id: str | None  # the failed message of a 131050 stop
    waba_id: str | None
    phone_number_id: str | None
    path: Path
    user_id: str | None = None  # the business-scoped user id, when given


@dataclass(slots=True)
class _Unnoted:
    """A reading whose notes are thrown away: the statuses projection notes these items."""

    window: TimeWindow
    notes: Notes = field(default_factory=Notes)


def read_preferences(event: Reading, change: Change) -> Iterator[PreferenceChange]:
    """The preference changes of a `user_preferences` change, or a `messages` change's opt-outs."""
    if change.field == USER_PREFERENCES:
        yield from read_user_preferences(event, change)
    elif isinstance(change.value.get("statuses"), list):
        yield from read_opt_outs(_Unnoted(event.window), change)


def read_user_preferences(event: Reading, change: Change) -> Iterator[PreferenceChange]:
    """Each `user_preferences[]` item; one naming nobody, or without value or time, is
    dropped (noted). A user known only by user id is named by it."""
    for index, item in indexed(event, change.value, "user_preferences"):
        user_id = label_of(event, item, "user_id") or None
        wa_id = label_of(event, item, "wa_id") or user_id
        value = label_of(event, item, "value") or None
        changed_at = time_of(event, item.get("timestamp"), "preference")
        if wa_id is None or value is None or changed_at is None:
            event.notes.add("preference_without_wa_id_value_or_timestamp")
            continue
        category = label_of(event, item, "category")
        if not category:
            event.notes.add("preference_without_category")
        yield PreferenceChange(
            wa_id=wa_id,
            category=category or "",
            value=value,
            changed_at=changed_at,
            detail=string(item.get("detail")),
            source=USER_PREFERENCES,
            message_id=None,
            waba_id=change.waba_id,
            phone_number_id=change.phone_number_id,
            path=(*change.path, "user_preferences", str(index)),
            user_id=user_id,
        )


def read_opt_outs(quiet: Reading, change: Change) -> Iterator[PreferenceChange]:
    """Each failed status with error 131050, as a marketing `stop` at its status time."""
    for index, status in indexed(quiet, change.value, "statuses"):
        if status.get("status") != "failed":
            continue
        if (title := _opt_out_title(quiet, status.get("errors"))) is None:
            continue
        user_id = label_of(quiet, status, "recipient_user_id") or None
        wa_id = (
            label_of(quiet, status, "recipient_id")
            or label_of(quiet, status.get("message"), "recipient_id")
            or user_id
        )
        changed_at = time_of(quiet, status.get("timestamp"), "status")
        if not wa_id or changed_at is None:
            continue  # nobody to attribute it to, or no time: the status event keeps it
        yield PreferenceChange(
            wa_id=wa_id,
            category=MARKETING,
            value="stop",
            changed_at=changed_at,
            detail=title or None,
            source=OPT_OUT_SOURCE,
            message_id=label_of(quiet, status, "id") or None,
            waba_id=change.waba_id,
            phone_number_id=change.phone_number_id,
            path=(*change.path, "statuses", str(index)),
            user_id=user_id,
        )


def _opt_out_title(quiet: Reading, errors: Any) -> str | None:
    """The title of the first 131050 error ("" when it has none), or None without one."""
    if not isinstance(errors, list):
        return None
    for error in errors:
        if isinstance(error, dict) and code_of(quiet, error.get("code")) == OPT_OUT_CODE:
            return string(error.get("title")) or string(error.get("message")) or ""
    return None


def _row(p: Any) -> tuple[Any, ...]:
    return (p.wa_id, p.category, p.value, p.changed_at, p.detail, p.source, p.message_id,
            p.waba_id, p.phone_number_id, comma_path(p.path), p.user_id)  # fmt: skip


PROJECTION = Projection(
    name="preferences",
    fields=frozenset({USER_PREFERENCES, "messages"}),
    read=read_preferences,
    stage_table="stage_preference",
    columns=(
        "wa_id",
        "category",
        "value",
        "changed_at",
        "detail",
        "source",
        "message_id",
        "waba_id",
        "phone_number_id",
        "path",
        "user_id",
    ),
    row=_row,
    queries=("project_preferences",),
    tables={"marketing_preference_event": ("channel", "wa_id", "category", "value", "changed_at")},
)
