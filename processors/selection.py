"""Which stored events a replay or a forward acts on: filters shared by both commands."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from psycopg import sql

STATES = ("queued", "processed", "rejected", "failed")
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True, slots=True)
class Selection:
    """Stored events by channel, time received, id and processing state."""

    channels: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    ids: tuple[int, ...] = ()
    states: tuple[str, ...] = ()

    def where(self) -> tuple[sql.Composed, dict[str, Any]]:
        """A WHERE clause over `wabahook.raw_event_log`, and its parameters."""
        clauses = [sql.SQL("true")]
        params: dict[str, Any] = {}
        if self.channels:
            clauses.append(sql.SQL("channel = ANY(%(channels)s)"))
            params["channels"] = list(self.channels)
        if self.since is not None:
            clauses.append(sql.SQL("received_at >= %(since)s"))
            params["since"] = self.since
        if self.until is not None:
            clauses.append(sql.SQL("received_at < %(until)s"))
            params["until"] = self.until
        if self.ids:
            clauses.append(sql.SQL("raw_event_id = ANY(%(ids)s)"))
            params["ids"] = list(self.ids)
        if self.states:
            clauses.append(sql.SQL("state = ANY(%(states)s)"))
            params["states"] = list(self.states)
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params


Param = click.Parameter | None
Context = click.Context | None


class Moment(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 date or time (UTC unless it says otherwise), or an age such as 2h or 7d."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        match = _DURATION.match(text)
        if match:
            return datetime.now(UTC) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{text!r} is neither an ISO 8601 time nor an age like 90m, 2h or 7d", param, ctx
            )
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Duration(click.ParamType):  # type: ignore[type-arg]
    """An age such as 90d, 12w or 36h."""

    name = "age"

    def convert(self, value: Any, param: Param, ctx: Context) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = _DURATION.match(str(value).strip())
        if not match:
            self.fail(f"{value!r} is not an age like 90d, 12w or 36h", param, ctx)
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class IdList(click.ParamType):  # type: ignore[type-arg]
    """Event ids: 12,15,20-25."""

    name = "ids"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        ids: list[int] = []
        for part in str(value).split(","):
            part = part.strip()
            first, dash, last = part.partition("-")
            if not (first.isdigit() and (not dash or last.isdigit())):
                self.fail(f"{part!r} is not an id or a range like 20-25", param, ctx)
            low, high = int(first), int(last) if dash else int(first)
            if high < low or high - low > 1_000_000:
                self.fail(f"{part!r} is not a sensible range", param, ctx)
            ids.extend(range(low, high + 1))
        return tuple(ids)


def selection_options(func: Any) -> Any:
    """The filter options of `replay` and `forward`."""
    options = [
        click.option("--channel", "channels", multiple=True, help="Only this channel (repeats)."),
        click.option("--since", type=Moment(), help="Received at or after: ISO time or age (2h)."),
        click.option("--until", type=Moment(), help="Received before: ISO time or age (30m)."),
        click.option("--ids", type=IdList(), help="Only these event ids: 12,15,20-25."),
        click.option("--state", "states", multiple=True, type=click.Choice(STATES),
                     help="Only events in this state (repeatable)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def build_selection(
    channels: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    ids: tuple[int, ...] | None,
    states: tuple[str, ...],
) -> Selection:
    """A Selection from the CLI options."""
    if since is not None and until is not None and since >= until:
        raise click.BadParameter("--since must be before --until")
    return Selection(tuple(channels), since, until, tuple(ids or ()), tuple(states))
