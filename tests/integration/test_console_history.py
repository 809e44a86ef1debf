"""The console's history page: each number's Coexistence sync, phase by phase."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpora.history import DECLINED, OTHER_PN, THREAD, chunk
from tests.integration.processing_helpers import store
from tests.integration.test_console import (  # noqa: F401 (fixtures)
    browser,
    console_app,
    console_url,
    menu_table,
    screenshot,
)
from tests.support.bodies import PN, cloud


@pytest.fixture
def stored(db: Database) -> None:
    """A number half way through phase 0, and a number whose business declined."""
    store(db, [chunk(1, 55, THREAD), cloud(DECLINED, "history")])
    drain(db)


def test_the_history_page_lists_each_sync(console_app: Flask, stored: None) -> None:  # noqa: F811
    page = console_app.test_client().get("/history").text
    table = page[page.index('id="syncs"') :]
    assert PN in table
    assert 'value="55"' in table  # the progress bar
    assert f"<td>{OTHER_PN}</td>" in table
    assert "declined (2593109)" in table


def test_the_history_page_when_nothing_came(console_app: Flask, db: Database) -> None:  # noqa: F811
    assert "No history sync yet" in console_app.test_client().get("/history").text


def test_the_history_page_in_chromium(
    console_url: str,  # noqa: F811
    browser: Any,  # noqa: F811
    stored: None,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    cells = menu_table(browser, console_url, "History", "syncs")
    assert browser.find_element(By.TAG_NAME, "h1").text == "History syncs"
    assert len(cells) == 2
    assert "55%" in cells[PN]
    assert "declined (2593109)" in cells[OTHER_PN]
    screenshot(browser, "history", tmp_path)
    browser.set_window_size(390, 844)
    browser.get(console_url + "/history")
    screenshot(browser, "history-phone", tmp_path)
