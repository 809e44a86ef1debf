"""How the command line and the report write a time: ISO 8601 in UTC, ending in Z."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["HOUR", "hour_label", "iso"]

HOUR = timedelta(hours=1)


def iso(moment: datetime, fraction: bool = False) -> str:
    """`moment` as 2026-12-07T07:40:12Z (with its microseconds too when `fraction`).

    A naive time is a UTC one: the analytics views' hours are UTC `timestamp`s.
    Z rather than +00:00, so that every time printed reads the same and `--since`
    takes it back as written.
    """
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    text = utc.replace(tzinfo=None).isoformat(timespec="microseconds" if fraction else "seconds")
    if fraction:
        text = text.removesuffix(".000000")  # a whole second is written as one
    return text + "Z"


def hour_label(moment: datetime) -> str:
    """An hour as a chart's category: 2026-12-07T07:00Z."""
    return iso(moment)[: len("2026-12-07T07:00")] + "Z"
