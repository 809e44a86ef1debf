"""How the console prints values: times in UTC ending in Z, nothing as a dash, JSON as JSON."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from processors import lookup

MISSING = "\u2013"  # en dash: a value that is not there, never Python's 'None'
# A timestamp as PostgreSQL's to_jsonb() writes it: 2026-12-07T07:40:12.5+00:00.
_JSON_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(?:Z|[+-][0-9]{2}:[0-9]{2})", re.ASCII)


def utc(moment: datetime | None) -> str:
    """A time in UTC to the second, ending in Z (2026-12-07T07:40:12Z); a dash when missing."""
    if moment is None:
        return MISSING
    # A naive time is a UTC one (the analytics views' hours), never the machine's zone.
    return lookup.when(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def finalize(value: Any) -> Any:
    """What `{{ value }}` prints: a time in one format, None as a dash, anything else as is."""
    if value is None:
        return MISSING
    if isinstance(value, datetime):
        return utc(value)
    return value


@dataclass(frozen=True, slots=True)
class Cell:
    """One value of a projected row as a page shows it: text, and whether it is a JSON block."""

    text: str
    block: bool = False


def cell(key: str, value: Any) -> Cell:
    """A projected row's value (as to_jsonb() made it): JSON pretty, times in Z, None a dash."""
    if value is None:
        return Cell(MISSING)
    if isinstance(value, list) and not any(isinstance(item, dict | list) for item in value):
        return Cell(json.dumps(value, ensure_ascii=True))  # [131026]: one line reads best
    if isinstance(value, dict | list):
        text = json.dumps(value, indent=2, ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate no UTF-8 page can hold: keep it escaped
            text = json.dumps(value, indent=2)
        return Cell(text, block=True)
    if isinstance(value, str) and key.endswith("_at") and _JSON_TIME.fullmatch(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return Cell(value)
        return Cell(utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC)))
    if isinstance(value, bool):
        return Cell("true" if value else "false")  # as the JSON of the row says it
    return Cell(str(value))


def install(app: Flask) -> None:
    """Make the app's templates print values as this module says."""
    app.jinja_env.finalize = finalize
    app.jinja_env.globals["cell"] = cell
    app.jinja_env.filters["utc"] = utc
