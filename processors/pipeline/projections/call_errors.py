"""Errors a `calls` change reports at its value's level (call_errors), with or without calls."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.reading import Path, Reading, code_of, indexed
from processors.pipeline.values import string


@dataclass(frozen=True, slots=True)
class CallError:
    """One `errors[]` item of a `calls` change value."""

    code: int | None
    title: str | None  # `title`, else `message` (calls errors name it so)
    event_at: int | None  # `entry.time`
    waba_id: str | None
    phone_number_id: str | None
    path: Path


def read_call_errors(event: Reading, change: Change) -> Iterator[CallError]:
    """The value-level errors of a `calls` change."""
    for index, error in indexed(event, change.value, "errors"):
        yield CallError(
            code=code_of(event, error.get("code")),
            title=string(error.get("title")) or string(error.get("message")),
            event_at=change.entry_time,
            waba_id=change.waba_id,
            phone_number_id=change.phone_number_id,
            path=(*change.path, "errors", str(index)),
        )


PROJECTION = Projection(
    name="call_errors",
    fields=frozenset({"calls"}),
    read=read_call_errors,
    stage_table="stage_call_error",
    columns=("code", "title", "event_at", "waba_id", "phone_number_id", "path"),
    row=lambda e: (e.code, e.title, e.event_at, e.waba_id, e.phone_number_id, comma_path(e.path)),
    queries=("project_call_errors",),
    tables={"call_error": ("channel", "body_sha256", "path")},
)
