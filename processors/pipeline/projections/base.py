"""What a projection is: the changes it reads, how its items are staged, the tables it writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from processors.pipeline.reading import Path

if TYPE_CHECKING:
    from processors.pipeline.parse import ParsedEvent


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

    def staged_rows(
        self, events: Iterable[tuple[int, str | None, ParsedEvent]]
    ) -> list[tuple[Any, ...]]:
        """The staging rows of (raw event id, channel, parsed event) triples."""
        return [(event_id, channel, *self.row(item))
                for event_id, channel, parsed in events
                for item in parsed.of(self.name)]  # fmt: skip


def comma_path(path: Sequence[str]) -> str:
    """An item's path in its document, as the projection queries split it (on commas)."""
    # Path steps are our own keys and array indices: never a comma among them.
    return ",".join(path)
