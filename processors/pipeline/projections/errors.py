"""Errors a notification reports about itself (notification_errors)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, ParsedEvent, Projection, comma_path
from processors.pipeline.reading import Path, Reading, code_of, indexed
from processors.pipeline.values import string


@dataclass(frozen=True, slots=True)
class ErrorNotification:
    """An out-of-band error (v1 top-level `errors`, Cloud value-level `errors`)."""

    position: int
    code: int | None
    title: str | None
    phone_number_id: str | None
    path: Path


def read_errors(event: ParsedEvent, change: Change) -> Iterator[ErrorNotification]:
    """The errors a `messages` change reports, numbered on from those read before."""
    first = len(event.of("errors"))
    for n, (index, error) in enumerate(indexed(event, change.value, "errors")):
        path = (*change.path, "errors", str(index))
        yield read_error(event, error, first + n, path, change.phone_number_id)


def read_error(
    event: Reading, error: dict[str, Any], position: int, path: Path, phone_number_id: str | None
) -> ErrorNotification:
    """One error the notification reports, `position` among the event's errors."""
    return ErrorNotification(
        position=position,
        code=code_of(event, error.get("code")),
        title=string(error.get("title")),
        phone_number_id=phone_number_id,
        path=path,
    )


PROJECTION = Projection(
    name="errors",
    fields=frozenset({"messages"}),
    read=read_errors,
    stage_table="stage_error",
    columns=("position", "code", "title", "path"),
    row=lambda e: (e.position, e.code, e.title, comma_path(e.path)),
    queries=("project_errors",),
    tables={"notification_error": ("channel", "body_sha256", "position")},
)
