"""The projections: each a module here and a file in sql/projections/, listed once below.

A projection turns one kind of parsed item (messages, statuses, errors) into rows of
its tables. Its module holds the item's fact type and how a sender's item is read,
the row each item is staged as (in the order of `columns`), its queries and its
tables; its SQL file holds the staging table (`stage_table`) and the queries. The
drain, rebuild, the roles, the drain's counts and the test helpers all take their
lists from REGISTRY: adding a projection is a module, an SQL file, a migration for
its tables and its line here.
"""

from __future__ import annotations

from processors.pipeline.projections import errors, messages, statuses
from processors.pipeline.projections.base import Projection

# The order the drain stages and projects them in.
REGISTRY: tuple[Projection, ...] = (messages.PROJECTION, statuses.PROJECTION, errors.PROJECTION)


def projection_tables() -> tuple[str, ...]:
    """Every table the projections write, in registry order."""
    return tuple(table for projection in REGISTRY for table in projection.tables)


__all__ = ["REGISTRY", "Projection", "projection_tables"]
