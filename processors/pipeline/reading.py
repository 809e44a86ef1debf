"""Reading a sender's values into facts that fit their columns, noting what is dropped.

Each reader takes the event being read (its notes, and the window of plausible
times) and one value; it returns the value as a column takes it, or None with a note.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from processors.pipeline.values import Notes, TimeWindow, int32, integer, label, printable, string

Path = tuple[str, ...]


class Reading(Protocol):
    """What readers need of the event being read."""

    @property
    def notes(self) -> Notes: ...

    @property
    def window(self) -> TimeWindow: ...


def indexed(
    event: Reading, value: dict[str, Any], key: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The objects of the list `value[key]`, with their indices; anything else is noted."""
    items = value.get(key)
    if items is None:
        return
    if not isinstance(items, list):
        event.notes.add(f"not_a_list:{key}")
        return
    for index, item in enumerate(items):
        if isinstance(item, dict):
            yield index, item
        else:
            event.notes.add(f"not_an_object:{key}")


def items(event: Reading, value: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
    """The objects of the list `value[key]`."""
    return (item for _, item in indexed(event, value, key))


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or None where an object is missing."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def nonempty(value: Any) -> str | None:
    """A string that is not empty, else None."""
    text = string(value)
    return text if text else None


def label_of(event: Reading, parent: Any, key: str) -> str | None:
    """`parent[key]` as a label; a string too long for its column is noted and dropped."""
    value = parent.get(key) if isinstance(parent, dict) else None
    text = label(value)
    if text is None and string(value) is not None:
        event.notes.add(f"too_long:{key}")
    return text


def text_of(event: Reading, parent: Any, key: str) -> str | None:
    """`parent[key]` as a label; a value of another JSON type, or too long, is noted."""
    value = parent.get(key) if isinstance(parent, dict) else None
    if value is not None and string(value) is None:
        event.notes.add(f"not_a_string:{shown(key)}")
        return None
    return label_of(event, parent, key)


def free_text_of(event: Reading, parent: Any, key: str) -> str | None:
    """`parent[key]` as unbounded text (a name, a description); another JSON type is noted."""
    value = parent.get(key) if isinstance(parent, dict) else None
    text = string(value)
    if value is not None and text is None:
        event.notes.add(f"not_a_string:{shown(key)}")
    return text


def object_of(event: Reading, parent: dict[str, Any], key: str) -> dict[str, Any]:
    """`parent[key]` when it is an object; something else there is noted, and read as {}."""
    value = parent.get(key)
    if value is not None and not isinstance(value, dict):
        event.notes.add(f"not_an_object:{shown(key)}")
    return value if isinstance(value, dict) else {}


def time_of(event: Reading, value: Any, item: str) -> int | None:
    """A unix time within the event's plausible window; a time outside it, or a value
    that is no time at all (text, an object...), is noted."""
    unix_time = integer(value)
    if unix_time is None:
        if value is not None:
            event.notes.add(f"not_a_time:{item}")
        return None
    if unix_time not in event.window:
        event.notes.add(f"implausible_timestamp:{item}")
        return None
    return unix_time


def code_of(event: Reading, value: Any) -> int | None:
    """An error code that fits `integer`; a number outside its range is noted."""
    code = int32(value)
    if code is None and integer(value) is not None:
        event.notes.add("error_code_out_of_range")
    return code


def shown(value: Any) -> str:
    """A sender's value as part of a note key: bounded and printable."""
    text = string(value)
    return "None" if text is None else printable(text)
