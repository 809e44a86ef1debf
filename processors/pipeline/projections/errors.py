"""Errors a notification reports about itself (notification_errors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.pipeline.projections.base import Projection, comma_path
from processors.pipeline.reading import Path, Reading, code_of
from processors.pipeline.values import string


@dataclass(frozen=True, slots=True)
class ErrorNotification:
    """An out-of-band error (v1 top-level `errors`, Cloud value-level `errors`)."""

    position: int
    code: int | None
    title: str | None
    phone_number_id: str | None
    path: Path


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
    stage_table="stage_error",
    items=lambda parsed: parsed.errors,
    columns=("position", "code", "title", "path"),
    row=lambda e: (e.position, e.code, e.title, comma_path(e.path)),
    queries=("project_errors",),
    tables={"notification_error": ("channel", "body_sha256", "position")},
)
