"""Looking stored deliveries and messages up: what `events list|show` and `messages show` read."""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

# How a body is shown lives in body_display: its names stay reachable as lookup.<name>,
# as the CLI and the console read them.
from processors.body_display import (
    SHOWN_CHARS,
    ShownBody,
    body_text,
    pretty_json,
    shown_body,
    stored_bytes,
)
from processors.stored.selection import Selection
from receiver.db import Database
from receiver.queries import query

# The public views of projected rows, each with its row called in one and in many
# (`events list` says "2 statuses, 1 message"). A view of projected rows not listed
# here or in DERIVED_VIEWS fails tests/integration/test_lookup_cli.py.
PROJECTED_VIEWS: tuple[tuple[str, str, str], ...] = (
    ("messages_inbound", "message", "messages"),
    ("status_events", "status", "statuses"),
    ("notification_errors", "error", "errors"),
    ("message_changes", "edit/revoke", "edits/revokes"),
    ("message_echoes", "echo", "echoes"),
    ("template_events", "template event", "template events"),
    ("phone_number_events", "number event", "number events"),
    ("account_events", "account event", "account events"),
    ("call_events", "call event", "call events"),
    ("call_errors", "call error", "call errors"),
    ("marketing_preference_events", "preference", "preferences"),
    ("group_events", "group event", "group events"),
    ("ad_conversions", "ad conversion", "ad conversions"),
    ("link_clicks", "link click", "link clicks"),
    ("flow_events", "flow event", "flow events"),
    ("history_messages", "history message", "history messages"),
    ("partner_events", "partner event", "partner events"),
    # Not a projection, but what became of the event too: its deliveries to destinations.
    ("destination_deliveries", "delivery", "deliveries"),
)
# Views with a raw_event_id whose rows are folded from rows listed above (or describe
# the store itself): showing them again would count a fact twice.
DERIVED_VIEWS = frozenset(
    {"raw_event_log", "marketing_preferences", "marketing_preferences_by_person"}
)
# Progress statuses in their order: the current status never moves back.
PROGRESS = ("sent", "delivered", "read", "played")
# Deliveries of the same bytes `events show` names; the rest are counted.
SHOWN_RETRIES = 20
# Rows of each view a page or `events show` lists for one event (a batched body may hold
# thousands of statuses); --json lists them all.
SHOWN_ROWS = 50


def needles(value: str, quoted: bool = False) -> list[bytes]:
    """The byte strings a body holding `value` contains: as UTF-8, or JSON-escaped.

    Senders escape non-ASCII text (\\u00e9) and often '/' (\\/); a JSON string value
    such as a message id is matched with its quotes when `quoted`.
    """
    escaped = json.dumps(value)[1:-1]
    forms = [value, escaped, escaped.replace("/", "\\/")]
    if quoted:
        forms = [f'"{form}"' for form in forms]
    return list(dict.fromkeys(form.encode("utf-8", "surrogatepass") for form in forms))


@dataclass(frozen=True, slots=True)
class EventSearch:
    """What `events list` looks for beyond the stored-event selection."""

    message_id: str | None = None
    wa_id: str | None = None
    text: str | None = None
    limit: int = 50
    only: frozenset[int] | None = None  # only these events (a person's, say)


def list_events(db: Database, selection: Selection, search: EventSearch) -> list[dict[str, Any]]:
    """The stored events of `selection` that match `search`, newest first, with what each held."""
    ids = set(selection.ids) if selection.ids else None
    if search.only is not None:
        ids = set(search.only) if ids is None else ids & search.only
    for key, value in (("message_id", search.message_id), ("wa_id", search.wa_id)):
        if value is None:
            continue
        found = _events_naming(db, key, value, selection)
        ids = found if ids is None else ids & found
    if ids is not None and not ids:
        return []
    states = set(selection.states)
    params = {
        **selection.params(),
        "ids": sorted(ids) if ids is not None else None,
        "needles": needles(search.text) if search.text is not None else None,
        "unprojected": bool(states) and "processed" not in states,
        "limit": search.limit,
    }
    rows = [dict(row) for row in db.fetch_all("lookup_events", params)]
    held = projected_counts(db, [row["id"] for row in rows])
    for row in rows:
        row["held"] = held.get(row["id"], {}) if row["state"] == "processed" else None
        row["summary"] = summary(row)
    return rows


