"""The console's pages: overview, event search and detail, message timeline, problems."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from werkzeug.wrappers import Response

from processors import analytics, jobs, lookup
from processors.stored import replay as replay_module
from processors.stored.selection import (
    MAX_ID,
    STATES,
    ChannelName,
    Key,
    Moment,
    SearchText,
    Selection,
    build_selection,
)
from receiver.config import Settings
from receiver.db import Database

blueprint = Blueprint("console", __name__, template_folder="templates")
log = logging.getLogger("wabahook.console")
PROBLEMS_SHOWN = 100
MAX_LIST = 1_000  # events a search page lists at most
TEXT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class ConsoleState:
    """What the console app holds: its settings and its database."""

    settings: Settings
    db: Database


def _state() -> ConsoleState:
    return current_app.extensions["wabahook_console"]  # type: ignore[no-any-return]


@blueprint.get("/")
def overview() -> str:
    """Today's funnel and failures, intake health, the queue, what needs attention."""
    summary = analytics.summarize(_state().db, days=1)
    problems = _state().db.fetch_all("console_problem_events", {"limit": 10})
    return render_template("overview.html", summary=summary, totals=summary.totals,
                           problems=problems)  # fmt: skip


@blueprint.get("/problems")
def problems() -> str:
    """Failed and rejected events, each with a replay button."""
    rows = _state().db.fetch_all("console_problem_events", {"limit": PROBLEMS_SHOWN})
    return render_template("problems.html", rows=rows, limit=PROBLEMS_SHOWN)


@blueprint.post("/events/<int:event_id>/replay")
def replay(event_id: int) -> Response:
    """Queue one stored event again; the workers project it anew."""
    if not 1 <= event_id <= MAX_ID:
        abort(404)
    state = _state()
    _, queued = replay_module.replay(state.db, Selection(ids=(event_id,)))
    if not queued:
        abort(404)
    if state.settings.redis_url is not None:
        try:  # wake a worker now; without Redis the sweep finds it within seconds
            jobs.enqueue(state.settings)
        except (RedisError, OSError) as exc:
            log.warning("replay queued; redis nudge failed", extra={"error": str(exc)})
    return redirect(url_for("console.event", event_id=event_id, replayed=1), code=303)


def page_args() -> dict[str, Any]:
    """The query parameters of the event search, as given (for the form and links)."""
    names = ("message_id", "wa_id", "text", "channel", "since", "until", "state", "limit")
    return {name: request.args.get(name, "") for name in names}


@blueprint.get("/events")
def events() -> tuple[str, int]:
    """Stored deliveries matching the search (bookmarkable: the query string is the search)."""
    args = page_args()
    try:
        selection, search = _search(args)
    except click.BadParameter as exc:
        return render_template("events.html", args=args, rows=None, error=exc.format_message()), 400
    rows = lookup.list_events(_state().db, selection, search) if _searched(args) else None
    return render_template("events.html", args=args, rows=rows, error=None), 200


@blueprint.get("/events/<int:event_id>")
def event(event_id: int) -> tuple[str, int]:
    """Everything about one stored delivery, the body shown as text, never as markup."""
    found = lookup.show_event(_state().db, event_id) if event_id <= MAX_ID else None
    if found is None:
        return render_template("missing.html", what=f"event {event_id}"), 404
    shown = lookup.shown_body(lookup.stored_bytes(found))
    replayed = request.args.get("replayed") == "1"
    return render_template(
        "event.html", event=found, shown=shown, shown_kib=lookup.SHOWN_CHARS // 1024,
        shown_rows=lookup.SHOWN_ROWS, replayed=replayed,
    ), 200  # fmt: skip


@blueprint.get("/events/<int:event_id>/raw")
def event_raw(event_id: int) -> Response:
    """The exact stored bytes of one delivery, as a download (never shown as a page)."""
    found = _state().db.fetch_one("lookup_event", {"id": event_id}) if event_id <= MAX_ID else None
    if found is None:
        abort(404)
    return Response(
        bytes(found["body"]),
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename=event-{event_id}.body"},
    )


@blueprint.get("/messages/<path:message_id>")
def message(message_id: str) -> tuple[str, int]:
    """One message across all its notifications: its statuses in order, or the inbound message."""
    try:
        Key()(message_id)  # as the CLI takes it: no NUL or control character reaches SQL
    except click.BadParameter:
        timelines = []
    else:
        timelines = lookup.message_timelines(_state().db, message_id, None)
    if not timelines:
        return render_template("missing.html", what=f"message {message_id}"), 404
    return render_template("message.html", message_id=message_id, timelines=timelines), 200


def _searched(args: dict[str, str]) -> bool:
    return any(args[name] for name in args if name != "limit")


def _search(args: dict[str, str]) -> tuple[Selection, lookup.EventSearch]:
    """The page's query parameters checked as the CLI checks its options."""
    channel = ChannelName().convert(args["channel"], None, None) if args["channel"] else None
    since = Moment().convert(args["since"], None, None) if args["since"] else None
    if args["text"] and since is None:
        # A text search reads every body it may match: a page looks back a week unless told.
        since = datetime.now(UTC) - TEXT_WINDOW
    until = Moment().convert(args["until"], None, None) if args["until"] else None
    if args["state"] and args["state"] not in STATES:
        raise click.BadParameter(f"state must be one of {', '.join(STATES)}")
    limit = click.IntRange(1, MAX_LIST)(args["limit"] or "50")
    selection = build_selection((channel,) if channel else (), since, until, None,
                                (args["state"],) if args["state"] else ())  # fmt: skip
    search = lookup.EventSearch(
        message_id=Key()(args["message_id"]) if args["message_id"] else None,
        wa_id=Key()(args["wa_id"]) if args["wa_id"] else None,
        text=SearchText()(args["text"]) if args["text"] else None,
        limit=limit,
    )
    return selection, search
