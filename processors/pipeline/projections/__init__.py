"""The projections: each a module here and a file in sql/projections/, listed in REGISTRY.

A projection turns one kind of parsed item (messages, statuses, template events...)
into rows of its tables. Its module holds the item's fact type, the change fields it
reads and how it reads them, the row each item is staged as (in the order of
`columns`), its queries and its tables, as one `PROJECTION` (a
processors.pipeline.model.Projection); its SQL file holds the staging table
(`stage_table`) and the queries. The parser, the drain, rebuild, the roles, the
drain's counts and the test helpers all take their lists from REGISTRY: adding a
projection is a module, an entry below, an SQL file and a migration for its tables.
"""

from __future__ import annotations

from processors.pipeline.model import Projection
from processors.pipeline.projections import (
    accounts,
    call_errors,
    calls,
    conversions,
    echoes,
    errors,
    flows,
    groups,
    history,
    identities,
    link_clicks,
    message_changes,
    messages,
    numbers,
    partner_events,
    phone_numbers,
    preferences,
    statuses,
    templates,
)

# Every projection, written out rather than discovered. THIS ORDER IS THE LOCK ORDER:
# each drain stages its items and runs the projection queries in it, so it takes its
# row locks on the projection tables in it. Concurrent drains that take their locks
# in one fixed order never wait on each other in a circle, so they cannot deadlock;
# that is why the order is spelled out here rather than left to how modules are found.
# (It is the modules' alphabetical order, as discovery used to give it. Moving an
# entry changes the lock order: workers of the old and the new list running side by
# side, as in a rolling deploy, could then deadlock.)
REGISTRY: tuple[Projection, ...] = (
    accounts.PROJECTION,
    call_errors.PROJECTION,
    calls.PROJECTION,
    conversions.PROJECTION,
    echoes.PROJECTION,
    errors.PROJECTION,
    flows.PROJECTION,
    groups.PROJECTION,
    history.CHUNKS,
    history.MESSAGES,
    identities.PROJECTION,
    link_clicks.PROJECTION,
    message_changes.PROJECTION,
    messages.PROJECTION,
    numbers.PROJECTION,
    partner_events.PROJECTION,
    phone_numbers.PROJECTION,
    preferences.PROJECTION,
    statuses.PROJECTION,
    templates.PROJECTION,
)


def projection_tables() -> tuple[str, ...]:
    """Every table the projections write, in registry order."""
    return tuple(table for projection in REGISTRY for table in projection.tables)


def read_fields() -> frozenset[str]:
    """Every change field some projection reads."""
    return frozenset(field for projection in REGISTRY for field in projection.fields)


# Looked up for every change a body holds (a dict, not a cache: fields are the sender's).
_READERS = {
    field: tuple(projection for projection in REGISTRY if field in projection.fields)
    for field in read_fields()
}


def readers_of(field: str) -> tuple[Projection, ...]:
    """The projections that read changes of `field`, in registry order."""
    return _READERS.get(field, ())


__all__ = ["REGISTRY", "projection_tables", "read_fields", "readers_of"]
