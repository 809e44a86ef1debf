"""The report's charts: counts on whole-number ticks, days or hours as categories that suit
the data's span. Read from the figures' JSON in the page, no database needed."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from processors.analytics import Summary
from processors.report import count_step, histogram_bins, render

HOUR = datetime(2026, 12, 7, 7)  # the analytics views' hours: naive, in UTC


def figures(page: str) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """(traces, layout) of every Plotly.newPlot(id, traces, layout, ...) call in the page."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', page):
        traces, end = decoder.raw_decode(page, match.end())
        layout, _ = decoder.raw_decode(page, page.index("{", end))
        found.append((traces, layout))
    return found


def intake_row(hour: datetime, requests: int = 1) -> dict[str, Any]:
    return {"hour": hour, "requests": requests, "duplicate_deliveries": 0, "rejected": 0,
            "failed": 0, "queued": 0}  # fmt: skip


def funnel_row(day: date, sent: int = 1) -> dict[str, Any]:
    return {"day": day, "sent": sent, "delivered": sent, "read": 0, "failed": 0,
            "delivered_rate": 1.0, "read_rate": 0.0}  # fmt: skip


def charts(summary: Summary, latencies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """{chart title: (traces, layout)} of the report of `summary`."""
    page = render(summary, latencies or [])
    titles = re.findall(r"<section><h2>([^<]+)</h2><div", page)
    return dict(zip(titles, figures(page), strict=True))


def summary(**fields: Any) -> Summary:
    return Summary(days=7, channel=None, queue={"queued": 0, "failed": 0}, **fields)


def assert_whole_counts(axis: dict[str, Any]) -> None:
    """Ticks from zero at a whole-number step, labelled without decimals."""
    assert (axis["tickmode"], axis["tick0"], axis["tickformat"]) == ("linear", 0, ",d")
    assert isinstance(axis["dtick"], int)
    assert axis["dtick"] >= 1


@pytest.mark.parametrize(
    ("largest", "step"),
    [(0, 1), (1, 1), (6, 1), (7, 2), (12, 2), (13, 5), (30, 5), (100, 20), (12_345, 5_000)],
)
def test_a_count_axis_steps_by_whole_numbers(largest: int, step: int) -> None:
    assert count_step(largest) == step
    assert largest / step <= 6


def test_one_hour_of_data_is_one_hour_category_on_whole_counts() -> None:
    shown = charts(summary(intake=[intake_row(HOUR)], funnel=[funnel_row(HOUR.date())]))
    traces, layout = shown["Intake volume and sender retries"]
    assert traces[0]["x"] == ["2026-12-07T07:00Z"]
    assert layout["xaxis"]["type"] == "category"  # a time axis would tick in milliseconds
    assert layout["yaxis"]["title"]["text"] == "per hour"
    assert_whole_counts(layout["yaxis"])
    assert layout["yaxis"]["dtick"] == 1  # one delivery: 0, 1, not 0, 0.5, 1
    traces, layout = shown["Daily funnel"]
    assert traces[0]["x"] == ["2026-12-07"]
    assert layout["xaxis"]["type"] == "category"
    assert_whole_counts(layout["yaxis"])


def test_a_span_under_two_days_is_charted_by_the_hour_with_quiet_hours_at_zero() -> None:
    rows = [intake_row(HOUR, 3), intake_row(HOUR + timedelta(hours=30), 40)]
    traces, layout = charts(summary(intake=rows))["Intake volume and sender retries"]
    assert len(traces[0]["x"]) == 31
    assert traces[0]["x"][:2] == ["2026-12-07T07:00Z", "2026-12-07T08:00Z"]
    assert traces[0]["x"][-1] == "2026-12-08T13:00Z"
    assert traces[0]["y"] == [3, *[0] * 29, 40]
    assert layout["xaxis"]["categoryarray"] == traces[0]["x"]
    assert layout["yaxis"]["dtick"] == 10


def test_a_longer_span_is_charted_by_the_day() -> None:
    rows = [intake_row(HOUR, 2), intake_row(HOUR + timedelta(hours=5), 3),
            intake_row(HOUR + timedelta(days=3), 1)]  # fmt: skip
    traces, layout = charts(summary(intake=rows))["Intake volume and sender retries"]
    assert traces[0]["x"] == ["2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10"]
    assert traces[0]["y"] == [5, 0, 0, 1]
    assert layout["yaxis"]["title"]["text"] == "per day"
    assert_whole_counts(layout["yaxis"])


def test_the_funnel_lists_every_day_between_its_first_and_last() -> None:
    funnel = [funnel_row(date(2026, 12, 1), 2), funnel_row(date(2026, 12, 3), 9)]
    traces, layout = charts(summary(funnel=funnel))["Daily funnel"]
    assert traces[0]["x"] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert traces[0]["y"] == [2, 0, 9]
    assert layout["yaxis"]["dtick"] == 2


def test_every_count_axis_of_the_report_is_whole() -> None:
    latencies: list[dict[str, Any]] = [
        {"sent_to_delivered": 1.5, "delivered_to_read": None},
        {"sent_to_delivered": 2.0, "delivered_to_read": 30.0},
    ]
    failures = [{"error_code": None, "error_title": "no code", "messages": 1}]
    shown = charts(summary(failures=failures, intake=[intake_row(HOUR)]), latencies)
    traces, layout = shown["Delivery and read latency"]
    assert_whole_counts(layout["yaxis"])
    assert_whole_counts(layout["yaxis2"])
    assert traces[0]["xbins"]["size"] > 0
    traces, layout = shown["Failures by error code"]
    assert traces[0]["y"] == ["\u2013 no code"]  # a missing code: a dash, never None
    assert_whole_counts(layout["xaxis"])
    assert layout["yaxis"]["type"] == "category"
    assert_whole_counts(shown["Failures by error class"][1]["xaxis"])


def test_histogram_bins_hold_every_value() -> None:
    start, size, counts = histogram_bins([0.0, 1.0, 1.0, 10.0])
    assert (start, sum(counts), counts[0], counts[-1]) == (0.0, 4, 1, 1)
    assert start + size * len(counts) > 10.0
    assert histogram_bins([5.0, 5.0])[2][0] == 2  # no range: one bin of size 1


def test_times_in_the_report_are_utc_with_a_z() -> None:
    page = render(summary(intake=[intake_row(HOUR)]), [])
    generated = re.search(r"Generated (\S+) by wabahook", page)
    assert generated
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", generated[1])
    assert datetime.fromisoformat(generated[1]) <= datetime.now(UTC)
