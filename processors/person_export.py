"""`wabahook people export`: everything stored about one person, as one JSON document."""

from __future__ import annotations

import base64
import json
from typing import Any

from psycopg import sql

from processors.operations import plain
from receiver.db import Database
from receiver.errors import WabahookError
from receiver.queries import query

# What each option names: the kinds of identifier it is looked up as.
KINDS = {"wa_id": ("phone",), "user_id": ("user",), "person_id": ("phone", "user")}


class ExportError(WabahookError):
    """A person cannot be exported as asked; the message says why."""


def check_owner(db: Database) -> None:
    """ExportError unless this login owns wabahook's schema (or is a member of its owner)."""
    owner = db.fetch_one("export_may_run")
    if owner is None or not owner["owner"]:
        raise ExportError(
            "only the owner login (the one that runs migrate) exports or erases people"
        )


def find_person(db: Database, kind: str, identifier: str) -> str:
    """The person `identifier` (a phone number, user id or person id) names, else ExportError."""
    check_owner(db)  # before anything is looked up: who may not export may not probe either
    rows = db.fetch_all("export_person_ids", {"kinds": list(KINDS[kind]), "identifier": identifier})
    if not rows:
        raise ExportError(f"no person is known by that {kind.replace('_', ' ')}")
    return str(rows[0]["person_id"])  # one identifier of a kind belongs to one person


def export(db: Database, person_id: str) -> dict[str, Any]:
    """The person's rows of every view that names people, and the deliveries they came
    from: whole when they are about this person alone, else only their id and digest
    (their items about the person are in the rows: the rest is other people's)."""
    check_owner(db)
    with db.transaction() as conn:
        conn.execute(query("export_snapshot"))
        views = conn.execute(query("export_views")).fetchall()
        rows: dict[str, list[dict[str, Any]]] = {}
        events: set[int] = set()
        for view in views:
            found = conn.execute(
                query("export_view_rows").format(view=sql.Identifier(view["view"])),
                {"person_id": person_id},
            ).fetchall()
            rows[view["view"]] = [plain(dict(row)) for row in found]
            events |= {row["raw_event_id"] for row in found if row.get("raw_event_id")}
        shared = _shared(conn, views, sorted(events), person_id)
        bodies = [
            _delivery(dict(row), shared)
            for row in conn.execute(query("export_events"), {"ids": sorted(events)}).fetchall()
        ]
    return {"person_id": person_id, "rows": rows, "deliveries": bodies}


def message_ids_of(db: Database, person_id: str) -> set[str]:
    """The ids of the messages (and statuses) in the person's rows of every view."""
    with db.transaction() as conn:
        conn.execute(query("export_snapshot"))
        views = conn.execute(query("export_views")).fetchall()
        found: set[str] = set()
        for view in views:
            if view["has_message_id"]:
                rows = conn.execute(
                    query("person_message_ids").format(view=sql.Identifier(view["view"])),
                    {"person_id": person_id},
                ).fetchall()
                found |= {row["message_id"] for row in rows}
    return found


def _shared(conn: Any, views: list[Any], events: list[int], person_id: str) -> set[int]:
    """The events some other person's rows came from too."""
    shared: set[int] = set()
    for view in views:
        if view["has_raw_event_id"] and events:
            found = conn.execute(
                query("export_view_shared").format(view=sql.Identifier(view["view"])),
                {"ids": events, "person_id": person_id},
            ).fetchall()
            shared |= {row["raw_event_id"] for row in found}
    return shared


def _delivery(row: dict[str, Any], shared: set[int]) -> dict[str, Any]:
    body = bytes(row.pop("body"))
    out = plain(row)
    if row["raw_event_id"] in shared:
        out["shared_with_others"] = True  # its items about this person are in `rows`
        return out
    out["shared_with_others"] = False
    try:
        out["body"] = json.loads(body)
    except ValueError:  # stored as received, whatever it was
        out["body_base64"] = base64.b64encode(body).decode()
    return out
