"""What a projection is: the items it takes, how they are staged, the tables it writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from processors.pipeline.parse import ParsedEvent


@dataclass(frozen=True, slots=True, eq=False)  # one of each: compared (and cached) by identity
class Projection:
    """One kind of parsed item, how it is staged, and the tables it is projected into."""

    name: str  # the items' name, as counted in a drain's results: "messages"
    stage_table: str  # the temporary table its items are COPYed into (and its query's name)
    items: Callable[[ParsedEvent], Sequence[Any]]
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
                for item in self.items(parsed)]  # fmt: skip


def comma_path(path: Sequence[str]) -> str:
    """An item's path in its document, as the projection queries split it (on commas)."""
    # Path steps are our own keys and array indices: never a comma among them.
    return ",".join(path)
