"""Clicks on links of marketing messages (user_actions on the messages field): link_clicks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.reading import Path, Reading, indexed, label_of, object_of, time_of


@dataclass(frozen=True, slots=True)
class LinkClick:
    """One `user_actions[]` item."""

    action_type: str  # marketing_messages_link_click, or what Meta adds (kept as text)
    click_id: str | None
    click_component: str | None  # cta or body
    product_id: str | None
    tracking_token: str | None
    clicked_at: int
    waba_id: str | None
    phone_number_id: str | None
    path: Path


def read_link_clicks(event: Reading, change: Change) -> Iterator[LinkClick]:
    """Each `user_actions[]` item of a messages change (which may hold nothing else); one
    without action type or time is dropped (noted)."""
    for index, item in indexed(event, change.value, "user_actions"):
        action_type = label_of(event, item, "action_type") or None
        clicked_at = time_of(event, item.get("timestamp"), "user_action")
        if action_type is None or clicked_at is None:
            event.notes.add("user_action_without_type_or_timestamp")
            continue
        data = object_of(event, item, f"{action_type}_data")
        yield LinkClick(
            action_type=action_type,
            click_id=label_of(event, data, "click_id") or None,
            click_component=label_of(event, data, "click_component") or None,
            product_id=label_of(event, data, "product_id") or None,
            tracking_token=label_of(event, data, "tracking_token") or None,
            clicked_at=clicked_at,
            waba_id=change.waba_id,
            phone_number_id=change.phone_number_id,
            path=(*change.path, "user_actions", str(index)),
        )


def _row(c: Any) -> tuple[Any, ...]:
    return (c.action_type, c.click_id, c.click_component, c.product_id, c.tracking_token,
            c.clicked_at, c.waba_id, c.phone_number_id, comma_path(c.path))  # fmt: skip


PROJECTION = Projection(
    name="link_clicks",
    fields=frozenset({"messages"}),
    read=read_link_clicks,
    stage_table="stage_link_click",
    columns=(
        "action_type",
        "click_id",
        "click_component",
        "product_id",
        "tracking_token",
        "clicked_at",
        "waba_id",
        "phone_number_id",
        "path",
    ),
    row=_row,
    queries=("project_link_clicks",),
    tables={"link_click": ("channel", "click_key")},
)
