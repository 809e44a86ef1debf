"""The console's people: found from the header's search, a message's sender or recipient,
shown with their identifiers over time and their messages across numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpora.people import ANA_CHANGED, ANA_FIRST, ANA_NEW, ANA_OLD, ANA_U1, ANA_U2
from tests.integration.processing_helpers import status_body, store
from tests.integration.test_console import (  # noqa: F401 (fixtures)
    browser,
    console_app,
    console_url,
    screenshot,
)

TO_ANA = status_body("wamid.TOANA", "delivered", 1750000300, f'"recipient_id":"{ANA_NEW}"').replace(
    b'"recipient_id":"49",', b""
)


@pytest.fixture
def stored(db: Database) -> dict[str, Any]:
    """Ana's first message, her number change, and a message delivered to her new number."""
    ids = store(db, [ANA_FIRST, ANA_CHANGED, TO_ANA])
    drain(db)
    return {"first": ids[0], "changed": ids[1], "to": ids[2]}


def test_a_person_is_found_by_any_identifier_and_shows_both_numbers(
    console_app: Flask,  # noqa: F811
    stored: dict[str, Any],
) -> None:
    client = console_app.test_client()
    page = client.get(f"/people?who={ANA_OLD}").text  # one person found: shown at once
    assert f'Person <span style="word-break: break-all">{ANA_U2}</span>' in page
    assert client.get(f"/people/{ANA_U1}").headers["Location"] == f"/people?who={ANA_U1}"
    page = client.get(f"/people?who={ANA_U1}").text  # an earlier person id finds them too
    assert f'Person <span style="word-break: break-all">{ANA_U2}</span>' in page
    links = page[page.index('id="links"') : page.index('id="messages"')]
    assert ANA_OLD in links
    assert ANA_NEW in links
    messages = page[page.index('id="messages"') :]
    assert "wamid.TOANA" in messages
    assert "wamid.ANA1" in messages
    nobody = client.get("/people?who=nobody")
    assert nobody.status_code == 404
    assert "No person is known as" in nobody.text
    assert client.get("/people?who=%00").status_code == 400
    assert client.get("/people?who=15559999999").status_code == 404
    sender = client.get("/messages/wamid.ANA1").text
    assert f'id="sender" href="/people?who={ANA_U2}"' in sender
    recipient = client.get("/messages/wamid.TOANA").text
    assert f'href="/people?who={ANA_U2}"' in recipient


def test_the_person_page_in_chromium(
    console_url: str,  # noqa: F811
    browser: Any,  # noqa: F811
    stored: dict[str, Any],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(console_url + "/people")
    field = browser.find_element(By.NAME, "who")
    field.send_keys(ANA_OLD)
    field.submit()
    assert browser.find_element(By.TAG_NAME, "h1").text == f"Person {ANA_U2}"
    rows = browser.find_elements(By.CSS_SELECTOR, "#links tr")[1:]
    assert len(rows) == 3  # before and after the number change, and a status to the new one
    directions = [
        r.text for r in browser.find_elements(By.CSS_SELECTOR, "#messages td:nth-child(2)")
    ]
    assert directions == ["sent", "received", "received"]
    screenshot(browser, "person", tmp_path)
    browser.find_element(By.LINK_TEXT, "wamid.ANA1").click()
    assert browser.find_element(By.ID, "sender").text == ANA_OLD
    browser.find_element(By.ID, "sender").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == f"Person {ANA_U2}"
    browser.set_window_size(390, 844)
    browser.get(f"{console_url}/people/{ANA_U2}")
    screenshot(browser, "person-phone", tmp_path)


def test_a_group_messages_statuses_name_each_participant_not_the_group(
    console_app: Flask,  # noqa: F811
    db: Database,
) -> None:
    from tests.corpora.groups import ANA, GROUP, GROUP_MESSAGE, group_status
    from tests.support.bodies import T0, cloud, meta

    store(db, [cloud(meta('"statuses":[' + group_status("delivered", T0, ANA) + "]"))])
    drain(db)
    page = console_app.test_client().get(f"/messages/{GROUP_MESSAGE}").text
    row = page[page.index('id="timeline"') :]
    assert f"group {GROUP}:" in row
    assert 'href="/people?who=BR.1502576394655843">BR.1502576394655843</a>' in row
