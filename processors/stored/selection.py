"""Which stored events a replay or a forward acts on: filters shared by both commands."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from processors.channels import ChannelError, validate_name
from receiver.config import shown

STATES = ("queued", "processed", "rejected", "failed")
_DURATION = re.compile(r"([0-9]+)\s*([smhdw])", re.ASCII)
_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
PHONE_NUMBER_ID = re.compile(r"[0-9]{1,64}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Selection:
    """Stored events by channel, time received, id and processing state."""

    channels: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    ids: tuple[int, ...] = ()
    states: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        """The parameters of wabahook.selected_events() (None: not filtered)."""
        return {
            "channels": list(self.channels) or None,
            "since": self.since,
            "until": self.until,
            "ids": list(self.ids) or None,
            "states": list(self.states) or None,
        }


Param = click.Parameter | None
Context = click.Context | None

# Ages beyond a century are typos (99999999999w); they would also overflow datetime.
MAX_AGE_DAYS = 36_525
MAX_AGE = f"100 years ({MAX_AGE_DAYS}d)"
# raw_event_id is a bigint; a larger id can name no event and PostgreSQL refuses it.
MAX_ID = 2**63 - 1
# Ids a single --ids may name: each one is sent to PostgreSQL in an array.
MAX_IDS = 1_000_000
_ID_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?", re.ASCII)


def parse_age(text: str) -> timedelta | None:
    """The age `text` names (90m, 2h, 7d, 12w), None if it is no age; ValueError if too long."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        return None
    digits, unit = match.groups()
    # Digits are counted before int(): it refuses numbers of thousands of digits.
    if len(digits.lstrip("0")) > 12 or int(digits) * _SECONDS[unit] > MAX_AGE_DAYS * 86_400:
        raise ValueError(f"an age may be at most {MAX_AGE}")
    return timedelta(seconds=int(digits) * _SECONDS[unit])


class Moment(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 date or time (UTC unless it says otherwise), or an age such as 2h or 7d."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            age = parse_age(text)
        except ValueError as exc:
            self.fail(f"{shown(text)} is too long ago: {exc}", param, ctx)
        if age is not None:
            return datetime.now(UTC) - age
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{shown(text)} is neither an ISO 8601 time nor an age like 90m, 2h or 7d",
                param,
                ctx,
            )
        try:
            # In UTC, so that comparing and storing it cannot leave datetime's range later.
            return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        except OverflowError:
            self.fail(f"{shown(text)} is outside the years 0001 to 9999 in UTC", param, ctx)


class Duration(click.ParamType):  # type: ignore[type-arg]
    """An age such as 90d, 12w or 36h."""

    name = "age"

    def convert(self, value: Any, param: Param, ctx: Context) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            age = parse_age(str(value))
        except ValueError as exc:
            self.fail(f"{shown(value)} is too long: {exc}", param, ctx)
        if age is None:
            self.fail(f"{shown(value)} is not an age like 90d, 12w or 36h", param, ctx)
        return age


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
            match = _ID_RANGE.fullmatch(part)
            if not match:
                self.fail(f"{shown(part)} is not an id or a range like 20-25", param, ctx)
            first, last = match.group(1), match.group(2) or match.group(1)
            if max(len(first.lstrip("0")), len(last.lstrip("0"))) > 19 or int(last) > MAX_ID:
                self.fail(f"{shown(part)}: an id is at most {MAX_ID}", param, ctx)
            low, high = int(first), int(last)
            if high < low:
                self.fail(f"{shown(part)} is not a range: {high} is below {low}", param, ctx)
            if len(ids) + high - low + 1 > MAX_IDS:
                self.fail(f"{shown(value)} names more than {MAX_IDS} ids", param, ctx)
            ids.extend(range(low, high + 1))
        return tuple(ids)


class ChannelName(click.ParamType):  # type: ignore[type-arg]
    """A channel name as a filter: refused early when no channel could have it."""

    name = "channel"

    def convert(self, value: Any, param: Param, ctx: Context) -> str:
        try:
            return validate_name(str(value))
        except ChannelError as exc:
            self.fail(str(exc), param, ctx)


class PhoneNumberId(click.ParamType):  # type: ignore[type-arg]
    """A business number's phone number id (as in `metadata.phone_number_id`): digits."""

    name = "id"

    def convert(self, value: Any, param: Param, ctx: Context) -> str:
        text = str(value)
        if not PHONE_NUMBER_ID.fullmatch(text):
            self.fail(
                f"{shown(text)} is not a phone number id (digits, as in metadata.phone_number_id)",
                param,
                ctx,
            )
        return text


# A message id, wa_id or BSUID is far shorter; anything longer is a paste gone wrong.
MAX_KEY = 512
# Text to find in stored bodies (`events list --text`, the console's search).
MAX_TEXT = 1_000


class Key(click.ParamType):  # type: ignore[type-arg]
    """A message id or a customer id: printable, no spaces, at most MAX_KEY characters."""

    name = "id"

    def convert(self, value: Any, param: Param, ctx: Context) -> str:
        text = str(value)
        if not text or len(text) > MAX_KEY or any(c.isspace() or not c.isprintable() for c in text):
            self.fail(
                f"{shown(text)} is not an id: 1 to {MAX_KEY} printable characters, no spaces",
                param,
                ctx,
            )
        return text


class SearchText(click.ParamType):  # type: ignore[type-arg]
    """Text to find in stored bodies: 1 to MAX_TEXT characters of valid Unicode."""

    name = "text"

    def convert(self, value: Any, param: Param, ctx: Context) -> str:
        text = str(value)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # an argument that was not UTF-8 on the command line
            self.fail(f"{shown(text)} is not valid UTF-8", param, ctx)
        if not text or len(text) > MAX_TEXT:
            self.fail(f"the text to find has 1 to {MAX_TEXT} characters", param, ctx)
        return text


def selection_options(func: Any) -> Any:
    """The filter options of `replay` and `forward`."""
    options = [
        click.option("--channel", "channels", multiple=True, type=ChannelName(),
                     help="Only this channel (repeats)."),
        click.option("--since", type=Moment(),
                     help=f"Received at or after: ISO time or age (2h), at most {MAX_AGE}."),
        click.option("--until", type=Moment(),
                     help=f"Received before: ISO time or age (30m), at most {MAX_AGE}."),
        click.option("--ids", type=IdList(),
                     help=f"Only these event ids: 12,15,20-25 (at most {MAX_IDS:,})."),
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


ALL_OPTION = click.option(
    "--all", "all_events", is_flag=True, help="Every stored event (instead of filters)."
)


def chosen(selection: Selection, all_events: bool) -> Selection:
    """`selection` if it says which events (filters, or --all alone), else a usage error.

    Replaying or forwarding every stored event is never what a forgotten filter meant.
    """
    filtered = any((selection.channels, selection.since, selection.until, selection.ids,
                    selection.states))  # fmt: skip
    if all_events and filtered:
        raise click.UsageError("--all selects every stored event: give it without filters")
    if not all_events and not filtered:
        raise click.UsageError(
            "say which events: --channel, --since, --until, --ids, --state (or --failed),"
            " or --all for every stored event"
        )
    return selection
