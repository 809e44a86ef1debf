"""The console's retention page: what each channel's retention deletes next."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from processors.pipeline.drain import drain
from processors.stored import channel_retention
from receiver.db import Database
from tests.integration.processing_helpers import status_body
from tests.integration.test_channel_retention import stored_at
from tests.integration.test_console import (  # noqa: F401 (fixtures)
    browser,
    console_app,
    console_url,
    menu_table,
    screenshot,
)

DAY = timedelta(days=1)


@pytest.fixture
def stored(db: Database, database_url: str) -> None:
    """acme keeps 30 days: two bodies past it (one still queued), one passing it in 3 days;
    other keeps everything."""
    for n, age in enumerate((40 * DAY, 27 * DAY, 2 * DAY)):
        stored_at(database_url, "acme", status_body(f"wamid.R{n}", "sent", 1750000000 + n), age)
    stored_at(database_url, "other", status_body("wamid.O", "sent", 1750000000), 400 * DAY)
    drain(db)
    stored_at(database_url, "acme", b"{}", 35 * DAY)  # waits in the queue
    channel_retention.set_retention(db, "acme", 30 * DAY)


def test_the_retention_page_says_what_goes_next(console_app: Flask, stored: None) -> None:  # noqa: F811
    page = console_app.test_client().get("/retention").text
    table = page[page.index('id="retention"') :]
    acme = table[table.index("<td>acme</td>") : table.index("<td>other</td>")]
    assert "<td>30d</td>" in acme
    assert '<td class="num">2 <span class="badge retry"' in acme
    assert "1 held" in acme
    assert '<td class="num">1</td>' in acme  # within the next 7 days
    other = table[table.index("<td>other</td>") :]
    assert "until whole months are dropped" in other


def test_the_retention_page_in_chromium(
    console_url: str,  # noqa: F811
    browser: Any,  # noqa: F811
    stored: None,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    cells = menu_table(browser, console_url, "Retention", "retention")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Retention"
    assert set(cells) == {"acme", "other"}
    assert "30d 2 1 held 1" in cells["acme"]
    assert "kept" in cells["other"]
    screenshot(browser, "retention", tmp_path)
    browser.set_window_size(400, 900)  # a phone: the table scrolls, the page does not
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 400
    screenshot(browser, "retention-phone", tmp_path)
