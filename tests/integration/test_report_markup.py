"""`wabahook report`: stored text reaches the charts as text, never as plotly markup."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from processors.cli import main
from processors.pipeline.drain import drain
from receiver.db import Database
from tests.integration.processing_helpers import status_body, store
from tests.support.browser import render

pytestmark = pytest.mark.slow  # the report in Chromium

TITLES = {
    131001: '<a href="https://evil.example">click</a>',
    131002: "<b>x</b><br>y",
    131003: 'say "hi" & it\'s &lt;fine&gt;',
}
# What plotly must be handed: < > & escaped once, quotes kept (plotly decodes no &quot;).
ESCAPED = {
    131001: '&lt;a href="https://evil.example"&gt;click&lt;/a&gt;',
    131002: "&lt;b&gt;x&lt;/b&gt;&lt;br&gt;y",
    131003: 'say "hi" &amp; it\'s &amp;lt;fine&amp;gt;',
}


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def figures(page: str) -> list[list[dict[str, Any]]]:
    """The traces of every Plotly.newPlot(id, traces, layout, ...) call in the page."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', page):
        traces, _ = decoder.raw_decode(page, match.end())
        found.append(traces)
    return found


def test_stored_error_titles_are_text_in_the_report(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    at = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    errors = {code: json.dumps([{"code": code, "title": title}]) for code, title in TITLES.items()}
    store(
        db, [status_body(f"m{code}", "failed", at, f'"errors":{errors[code]}') for code in errors]
    )
    drain(db)
    out = tmp_path / "report.html"
    assert cli("report", "--out", str(out), "--days", "3").exit_code == 0
    page = out.read_text()
    (failures,) = [
        t for traces in figures(page) for t in traces if t.get("name") == "failed messages"
    ]
    assert sorted(failures["y"]) == sorted(f"{code} {text}" for code, text in ESCAPED.items())

    dom, log = render(out)
    assert "Uncaught" not in log
    # plotly turns <a href> into an SVG <a> element and <b> into a bold tspan: neither.
    assert not re.search(r"<a\b[^>]*evil\.example", dom)
    assert not re.search(r"<tspan\b[^>]*font-weight: *bold", dom)
    # Shown as typed: the DOM dump escapes < > & of text once, so one level shows here.
    assert '131001 &lt;a href="https://evil.example"&gt;click&lt;/a&gt;' in dom
    assert "131002 &lt;b&gt;x&lt;/b&gt;&lt;br&gt;y" in dom
    assert '131003 say "hi" &amp; it\'s &amp;lt;fine&amp;gt;' in dom


def tick_labels(dom: str, axis: str) -> list[str]:
    """The text of every tick label of `axis` ("x" or "y") plotly drew, in every chart."""
    return re.findall(rf'<g class="{axis}tick">\s*<text[^>]*>([^<]*)</text>', dom)


def test_an_hour_of_data_is_charted_in_whole_counts_and_hours(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    at = int((datetime.now(UTC) - timedelta(minutes=5)).timestamp())
    store(db, [status_body("m1", "sent", at), status_body("m1", "delivered", at + 2)])
    drain(db)
    out = tmp_path / "report.html"
    assert cli("report", "--out", str(out), "--days", "1").exit_code == 0
    dom, log = render(out)
    assert "Uncaught" not in log
    counts = tick_labels(dom, "y")
    assert counts
    assert all(re.fullmatch(r"[0-9][0-9,]*", label) for label in counts), counts
    hours = [label for label in tick_labels(dom, "x") if "T" in label]
    assert hours
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00Z", label) for label in hours), hours
    # No time axis: plotly labels one hour of a time axis in fractions of a second.
    assert not [label for label in tick_labels(dom, "x") if ":" in label and "T" not in label]
