"""Errors a notification reports about itself (notification_errors)."""

from __future__ import annotations

from processors.projections.base import Projection, comma_path

PROJECTION = Projection(
    name="errors",
    stage_table="stage_error",
    items=lambda parsed: parsed.errors,
    columns=("position", "code", "title", "path"),
    row=lambda e: (e.position, e.code, e.title, comma_path(e.path)),
    queries=("project_errors",),
    tables={"notification_error": ("channel", "body_sha256", "position")},
)
