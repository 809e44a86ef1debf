"""Template notifications (template_events); the view `templates` folds them into current state."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection
from processors.pipeline.projections.accounts import ORIGIN_COLUMNS, Origin
from processors.pipeline.reading import Reading, free_text_of, text_of
from processors.pipeline.values import integer

# The kind of event each field reports (template_category_update: see _kind).
KINDS = {
    "message_template_status_update": "status",
    "message_template_quality_update": "quality",
    "template_category_update": "category",
    "message_template_components_update": "components",
    # Meta found content of another category in a template sent (category: as sent).
    "template_correct_category_detection": "category_detection",
}
# An announced recategorisation takes effect about a day after it is sent: its time
# may lie further ahead than the event's own window allows.
SCHEDULED_SLACK_SECONDS = 30 * 86400


@dataclass(frozen=True, slots=True)
class TemplateEvent:
    """One notification about a message template."""

    origin: Origin
    template_id: str | None
    template_name: str | None
    language: str | None
    kind: str
    event: str | None  # status: the event; quality: the new score; category: the new one
    previous: str | None  # the previous score or category
    reason: str | None
    category: str | None  # a status update's template category
    correct_category: str | None  # announced: the category it will become
    category_update_at: int | None  # announced: when it will


def read_template_events(event: Reading, change: Change) -> Iterator[TemplateEvent]:
    """The one template event of a template change."""
    value = change.value
    kind = _kind(change)
    template_id = text_of(event, value, "message_template_id")
    if template_id is None:
        event.notes.add("template_without_id")  # kept as an event; no template to update
    elif change.waba_id is None:
        event.notes.add("template_without_waba_id")
    yield TemplateEvent(
        origin=Origin.of(change),
        template_id=template_id,
        template_name=free_text_of(event, value, "message_template_name"),
        language=text_of(event, value, "message_template_language"),
        kind=kind,
        event=text_of(event, value, _EVENT_KEYS[kind]) if kind in _EVENT_KEYS else None,
        previous=text_of(event, value, _PREVIOUS_KEYS[kind]) if kind in _PREVIOUS_KEYS else None,
        reason=text_of(event, value, "reason") if kind == "status" else None,
        category=text_of(event, value, "message_template_category") if kind == "status" else None,
        correct_category=text_of(event, value, "correct_category"),
        category_update_at=_scheduled_time(event, value.get("category_update_timestamp")),
    )


_EVENT_KEYS = {
    "status": "event",
    "quality": "new_quality_score",
    "category": "new_category",
    "category_announced": "new_category",
    "category_detection": "category",
}
_PREVIOUS_KEYS = {"quality": "previous_quality_score", "category": "previous_category"}


def _kind(change: Change) -> str:
    """The change's kind; a category change still to come is `category_announced`."""
    kind = KINDS[change.field]
    announced = "correct_category" in change.value or "category_update_timestamp" in change.value
    return "category_announced" if kind == "category" and announced else kind


def _scheduled_time(event: Reading, value: Any) -> int | None:
    """A unix time that may lie ahead of the event (up to SCHEDULED_SLACK_SECONDS)."""
    unix_time = integer(value)
    if unix_time is None:
        if value is not None:
            event.notes.add("not_a_time:category_update_timestamp")
        return None
    window = event.window
    if not window.earliest <= unix_time <= window.latest + SCHEDULED_SLACK_SECONDS:
        event.notes.add("implausible_timestamp:category_update")
        return None
    return unix_time


def _row(t: Any) -> tuple[Any, ...]:
    return (*t.origin.row(), t.template_id, t.template_name, t.language, t.kind, t.event,
            t.previous, t.reason, t.category, t.correct_category, t.category_update_at)  # fmt: skip


PROJECTION = Projection(
    name="template_events",
    fields=frozenset(KINDS),
    read=read_template_events,
    stage_table="stage_template_event",
    columns=(
        *ORIGIN_COLUMNS,
        "template_id",
        "template_name",
        "language",
        "kind",
        "event",
        "previous",
        "reason",
        "category",
        "correct_category",
        "category_update_at",
    ),
    row=_row,
    queries=("project_template_events",),
    tables={
        "template_event": ("channel", "dedup_key"),
    },
)