def events_naming(db: Database, selection: Selection, search: EventSearch) -> set[int] | None:
    """The events naming the search's message id and wa_id (both: each), None if neither given."""
    ids: set[int] | None = None
    for key, value in (("message_id", search.message_id), ("wa_id", search.wa_id)):
        if value is not None:
            found = _events_naming(db, key, value, selection)
            ids = found if ids is None else ids & found
    return ids


def _events_naming(db: Database, key: str, value: str, selection: Selection) -> set[int]:
    """Events whose facts name `value` as `key`, their retries, unprojected bodies naming it."""
    channels = list(selection.channels) or None
    params = {"message_id": None, "wa_id": None, key: value, "channels": channels}
    found = db.fetch_all("lookup_fact_events", params)
    facts = {row["raw_event_id"] for row in found}
    related = db.fetch_all(
        "lookup_related_events",
        {"ids": sorted(facts), "channels": channels, "needles": needles(value, quoted=True)},
    )
    return facts | {row["id"] for row in related}


def projected_counts(db: Database, ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """{raw event id: {view: rows it projected there}} for `ids`, in PROJECTED_VIEWS order."""
    if not ids:
        return {}
    union = sql.SQL(" UNION ALL ").join(
        query("lookup_counts_in_view").format(view=sql.Identifier(view), label=sql.Literal(view))
        for view, _, _ in PROJECTED_VIEWS
    )
    with db.connection() as conn:
        rows = conn.execute(union, {"ids": list(ids)}).fetchall()
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["raw_event_id"], {})[row["view"]] = row["rows"]
    order = [view for view, _, _ in PROJECTED_VIEWS]
    return {
        event: dict(sorted(held.items(), key=lambda item: order.index(item[0])))
        for event, held in counts.items()
    }


def summary(row: Mapping[str, Any]) -> str:
    """What one listed event held, in words: '2 statuses, 1 message', or why nothing."""
    state = row["state"]
    if state == "queued":
        return "not processed yet"
    if state in ("failed", "rejected"):
        return f"{'not processed' if state == 'failed' else 'rejected'}: {row['error'] or '?'}"
    if row["held"]:
        names = {view: (one, many) for view, one, many in PROJECTED_VIEWS}
        return ", ".join(
            f"{n} {names[view][0] if n == 1 else names[view][1]}" for view, n in row["held"].items()
        )
    # Facts keep the first event that carried them: a retry adds no row of its own.
    return (
        "nothing new (repeats an earlier delivery)" if row["duplicate_delivery"] else "nothing new"
    )


def show_event(db: Database, event_id: int) -> dict[str, Any] | None:
    """Everything about stored event `event_id`, or None when there is none."""
    event = db.fetch_one("lookup_event", {"id": event_id})
    if event is None:
        return None
    data = dict(event)
    body = bytes(data.pop("body"))
    data["body"], data["body_encoding"] = body_text(body)
    data["bytes"] = len(body)
    data["body_sha256"] = binascii.hexlify(bytes(data["body_sha256"])).decode()
    same = db.fetch_all(
        "lookup_same_bytes",
        {"channel": event["channel"], "body_sha256": event["body_sha256"], "id": event_id,
         "limit": SHOWN_RETRIES},
    )  # fmt: skip
    data["same_bytes"] = {
        "deliveries": same[0]["total"] if same else 0,
        "ids": [row["id"] for row in same],
    }
    data["projected"] = projected_rows(db, event_id, event["channel"])
    return data


def projected_rows(db: Database, event_id: int, channel: str) -> dict[str, list[dict[str, Any]]]:
    """{view: the rows event `event_id` projected there}, views without rows left out."""
    found: dict[str, list[dict[str, Any]]] = {}
    with db.connection() as conn:
        for view, _, _ in PROJECTED_VIEWS:
            statement = query("lookup_rows_in_view").format(view=sql.Identifier(view))
            rows = conn.execute(statement, {"id": event_id, "channel": channel}).fetchall()
            if rows:
                found[view] = [row["row"] for row in rows]
    return found


