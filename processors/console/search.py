"""The console's lists: filters read from a query string, and one page of events or messages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from psycopg import sql

from processors import lookup
from processors.stored.selection import (
    MAX_ID,
    STATES,
    ChannelName,
    Key,
    Moment,
    SearchText,
    Selection,
)
from receiver.config import shown
from receiver.db import Database
from receiver.errors import WabahookError
from receiver.queries import query

PAGE = 50  # rows a page lists unless told
MAX_LIST = 1_000  # rows a page lists at most
# Filters that read what events hold (text, error code, held) walk the store from the
# newest event: a page looks back a week unless given a start.
CONTENT_WINDOW = timedelta(days=7)
EVENT_ARGS = ("message_id", "wa_id", "text", "channel", "since", "until", "state", "held",
              "error_code", "retry", "limit", "before", "after")  # fmt: skip
HELD = {view: one for view, one, _ in lookup.PROJECTED_VIEWS}
MESSAGE_STATUSES = ("sent", "delivered", "read", "played", "failed", "deleted")
REACHED = ("delivered", "read")
MESSAGE_ARGS = ("status", "reached", "channel", "since", "until", "error_code", "page")
MAX_PAGES = 200  # offset paging: further back, a narrower time range is quicker to read
# An error code as the projections keep it: a PostgreSQL integer.
_CODE = re.compile(r"-?[0-9]{1,10}", re.ASCII)
_ID = re.compile(r"[0-9]{1,19}", re.ASCII)


class BadFilter(WabahookError, ValueError):
    """A filter of the query string that names nothing the page can look for."""


@dataclass(frozen=True, slots=True)
class EventFilters:
    """What the Events page looks for, checked."""

    selection: Selection
    search: lookup.EventSearch
    held: str | None = None
    error_code: int | None = None
    retries: bool = False
    before: int | None = None
    after: int | None = None
    windowed: bool = False  # a week back was chosen for the page, not by the person


@dataclass(slots=True)
class EventPage:
    """One page of events, newest first, and where the pages next to it start."""

    rows: list[dict[str, Any]]
    older: int | None = None  # `before` of the next older page
    newer: int | None = None  # `after` of the next newer page


def given(args: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """The query parameters `names`, as given ('' when absent), for the form and links."""
    return {name: args.get(name, "") for name in names}


def event_filters(args: Mapping[str, str], now: datetime | None = None) -> EventFilters:
    """The Events page's query parameters, checked as the CLI checks its options."""
    since = _moment(args["since"], "since")
    until = _moment(args["until"], "until")
    windowed = False
    if since is None and (args["text"] or args["error_code"] or args["held"]):
        since = (until or now or datetime.now(UTC)) - CONTENT_WINDOW
        windowed = True
    if since is not None and until is not None and since >= until:
        raise BadFilter("since must be before until")
    if args["state"] and args["state"] not in STATES:
        raise BadFilter(f"state must be one of {', '.join(STATES)}")
    if args["held"] and args["held"] not in HELD:
        raise BadFilter(f"held must be one of {', '.join(HELD)}")
    if args["retry"] not in ("", "1"):
        raise BadFilter("retry is 1 (sender retries only) or not given")
    before, after = _event_id(args["before"], "before"), _event_id(args["after"], "after")
    if before is not None and after is not None:
        raise BadFilter("give before or after, not both")
    channel = _checked(ChannelName(), args["channel"])
    selection = Selection(
        channels=(channel,) if channel else (), since=since, until=until,
        states=(args["state"],) if args["state"] else (),
    )  # fmt: skip
    search = lookup.EventSearch(
        message_id=_checked(Key(), args["message_id"]),
        wa_id=_checked(Key(), args["wa_id"]),
        text=_checked(SearchText(), args["text"]),
        limit=_count(args["limit"], "limit", PAGE, MAX_LIST),
    )
    return EventFilters(selection, search, args["held"] or None, error_code(args["error_code"]),
                        args["retry"] == "1", before, after, windowed)  # fmt: skip


