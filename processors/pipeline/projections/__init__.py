"""The projections: each a module here and a file in sql/projections/.

A projection turns one kind of parsed item (messages, statuses, template events...)
into rows of its tables. Its module holds the item's fact type, the change fields it
reads and how it reads them, the row each item is staged as (in the order of
`columns`), its queries and its tables, as one `PROJECTION`; its SQL file holds the
staging table (`stage_table`) and the queries. The parser, the drain, rebuild, the
roles, the drain's counts and the test helpers all take their lists from REGISTRY,
which is every module of this package that defines a PROJECTION: adding a projection
is a module, an SQL file and a migration for its tables.
"""

from __future__ import annotations

import importlib
import pkgutil

from processors.pipeline.model import Projection


def _discovered() -> tuple[Projection, ...]:
    """The PROJECTION of every module here, by module name (the order they are staged in)."""
    found = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        projection = getattr(
            importlib.import_module(f"{__name__}.{module.name}"), "PROJECTION", None
        )
        if isinstance(projection, Projection):
            found.append(projection)
    return tuple(found)


# Staged and projected in this order, which is the same in every drain: one lock order.
REGISTRY: tuple[Projection, ...] = _discovered()


def projection_tables() -> tuple[str, ...]:
    """Every table the projections write, in registry order."""
    return tuple(table for projection in REGISTRY for table in projection.tables)


def read_fields() -> frozenset[str]:
    """Every change field some projection reads."""
    return frozenset(field for projection in REGISTRY for field in projection.fields)


__all__ = ["REGISTRY", "projection_tables", "read_fields"]
