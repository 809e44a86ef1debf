"""What the parser and the projections pass each other: changes, parsed events, projections.

The parser (processors.pipeline.parse) makes Changes and ParsedEvents and hands each
change to the projections of processors.pipeline.projections; a projection reads a
change's items into the ParsedEvent and stages them. Both sides import this module,
and it imports neither of them: the types they share live here, so no import of the
one needs the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from processors.pipeline.reading import Path
from processors.pipeline.values import Notes, TimeWindow

Format = Literal["cloud", "onprem", "partner"]


@dataclass(frozen=True, slots=True)
class Change:
    """One `value` of a notification and where it came from.

    A Cloud API body has one per `entry[].changes[]`; an On-Premise body is one
    change of field `messages` whose value is the whole document.
    """

    field: str  # the Cloud `field` ("messages", "account_update", ...)
    value: dict[str, Any]
    path: Path  # of `value` in the document
    position: int  # among the body's changes, from 0: a key for facts that carry no time
    waba_id: str | None  # `entry.id` (None for On-Premise)
    entry_time: int | None  # `entry.time`, unix seconds, when given and plausible
    phone_number_id: str | None  # `value.metadata.phone_number_id`, when given


@dataclass(slots=True)
class ParsedEvent:
    """Everything one body says, item by item."""

    format: Format
    items: dict[str, list[Any]] = field(default_factory=dict)  # by projection name
    notes: Notes = field(default_factory=Notes)
    window: TimeWindow = field(default_factory=lambda: TimeWindow.for_event(datetime.now(UTC)))

    def of(self, projection: str) -> list[Any]:
        """The items read for the projection named `projection` (in body order)."""
        return self.items.get(projection, [])


@dataclass(frozen=True, slots=True, eq=False)  # one of each: compared (and cached) by identity
class Projection:
    """One kind of parsed item, how it is staged, and the tables it is projected into."""

    name: str  # the items' name, as counted in a drain's results: "messages"
    fields: frozenset[str]  # the change fields it reads
    read: Callable[[ParsedEvent, Change], Iterable[Any]]  # a change's items; drops are noted
    stage_table: str  # the temporary table its items are COPYed into (and its query's name)
    columns: tuple[str, ...]  # of the staging table, after raw_event_id and channel
    row: Callable[[Any], tuple[Any, ...]]  # an item's values, in the order of `columns`
    queries: tuple[str, ...]  # the named queries that write its tables, in this order
    tables: Mapping[str, tuple[str, ...]]  # each table it writes, with its natural key


def comma_path(path: Sequence[str]) -> str:
    """An item's path in its document, as the projection queries split it (on commas)."""
    # Path steps are our own keys and array indices: never a comma among them.
    return ",".join(path)


__all__ = ["Change", "Format", "ParsedEvent", "Projection", "comma_path"]
