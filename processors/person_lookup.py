"""Looking people up by anything they were ever known by: `people show`, `events list --person`."""

from __future__ import annotations

from typing import Any

from processors.lookup import EventSearch, events_naming
from processors.stored.selection import Selection
from receiver.db import Database


def people_named(db: Database, needle: str) -> list[dict[str, Any]]:
    """The people `needle` names (a person id, current or previous, a phone number, a user
    id, or a username: everyone who held it), each with when they held that username."""
    found: dict[str, dict[str, Any]] = {}
    for row in db.fetch_all("people_named", {"needle": needle}):
        person = found.setdefault(row["person_id"], {"person_id": row["person_id"], "held": []})
        if row["username"] is not None:
            person["held"].append(
                {"username": row["username"], "since": row["since"], "until": row["until"]}
            )
    return list(found.values())


def person_details(db: Database, person_id: str) -> dict[str, Any] | None:
    """A person's row of `people`, its identity links over time and what is stored about it."""
    person = db.fetch_one("person_row", {"person_id": person_id})
    if person is None:
        return None
    ids = [*person["wa_ids"], *person["user_ids"]]
    counts = db.fetch_one("person_counts", {"ids": ids})
    return {
        **person,
        "links": [dict(row) for row in db.fetch_all("person_links_of", {"person_id": person_id})],
        "counts": dict(counts) if counts is not None else {},
    }


def person_messages(db: Database, person: dict[str, Any], limit: int = 50) -> list[dict[str, Any]]:
    """The person's latest messages both ways (received and sent to them), newest first."""
    ids = [*person["wa_ids"], *person["user_ids"]]
    return [dict(row) for row in db.fetch_all("person_messages", {"ids": ids, "limit": limit})]


def person_events(db: Database, selection: Selection, person_ids: list[str]) -> set[int]:
    """The events about any of `person_ids`: every event naming one of their identifiers."""
    found: set[int] = set()
    for person_id in person_ids:
        person = db.fetch_one("person_row", {"person_id": person_id})
        if person is None:
            continue
        for identifier in [*person["wa_ids"], *person["user_ids"]]:
            found |= events_naming(db, selection, EventSearch(wa_id=identifier)) or set()
    return found
