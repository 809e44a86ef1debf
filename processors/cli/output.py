"""What a command prints: one-line errors, escaped text, times, tables, JSON and progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn

import click

from processors import utc
from receiver.db import first_line
from receiver.errors import WabahookError
from receiver.logs import escape_controls

# What a table shows for a value that is not there: never "None", never a blank.
MISSING = "\u2013"


def fail(message: str) -> NoReturn:
    """Stop with a one-line error and exit status 1."""
    raise click.ClickException(message)


@contextmanager
def errors_as_messages() -> Iterator[None]:
    """Turn wabahook's own errors into one-line CLI errors."""
    try:
        yield
    except WabahookError as exc:
        fail(first_line(exc))


def escaped(value: object) -> str:
    """Stored or remote text for the terminal: control characters written as escapes.

    A sender's text (an error title, a body) with ESC or CR in it would otherwise
    drive the operator's terminal or overwrite what it shows.
    """
    return escape_controls(str(value))


def when(moment: datetime | None) -> str:
    """A time as every command prints it: 2026-12-07T07:40:12Z (MISSING when there is none)."""
    return MISSING if moment is None else utc.iso(moment)


def cell(value: object) -> str:
    """A value in a table: MISSING when absent, times in UTC, JSON as JSON, text escaped."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, datetime):
        return utc.iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):  # an error object, say: as JSON, never a Python repr
        return escaped(json.dumps(value, ensure_ascii=False, default=_json_default))
    return escaped(value)


def echo_table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    right: Collection[str] = (),
    indent: str = "",
) -> None:
    """`rows` under `header`, each column as wide as its widest cell (`right`: right-aligned).

    Cells go through cell(); the last column is left unpadded, so that a long error
    or title ends the line rather than pushing spaces after it.
    """
    shown = [list(header), *([cell(value) for value in row] for row in rows)]
    widths = [max(len(line[column]) for line in shown) for column in range(len(header))]
    for line in shown:
        parts = [
            text.rjust(width) if name in right else text.ljust(width)
            for name, text, width in zip(header, line, widths, strict=True)
        ]
        if header[-1] not in right:
            parts[-1] = line[-1]
        click.echo(indent + "  ".join(parts))


@contextmanager
def progress(length: int, label: str, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; call the yielded function with the running total done."""
    with click.progressbar(
        length=length, label=label, file=sys.stderr, hidden=quiet or not length
    ) as bar:
        shown = 0

        def reach(done: int) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done

        yield reach


def emit_json(data: Any) -> None:
    """Print `data` as JSON on one line."""
    click.echo(json.dumps(data, default=_json_default, sort_keys=True))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc.iso(value, fraction=True)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
