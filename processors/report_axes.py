"""The report's axes and buckets: whole-number count ticks, days or hours, histogram bins."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from processors import utc

# Data spanning less than this is charted by the hour, longer by the day.
HOURLY_SPAN = timedelta(days=2)
# Bins of a latency histogram.
BINS = 50


def count_step(largest: float) -> int:
    """A tick step for an axis of counts up to `largest`: 1, 2 or 5 times a power of ten.

    Whole numbers only: plotly would otherwise label 0, 0.5, 1 for a count of one.
    About six ticks at most.
    """
    if largest <= 6:
        return 1
    rough = largest / 6
    power = int(10 ** math.floor(math.log10(rough)))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= rough)


def counts_axis(largest: float, title: str | None = None) -> dict[str, Any]:
    """An axis of counts: from zero, whole-number ticks."""
    axis: dict[str, Any] = {"rangemode": "tozero", "tickmode": "linear", "tick0": 0,
                            "dtick": count_step(largest), "tickformat": ",d"}  # fmt: skip
    if title:
        axis["title"] = {"text": title}
    return axis


def category_axis(labels: Sequence[str]) -> dict[str, Any]:
    """An axis of days or hours as categories, in this order: never a continuous time axis
    (plotly would label one hour of data in milliseconds)."""
    return {"type": "category", "categoryorder": "array", "categoryarray": list(labels)}


def day_labels(first: date, last: date) -> list[str]:
    """Every day from `first` to `last`, as 2026-12-07."""
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def histogram_bins(values: Sequence[float]) -> tuple[float, float, list[int]]:
    """(start, size, counts) of BINS equal bins over `values`, each bin [a, a + size)."""
    low, high = min(values), max(values)
    # A little wider than the values' range, so that the largest falls inside the last bin.
    size = (high - low) / BINS * 1.000001 or 1.0
    counts = [0] * BINS
    for value in values:
        counts[min(int((value - low) / size), BINS - 1)] += 1
    return low, size, counts


def intake_buckets(intake: list[dict[str, Any]]) -> tuple[str, list[str], list[dict[str, int]]]:
    """("hour" or "day", the labels, the counts of each): hours for a short span of data,
    days for a longer one, every hour or day in between present (zero when quiet)."""
    keys = ("requests", "duplicate_deliveries", "rejected")
    if not intake:
        return "hour", [], []
    first, last = min(row["hour"] for row in intake), max(row["hour"] for row in intake)
    if last - first < HOURLY_SPAN:
        steps = int((last - first) / utc.HOUR) + 1
        labels = [utc.hour_label(first + n * utc.HOUR) for n in range(steps)]
        unit, label_of = "hour", utc.hour_label
    else:
        labels = day_labels(first.date(), last.date())
        unit, label_of = "day", lambda moment: moment.date().isoformat()
    totals = {label: dict.fromkeys(keys, 0) for label in labels}
    for row in intake:
        bucket = totals[label_of(row["hour"])]
        for key in keys:
            bucket[key] += row[key]
    return unit, labels, [totals[label] for label in labels]
