"""What a rebuild keeps of the rows whose raw events retention has deleted.

Those rows cannot be derived again, so the rebuild starts from them: before any stored
event is projected aside, the live rows that came from a deleted event (the tables that
name their event, raw_event_id) are copied there, and so are the merged rows (a message's
delivery, a contact, a number, an identity link, a history message or chunk) of every channel
retention has deleted from. The stored events are then projected onto them: merges are
commutative and idempotent, so an event both in a kept row and still stored counts once.

An erasure passes what it replaces (`Forget`): a kept row naming the person is left out,
since there is no body to rewrite it from.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from psycopg import sql

from processors.pipeline.batch import Connection
from processors.pipeline.people import PEOPLE_TABLES, link_people
from receiver.queries import query

# Joined again from the kept links (link_people), not copied: a person's internal
# component number depends on the order its links were joined in.
NOT_COPIED = (*PEOPLE_TABLES, "identity_pending")
# Rows merged from several events (LEAST, GREATEST of each) of which raw_event_id names one:
# kept whole on a channel retention deleted from. A history message names its best
# version; a chunk its first delivery, but progress comes from every one.
MERGED = frozenset({"history_message", "history_chunk"})
# Which results (by id) and rows (by page) one statement looks at: each stays short.
IDS_PER_STATEMENT = 200_000
PAGES_PER_STATEMENT = 4_096
# A phone number or a user id: found as a word of a text too (usernames and message ids
# only as whole values: a username may be a word of anyone's text).
_WORD = re.compile(r"[0-9]{6,}|[A-Z]{2}\.[0-9]+", re.ASCII)


@dataclass(frozen=True, slots=True)
class Forget:
    """What no kept row may hold: these whole values, and these words inside texts."""

    exact: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()

    @classmethod
    def of(cls, identifiers: Collection[str], message_ids: Collection[str]) -> Forget:
        """An erased person's identifiers and the ids of their messages."""
        words = {value for value in identifiers if _WORD.fullmatch(value)}
        return cls(frozenset({*identifiers, *message_ids}), frozenset(words))


def keep_dropped(
    conn: Connection, tables: Collection[str], live: str, aside: str, forget: Forget
) -> int:
    """Copy into `aside` the `live` rows of raw events that are gone; how many. One
    transaction, of one snapshot (a drain may update a merged row meanwhile), in short
    statements."""
    with conn.transaction():
        conn.execute(query("repeatable_read"))
        conn.execute(query("rebuild_dropped_create"))
        channels = _find_dropped(conn, live)
        if not channels:
            return 0
        kept = sum(_keep_table(conn, table, live, aside, forget, channels)
                   for table in tables if table not in NOT_COPIED)  # fmt: skip
        conn.execute(query("pend_kept_links").format(aside=sql.Identifier(aside)))
        link_people(conn, aside)
        return kept


def _find_dropped(conn: Connection, live: str) -> list[str]:
    """Fill rebuild_dropped with the deleted events `live` has results for; their channels."""
    bounds = conn.execute(query("result_bounds").format(live=sql.Identifier(live))).fetchone()
    assert bounds is not None
    if bounds["low"] is None:
        return []
    found = query("rebuild_dropped_events").format(live=sql.Identifier(live))
    for after, until in _windows(bounds["low"] - 1, bounds["high"], IDS_PER_STATEMENT):
        conn.execute(found, {"after": after, "until": until})
    conn.execute(query("rebuild_dropped_analyze"))
    row = conn.execute(query("rebuild_dropped_channels")).fetchone()
    return list(row["channels"] or []) if row else []


def _keep_table(
    conn: Connection, table: str, live: str, aside: str, forget: Forget, channels: list[str]
) -> int:
    """Copy `table`'s kept rows, a window of pages at a time; how many."""
    columns = [row["name"] for row in conn.execute(
        query("copied_columns"), {"schema": live, "table": table}
    ).fetchall()]  # fmt: skip
    by_event = "raw_event_id" in columns and table not in MERGED
    statement = query("keep_dropped_rows").format(
        aside=sql.Identifier(aside, table),
        live=sql.Identifier(live, table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        origin=query("from_dropped_event" if by_event else "on_dropped_channel"),
    )
    if table == "event_results":  # how the next rebuild finds the deleted events
        forget = Forget()
    pages = conn.execute(query("relation_pages"), {"schema": live, "table": table}).fetchone()
    assert pages is not None
    kept = 0
    for low, high in _windows(0, max(1, pages["pages"]), PAGES_PER_STATEMENT):
        kept += conn.execute(
            statement,
            {"low": f"({low},0)", "high": f"({high},0)", "exact": sorted(forget.exact),
             "words": sorted(forget.words), "channels": channels},
        ).rowcount  # fmt: skip
    return kept


def _windows(start: int, end: int, size: int) -> Iterator[tuple[int, int]]:
    """(after, until] windows of `size` covering start..end."""
    for after in range(start, end, size):
        yield after, min(after + size, end)
