"""What a rebuild keeps of the rows whose raw events retention has deleted.

Those rows cannot be derived again, so the rebuild starts from them: before any stored
event is projected aside, the live rows that came from a deleted event (the tables that
name their event, raw_event_id) are copied there, and so are the merged rows (a message's
delivery, a contact, a number, an identity link) of every channel retention has deleted
from. The stored events are then projected onto them: merges are commutative and
idempotent, so an event both in a kept row and still stored counts once.

An erasure passes the values it replaces (`forget`): a kept row that holds one is left
out, since there is no body to rewrite it from.
"""

from __future__ import annotations

from collections.abc import Collection

from psycopg import sql

from processors.pipeline.batch import Connection
from processors.pipeline.people import PEOPLE_TABLES, link_people
from receiver.queries import query

# Joined again from the kept links (link_people), not copied: a person's internal
# component number depends on the order its links were joined in.
NOT_COPIED = (*PEOPLE_TABLES, "identity_pending")


def keep_dropped(
    conn: Connection, tables: Collection[str], live: str, aside: str, forget: Collection[str]
) -> int:
    """Copy into `aside` the `live` rows of raw events that are gone; how many."""
    live_id, aside_id = sql.Identifier(live), sql.Identifier(aside)
    conn.execute(query("rebuild_dropped_events").format(live=live_id))
    if conn.execute(query("rebuild_any_dropped")).fetchone() is None:
        return 0
    kept = 0
    for table in tables:
        if table in NOT_COPIED:
            continue
        columns = [row["name"] for row in conn.execute(
            query("copied_columns"), {"schema": live, "table": table}
        ).fetchall()]  # fmt: skip
        origin = query("from_dropped_event" if "raw_event_id" in columns else "on_dropped_channel")
        kept += conn.execute(
            query("keep_dropped_rows").format(
                aside=sql.Identifier(aside, table),
                live=sql.Identifier(live, table),
                columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
                origin=origin,
            ),
            {"forget": sorted(forget)},
        ).rowcount
    conn.execute(query("pend_kept_links").format(aside=aside_id))
    link_people(conn, aside)
    return kept
