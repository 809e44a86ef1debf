"""The console's pages: overview, events, messages, event and message detail, people,
problems, destinations, history syncs, retention."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, TypeVar

import click
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from werkzeug.wrappers import Response

import processors.console.search as search
from processors import analytics, jobs, lookup, person_lookup
from processors.stored import channel_retention
from processors.stored import replay as replay_module
from processors.stored.selection import MAX_ID, Key, Selection
from receiver.config import Settings
from receiver.db import Database

blueprint = Blueprint("console", __name__, template_folder="templates")
Filters = TypeVar("Filters")  # what a search page makes of its query string
log = logging.getLogger("wabahook.console")
PROBLEMS_SHOWN = 100


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
    # The cards count from the start of today in UTC: their links list from there too.
    today = lookup.when(datetime.combine(datetime.now(UTC).date(), time(), UTC))
    return render_template("overview.html", summary=summary, totals=summary.totals,
                           problems=problems, today=today)  # fmt: skip


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


@blueprint.get("/destinations")
def destinations() -> str:
    """Your applications behind the relay: their health, and deliveries that failed."""
    db = _state().db
    return render_template(
        "destinations.html",
        destinations=db.fetch_all("console_destinations"),
        waiting=db.fetch_all("console_deliveries_waiting", {"limit": PROBLEMS_SHOWN}),
        limit=PROBLEMS_SHOWN,
    )


@blueprint.get("/history")
def history() -> str:
    """Coexistence history syncs: how far each number's got, and what it brought."""
    rows = _state().db.fetch_all("console_history_syncs", {"limit": PROBLEMS_SHOWN})
    return render_template("history.html", rows=rows, limit=PROBLEMS_SHOWN)


@blueprint.get("/retention")
def retention() -> str:
    """What retention deletes next: each channel's retention, what is past it, what comes."""
    rows = channel_retention.status(_state().db, every=True)
    return render_template("retention.html", rows=rows, shown_age=channel_retention.shown_age,
                           window_days=channel_retention.WINDOW.days)  # fmt: skip


@blueprint.post("/deliveries/retry")
def retry_delivery() -> Response:
    """Send one event's failed delivery to one destination again now (the relay sends it)."""
    event_id, destination = request.form.get("event_id", ""), request.form.get("destination")
    if not event_id.isascii() or not event_id.isdigit() or not 1 <= int(event_id) <= MAX_ID:
        abort(404)
    row = _state().db.fetch_one(
        "deliveries_retry", {"destination": destination, "ids": [int(event_id)], "dead": False}
    )
    if not row or not row["revived"]:
        abort(404)
    return redirect(url_for("console.destinations", retried=event_id), code=303)


@blueprint.get("/events")
def events() -> tuple[str, int]:
    """Stored deliveries, newest first, a page at a time (the query string is the search)."""
    return _search_page(
        "events.html", search.EVENT_ARGS, search.event_filters,
        lambda filters: {"page": search.event_page(_state().db, filters)},
        empty={"page": None}, held=search.HELD,
    )  # fmt: skip


@blueprint.get("/messages")
def messages() -> tuple[str, int]:
    """Outbound messages by current status (failed ones with their errors), newest first."""

    def found(filters: search.MessageFilters) -> dict[str, Any]:
        rows, more = search.message_page(_state().db, filters)
        return {"rows": rows, "more": more}

    return _search_page(
        "messages.html", search.MESSAGE_ARGS, search.message_filters, found,
        empty={"rows": None, "more": False}, max_pages=search.MAX_PAGES,
    )  # fmt: skip


def _search_page(
    template: str,
    names: tuple[str, ...],
    parse: Callable[[dict[str, str]], Filters],
    run: Callable[[Filters], dict[str, Any]],
    *,
    empty: dict[str, Any],
    **context: Any,
) -> tuple[str, int]:
    """A search page: the form as given, then the results, or the reason and 400."""
    args = search.given(request.args, names)
    try:
        filters = parse(args)
    except search.BadFilter as exc:
        return render_template(template, args=args, filters=None, error=str(exc),
                               **empty, **context), 400  # fmt: skip
    return render_template(template, args=args, filters=filters, error=None,
                           **run(filters), **context), 200  # fmt: skip


@blueprint.app_template_global()
def keeping(args: dict[str, str], **changes: object) -> dict[str, object]:
    """The query of a link to the next page: the filters given, the page changed, no blanks."""
    merged: dict[str, object] = {
        name: value for name, value in args.items() if name not in ("before", "after", "page")
    }
    merged.update(changes)
    return {name: value for name, value in merged.items() if value not in ("", None)}


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


@blueprint.get("/people")
def people() -> tuple[str, int]:
    """Find a person by anything they were known by; one person found is shown at once.

    Links to a person are this page with their person_id (it is one of their
    identifiers): any id makes a working address, whatever characters it holds.
    """
    who = request.args.get("who", "").strip()
    if not who:
        return render_template("people.html", who="", people=[], error=None), 200
    try:
        Key()(who)  # as the CLI takes it: no NUL or control character reaches SQL
    except click.BadParameter as exc:
        return render_template("people.html", who=who, people=[], error=exc.message), 400
    db = _state().db
    named = person_lookup.people_named(db, who)
    if len(named) == 1 and (found := person_lookup.person_details(db, named[0]["person_id"])):
        messages = person_lookup.person_messages(db, found)
        return render_template("person.html", person=found, messages=messages, asked=who), 200
    return render_template("people.html", who=who, people=named, error=None), (
        200 if named else 404
    )


@blueprint.get("/people/<path:person_id>")
def person(person_id: str) -> Response:
    """A person's address by path: the search of their id."""
    return redirect(url_for("console.people", who=person_id))
