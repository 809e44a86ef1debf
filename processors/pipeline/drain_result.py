"""What drains did: one batch's counts, added up over batches, and the kinds of rejection."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from processors.pipeline.batch import Claimed
from processors.pipeline.deadline import DEADLINE_REJECTION
from processors.pipeline.projections import REGISTRY
from processors.pipeline.values import SummaryNotes

_NUMBER = re.compile(r"(?<=\s)\d+")  # offsets and sizes, not "UTF-8"


@dataclass(frozen=True, slots=True)
class DrainResult:
    """What one batch did, or (added up with +) several: a value, never changed."""

    batches: int = 0
    claimed: int = 0
    seconds: float = 0.0
    processed: int = 0
    rejected: int = 0
    failed: int = 0
    # Items projected, by projection: {"messages": 3, "statuses": 7, "errors": 0}.
    items: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    notes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    rejections: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, events: Sequence[Claimed], seconds: float) -> DrainResult:
        """The result of a batch whose events were classified and projected."""
        counts: Counter[str] = Counter()
        items: Counter[str] = Counter({projection.name: 0 for projection in REGISTRY})
        rejections: Counter[str] = Counter()
        notes = SummaryNotes()
        for event in events:
            if event.failure is not None:
                counts["failed"] += 1
            elif event.parsed is None:
                counts["rejected"] += 1
                rejections[rejection_kind(event.rejection)] += 1
            else:
                counts["processed"] += 1
                for name, listed in event.parsed.items.items():
                    items[name] += len(listed)
                notes.add_all(event.parsed.notes)
        return cls(
            batches=1,
            claimed=len(events),
            seconds=seconds,
            items=MappingProxyType(dict(items)),
            notes=MappingProxyType(dict(notes)),
            rejections=MappingProxyType(dict(rejections)),
            **counts,
        )

    def __add__(self, other: DrainResult) -> DrainResult:
        notes = SummaryNotes()  # still bounded, however many batches are added up
        for part in (self.notes, other.notes):
            notes.add_all(Counter(part))
        return DrainResult(
            **{
                f.name: getattr(self, f.name) + getattr(other, f.name)
                for f in fields(self)
                if f.name not in ("items", "notes", "rejections")
            },
            items=_summed(self.items, other.items),
            notes=MappingProxyType(dict(notes)),
            rejections=_summed(self.rejections, other.rejections),
        )

    @classmethod
    def overrun(cls) -> DrainResult:
        """The result of an event rejected for overrunning the batch deadline."""
        kind = rejection_kind(DEADLINE_REJECTION)
        return cls(claimed=1, rejected=1, rejections=MappingProxyType({kind: 1}))

    def to_line(self) -> bytes:
        """This result as one line of JSON, for a supervising parent (see deadline.report)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps(
            {k: dict(v) if isinstance(v, Mapping) else v for k, v in values.items()}
        ).encode()

    @classmethod
    def from_line(cls, line: bytes) -> DrainResult:
        """A result to_line() wrote."""
        values: dict[str, Any] = json.loads(line)
        for name in ("items", "notes", "rejections"):
            values[name] = MappingProxyType(values[name])
        return cls(**values)

    @property
    def events(self) -> int:
        """Events taken off the queue or marked failed."""
        return self.processed + self.rejected + self.failed

    def as_dict(self) -> dict[str, Any]:
        """For logs and `--json`."""
        return {
            "batches": self.batches,
            "processed": self.processed,
            "rejected": self.rejected,
            "failed": self.failed,
            **{projection.name: self.items.get(projection.name, 0) for projection in REGISTRY},
            "notes": dict(self.notes),
        }


def _summed(a: Mapping[str, int], b: Mapping[str, int]) -> Mapping[str, int]:
    # Counter's + would drop zeros: {"errors": 0} is kept, so every projection shows.
    return MappingProxyType({key: a.get(key, 0) + b.get(key, 0) for key in {**a, **b}})


def rejection_kind(reason: str | None) -> str:
    """The kind of a rejection, for counting and metric labels: a small, fixed set."""
    return _NUMBER.sub("N", (reason or "unknown").split(":")[0])