def message_timelines(db: Database, message_id: str, channel: str | None) -> list[dict[str, Any]]:
    """What each channel knows of message `message_id` (empty: nowhere)."""
    channels = db.fetch_all(
        "lookup_message_channels", {"message_id": message_id, "channel": channel}
    )
    timelines = []
    for row in channels:
        key = {"channel": row["channel"], "message_id": message_id}
        statuses = [dict(s) for s in db.fetch_all("lookup_message_statuses", key)]
        current = db.fetch_one("lookup_delivery_status", key)
        inbound = db.fetch_one("lookup_inbound_message", key)
        echo = db.fetch_one("lookup_message_echo", key)
        outbound = {
            "statuses": statuses,
            "current": dict(current) if current else None,
            "reason": current_status_reason(statuses),
        }
        timelines.append(
            {
                "channel": row["channel"],
                "message_id": message_id,
                "outbound": outbound if statuses else None,
                "inbound": dict(inbound) if inbound else None,
                # Edits and revokes; they may arrive before (or without) their message.
                "changes": [dict(c) for c in db.fetch_all("lookup_message_changes", key)],
                "echo": dict(echo) if echo else None,
            }
        )
    return timelines


def when(moment: datetime | None) -> str:
    """A time in UTC to the second, as --since takes it back: 2026-11-23T10:00:05Z."""
    return "?" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_status_reason(statuses: Sequence[Mapping[str, Any]]) -> str:
    """Which rule decides the current status of a message with these statuses.

    The same rule as wabahook.current_status(): progress only moves forward, failed
    wins when it is not older than the latest progress status, deleted when nothing
    else, and any other status stays in history.
    """
    progress = [s for s in statuses if s["status"] in PROGRESS]
    failed = [s for s in statuses if s["status"] == "failed"]
    deleted = [s for s in statuses if s["status"] == "deleted"]
    furthest = max(
        progress, key=lambda s: (PROGRESS.index(s["status"]), s["status_at"]), default=None
    )
    latest = max(progress, key=lambda s: s["status_at"], default=None)
    last_failure = max(failed, key=lambda s: s["status_at"], default=None)
    others = sorted({s["status"] for s in statuses} - {*PROGRESS, "failed", "deleted"})
    stay = f"{', '.join(others)} {'stays' if len(others) == 1 else 'stay'} in history only"
    history = f"; {stay}" if others else ""

    def named(status: Mapping[str, Any]) -> str:
        return f"{status['status']} at {when(status['status_at'])}"

    if last_failure is not None and (
        latest is None or last_failure["status_at"] >= latest["status_at"]
    ):
        if latest is None:
            return f"failed: {named(last_failure)} and no progress status{history}"
        return (
            f"failed: {named(last_failure)} is not older than the latest progress status"
            f" ({named(latest)}){history}"
        )
    if furthest is not None and latest is not None:
        reason = f"{furthest['status']}: the furthest progress status ({named(furthest)})"
        if latest is not furthest and latest["status_at"] > furthest["status_at"]:
            reason += f"; the latest is {named(latest)}"
        if last_failure is not None:
            reason += (
                f"; a failed at {when(last_failure['status_at'])} is older than"
                f" the latest progress status"
            )
        return reason + history
    if deleted:
        first = min(deleted, key=lambda s: s["status_at"])
        return f"deleted: {named(first)} and nothing else{history}"
    return f"no current status: {stay if others else 'no status'}"


__all__ = [
    "DERIVED_VIEWS",
    "PROJECTED_VIEWS",
    "SHOWN_CHARS",
    "SHOWN_ROWS",
    "EventSearch",
    "ShownBody",
    "body_text",
    "current_status_reason",
    "events_naming",
    "list_events",
    "message_timelines",
    "needles",
    "pretty_json",
    "projected_counts",
    "show_event",
    "shown_body",
    "stored_bytes",
    "summary",
    "when",
]