def event_page(db: Database, filters: EventFilters) -> EventPage:
    """One page of the events `filters` pick: newest first, each with what it held."""
    selection, search = filters.selection, filters.search
    ids = lookup.events_naming(db, selection, search)
    if ids is not None and not ids:
        return EventPage([])
    states = set(selection.states)
    params = {
        **selection.params(),
        "ids": sorted(ids) if ids is not None else None,
        "before": filters.before,
        "after": filters.after,
        "retries": filters.retries,
        "error_code": filters.error_code,
        "needles": lookup.needles(search.text) if search.text is not None else None,
        "unprojected": bool(states) and "processed" not in states,
        "limit": search.limit + 1,  # one more: is there a page beyond this one?
    }
    upward = filters.after is not None
    statement = query("console_events").format(
        order=sql.SQL("ASC" if upward else "DESC"), held=_held(filters.held)
    )
    with db.connection() as conn:
        rows = [dict(row) for row in conn.execute(statement, params).fetchall()]
    more = len(rows) > search.limit
    rows = rows[: search.limit]
    if upward:
        rows.reverse()
    held = lookup.projected_counts(db, [row["id"] for row in rows])
    for row in rows:
        row["held"] = held.get(row["id"], {}) if row["state"] == "processed" else None
        row["summary"] = lookup.summary(row)
    page = EventPage(rows)
    if rows:
        # Older: below the last row, when more were found (or we came down from above).
        page.older = rows[-1]["id"] if (more or upward) else None
        page.newer = rows[0]["id"] if (more if upward else filters.before is not None) else None
    elif upward:
        page.older = filters.after + 1 if filters.after is not None else None
    return page


def _held(view: str | None) -> sql.Composable:
    """The console_events test that the event projected rows into `view` (None: any event)."""
    if view is None:
        return sql.SQL("TRUE")
    if view not in HELD:  # never a name from the query string unchecked
        raise BadFilter(f"held must be one of {', '.join(HELD)}")
    return query("console_held_in_view").format(view=sql.Identifier(view))


@dataclass(frozen=True, slots=True)
class MessageFilters:
    """What the Messages page looks for, checked."""

    status: str | None
    reached: str | None
    channel: str | None
    since: datetime | None
    until: datetime | None
    error_code: int | None
    page: int
    limit: int = PAGE


def message_filters(args: Mapping[str, str]) -> MessageFilters:
    """The Messages page's query parameters, checked."""
    if args["status"] and args["status"] not in MESSAGE_STATUSES:
        raise BadFilter(f"status must be one of {', '.join(MESSAGE_STATUSES)}")
    if args["reached"] and args["reached"] not in REACHED:
        raise BadFilter(f"reached must be one of {', '.join(REACHED)}")
    since = _moment(args["since"], "since")
    until = _moment(args["until"], "until")
    if since is not None and until is not None and since >= until:
        raise BadFilter("since must be before until")
    return MessageFilters(
        status=args["status"] or None,
        reached=args["reached"] or None,
        channel=_checked(ChannelName(), args["channel"]),
        since=since,
        until=until,
        error_code=error_code(args["error_code"]),
        page=_count(args["page"], "page", 1, MAX_PAGES),
    )


def message_page(db: Database, filters: MessageFilters) -> tuple[list[dict[str, Any]], bool]:
    """One page of the messages `filters` pick, newest first, and whether more follow."""
    params = {
        "status": filters.status,
        "reached": filters.reached,
        "channel": filters.channel,
        "since": filters.since,
        "until": filters.until,
        "error_code": filters.error_code,
        "limit": filters.limit + 1,
        "offset": (filters.page - 1) * filters.limit,
    }
    rows = [dict(row) for row in db.fetch_all("console_messages", params)]
    return rows[: filters.limit], len(rows) > filters.limit


def error_code(text: str) -> int | None:
    """An error code filter: a whole number PostgreSQL's integer holds ('' : none)."""
    if not text:
        return None
    if not _CODE.fullmatch(text) or not -(2**31) <= int(text) < 2**31:
        raise BadFilter(f"error code {shown(text)} is not a whole number like 131026")
    return int(text)


def _event_id(text: str, name: str) -> int | None:
    if not text:
        return None
    if not _ID.fullmatch(text) or not 0 <= int(text) <= MAX_ID:
        raise BadFilter(f"{name} {shown(text)} is not an event id")
    return int(text)


def _count(text: str, name: str, default: int, most: int) -> int:
    if not text:
        return default
    # ASCII digits first: int() also takes other scripts' digits and spaces.
    if not _ID.fullmatch(text):
        raise BadFilter(f"{name} {shown(text)} is not a whole number")
    if not 1 <= int(text) <= most:
        raise BadFilter(f"{name}: {int(text)} is not in the range 1 to {most}")
    return int(text)


def _moment(text: str, name: str) -> datetime | None:
    return _checked(Moment(), text, name)  # type: ignore[no-any-return]


def _checked(kind: click.ParamType, text: str, name: str = "") -> Any:  # type: ignore[type-arg]
    """`text` converted as the CLI converts its option ('' : not given); BadFilter if not."""
    if not text:
        return None
    try:
        return kind.convert(text, None, None)
    except click.BadParameter as exc:
        message = exc.format_message()
        raise BadFilter(f"{name}: {message}" if name else message) from None
