"""The console: its pages in a real headless Chromium, its login, CSRF and bind rules."""

from __future__ import annotations

import base64
import html
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from processors.cli import main
from processors.console import create_app
from processors.console.display import MISSING
from processors.local.embedded import free_port
from processors.local.local_files import terminate
from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpora.management import management
from tests.integration.processing_helpers import status_body, store
from tests.support.browser import FLAGS, chromium
from tests.support.servers import require_command, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
XSS = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
INBOUND = (
    '{"messages":[{"from":"4915100000001","id":"wamid.console-in","timestamp":"1750000100",'
    '"type":"text","text":{"body":"' + XSS.replace("'", "\\u0027") + '"}}],'
    '"contacts":[{"wa_id":"4915100000001","profile":{"name":"Ada"}}]}'
).encode()
FAILED = status_body(
    "wamid.console-2", "failed", 1750000030,
    '"errors":[{"code":131026,"title":"Message undeliverable"}]',
)  # fmt: skip


@pytest.fixture
def stored(db: Database) -> dict[str, Any]:
    """Three statuses of one message out of order, a failure, an inbound message whose text
    is markup, and a body that is not JSON; all processed."""
    ids = store(db, [
        status_body("wamid.console-1", "read", 1750000020),
        status_body("wamid.console-1", "sent", 1750000000),
        status_body("wamid.console-1", "delivered", 1750000010),
        FAILED,
        INBOUND,
        b"not json <b>at all</b>",
    ])  # fmt: skip
    drain(db)
    return {"read": ids[0], "sent": ids[1], "delivered": ids[2], "failed": ids[3],
            "inbound": ids[4], "rejected": ids[5]}  # fmt: skip


@pytest.fixture
def console_app(database_url: str) -> Flask:
    app = create_app({"DATABASE_URL": database_url})
    app.config["TESTING"] = True
    return app


def state_of(database_url: str, event_id: int) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT state FROM wabahook.raw_event_log WHERE raw_event_id = %s", [event_id]
        ).fetchone()
    assert row is not None
    return str(row[0])


def with_csrf(client: FlaskClient) -> str:
    """The CSRF token a page of the console hands this client (its cookie)."""
    assert client.get("/problems").status_code == 200
    cookie = client.get_cookie("wabahook_csrf")
    assert cookie is not None
    return cookie.value


def test_search_detail_and_timeline_show_what_was_stored(
    console_app: Flask, stored: dict[str, Any]
) -> None:
    client = console_app.test_client()
    page = client.get("/events?message_id=wamid.console-1").text
    for key in ("read", "sent", "delivered"):
        assert f'href="/events/{stored[key]}"' in page
    assert f'href="/events/{stored["failed"]}"' not in page
    timeline = client.get("/messages/wamid.console-1").text
    table = timeline[timeline.index('id="timeline"') :]
    assert table.index(">sent<") < table.index(">delivered<") < table.index(">read<")
    assert 'Current status: <span class="status-read">read</span>' in timeline
    failure = client.get("/messages/wamid.console-2").text
    assert "131026" in failure
    assert "(undeliverable)" in failure
    assert client.get("/messages/wamid.nowhere").status_code == 404
    assert client.get("/messages/wamid.%00nul").status_code == 404  # never a database error
    assert client.get("/events/999999").status_code == 404
    assert client.get(f"/events/{2**64}").status_code == 404  # beyond bigint


def test_stored_markup_is_text_never_markup(console_app: Flask, stored: dict[str, Any]) -> None:
    client = console_app.test_client()
    event = client.get(f"/events/{stored['inbound']}")
    assert "<script>" not in event.text
    assert "&lt;script&gt;" in event.text
    assert "script-src" not in event.headers["Content-Security-Policy"]  # none may run
    message = client.get("/messages/wamid.console-in").text
    assert "<img src=x" not in message
    assert "&lt;img src=x onerror=alert(1)&gt;" in message
    search = client.get("/events", query_string={"text": "<b>at all"}).text
    assert f'href="/events/{stored["rejected"]}"' in search
    assert "<b>at all" not in search


def test_a_lone_surrogate_in_a_json_body_is_shown_escaped(
    console_app: Flask, db: Database, cli: Any
) -> None:
    # JSON allows "\\ud800"; no UTF-8 text holds it. Stored, rejected, and still shown.
    (event_id,) = store(db, [b'{"text":"\\ud800 alone"}'])
    drain(db)
    page = console_app.test_client().get(f"/events/{event_id}")
    assert page.status_code == 200
    assert "\\ud800 alone" in page.text
    shown = cli("events", "show", str(event_id))
    assert shown.exit_code == 0, shown.output
    assert "\\ud800 alone" in shown.stdout


def test_a_text_search_looks_a_week_back_unless_told(
    console_app: Flask, stored: dict[str, Any], database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:  # stored ten days ago
        row = conn.execute(
            "INSERT INTO wabahook.raw_events (channel, received_at, body, body_sha256, request_id)"
            " VALUES ('acme', now() - interval '10 days', 'an old needle', '\\x00', 'r')"
            " RETURNING id"
        ).fetchone()
    assert row is not None
    old = f'href="/events/{row[0]}"'
    client = console_app.test_client()
    recent = client.get("/events?text=old+needle").text
    assert old not in recent
    assert "last 7 days" in recent
    further = client.get("/events?text=old+needle&since=30d").text
    assert old in further
    assert "last 7 days" not in further


def test_a_bad_search_is_one_message_and_400(console_app: Flask, stored: dict[str, Any]) -> None:
    client = console_app.test_client()
    for query, said in (("since=yesterday", "neither an ISO 8601 time"),
                        ("state=lost", "state must be one of"),
                        ("limit=0", "0 is not in the range"),
                        ("message_id=a%00b", "is not an id"),
                        ("wa_id=" + "9" * 600, "is not an id"),
                        ("text=" + "x" * 1001, "1 to 1000 characters"),
                        ("channel=Not%20A%20Name", "channel")):  # fmt: skip
        answer = client.get(f"/events?{query}")
        assert answer.status_code == 400, query
        assert said in answer.text, query


def test_replay_is_a_post_with_the_pages_csrf_token(
    console_app: Flask, stored: dict[str, Any], database_url: str
) -> None:
    client = console_app.test_client()
    rejected = stored["rejected"]
    url = f"/events/{rejected}/replay"
    token = with_csrf(client)
    assert client.post(url).status_code == 403  # no token
    assert client.post(url, data={"csrf_token": "guess"}).status_code == 403
    assert client.post(url, data={"csrf_token": token},
                       headers={"Origin": "https://evil.example"}).status_code == 403  # fmt: skip
    assert client.get(url).status_code == 405  # never a GET that changes state
    assert client.post(url, data={"csrf_token": token},
                       headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403  # fmt: skip
    assert state_of(database_url, rejected) == "rejected"
    answer = client.post(url, data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/events/{rejected}?replayed=1"
    assert state_of(database_url, rejected) == "queued"
    assert client.post("/events/999999/replay", data={"csrf_token": token}).status_code == 404


def test_a_password_asks_for_a_login(database_url: str, stored: dict[str, Any]) -> None:
    app = create_app({"DATABASE_URL": database_url, "WABAHOOK_CONSOLE_PASSWORD": "s3cret-pw"})
    client = app.test_client()
    refused = client.get("/")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="wabahook console"'
    for user, password in (("console", "wrong"), ("admin", "s3cret-pw"), ("console", "")):
        login = base64.b64encode(f"{user}:{password}".encode()).decode()
        assert client.get("/", headers={"Authorization": f"Basic {login}"}).status_code == 401
    login = base64.b64encode(b"console:s3cret-pw").decode()
    assert client.get("/", headers={"Authorization": f"Basic {login}"}).status_code == 200
    # Logged in once (the CSRF cookie is set), then the login is gone: asked again, no 500.
    assert client.get_cookie("wabahook_csrf") is not None
    again = client.get("/events")
    assert again.status_code == 401
    assert "WWW-Authenticate" in again.headers
    # With a password, any host name may reach it (a proxy's, say).
    named = client.get("/", headers={"Authorization": f"Basic {login}", "Host": "ops.example"})
    assert named.status_code == 200


def test_without_a_password_only_loopback_names_are_answered(
    console_app: Flask, stored: dict[str, Any]
) -> None:
    client = console_app.test_client()
    for host in ("localhost", "127.0.0.1:8090", "[::1]:8090", "localhost:8090"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    # A site whose name was re-pointed to 127.0.0.1 (DNS rebinding) reads nothing.
    for host in ("evil.example:8090", "127.0.0.1.evil.example", "0.0.0.0:8090"):
        assert client.get("/", headers={"Host": host}).status_code == 403, host


def test_a_public_bind_without_a_password_refuses_to_start(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WABAHOOK_CONSOLE_PASSWORD", raising=False)
    result = CliRunner().invoke(main, ["console", "--bind", "0.0.0.0:8090"])
    assert result.exit_code == 2
    assert "without WABAHOOK_CONSOLE_PASSWORD" in result.stderr
    # gunicorn started with the console's settings directly refuses the same way.
    env = {**os.environ, "DATABASE_URL": database_url,
           "WABAHOOK_CONSOLE_BIND": f"0.0.0.0:{free_port()}"}  # fmt: skip
    env.pop("WABAHOOK_CONSOLE_PASSWORD", None)
    from processors.serving import console_command

    started = subprocess.run(console_command(), env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert started.returncode != 0
    assert "without WABAHOOK_CONSOLE_PASSWORD" in started.stderr


def links(page: str, anchor: str) -> str | None:
    """The address of the link with id `anchor` on a page, unescaped; None if there is none."""
    match = re.search(rf'<a [^>]*\bid="{anchor}" href="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def listed(page: str) -> list[int]:
    """The event ids an Events page lists, in its order."""
    table = page[page.index('id="results"') :] if 'id="results"' in page else ""
    return [int(found) for found in re.findall(r'<td><a href="/events/([0-9]+)">', table)]


def test_events_lists_the_newest_by_default_a_page_at_a_time(
    console_app: Flask, db: Database
) -> None:
    ids = store(db, [status_body(f"wamid.page-{n}", "sent", 1750000000 + n) for n in range(7)])
    store(db, [status_body("wamid.elsewhere", "sent", 1750000000)], channel="other")
    drain(db)
    client = console_app.test_client()
    first = client.get("/events?channel=acme&limit=3").text
    assert listed(first) == ids[::-1][:3]  # no search needed: the newest, newest first
    assert "3 events, newest first" in first
    assert links(first, "newer") is None
    older = links(first, "older")
    assert older is not None
    assert "channel=acme" in older
    assert "limit=3" in older
    second = client.get(older).text
    assert listed(second) == ids[::-1][3:6]
    third = client.get(links(second, "older") or "").text
    assert listed(third) == ids[:1]
    assert links(third, "older") is None
    back = client.get(links(third, "newer") or "").text  # newer: the page just above
    assert listed(back) == ids[::-1][3:6]
    top = client.get(links(back, "newer") or "").text
    assert listed(top) == ids[::-1][:3]
    assert links(top, "newer") is None
    everything = client.get("/events").text  # unfiltered: every channel
    assert len(listed(everything)) == 8


def test_events_filter_by_state_held_error_code_and_time(
    console_app: Flask, stored: dict[str, Any]
) -> None:
    client = console_app.test_client()
    assert listed(client.get("/events?state=rejected").text) == [stored["rejected"]]
    statuses = listed(client.get("/events?held=status_events&since=2000-01-01").text)
    assert sorted(statuses) == sorted(stored[k] for k in ("read", "sent", "delivered", "failed"))
    inbound = client.get("/events?held=messages_inbound").text
    assert listed(inbound) == [stored["inbound"]]
    assert 'id="window"' in inbound  # looked for in the last week, and says so
    assert listed(client.get("/events?error_code=131026").text) == [stored["failed"]]
    assert listed(client.get("/events?error_code=131000").text) == []
    assert listed(client.get("/events?until=2000-01-01").text) == []
    assert len(listed(client.get("/events?since=2000-01-01&state=processed").text)) == 5
    one = client.get("/events?message_id=wamid.console-2").text
    assert "1 event, newest first" in one


def test_a_sender_retry_is_marked_in_the_list_and_on_its_page(
    console_app: Flask, db: Database
) -> None:
    body = status_body("wamid.twice", "sent", 1750000000)
    first, again = store(db, [body, body])
    drain(db)
    client = console_app.test_client()
    page = client.get("/events").text
    rows = {event: page[page.index(f'href="/events/{event}"') :].split("</tr>")[0]
            for event in (first, again)}  # fmt: skip
    assert "sender retry" in rows[again]
    assert "sender retry" not in rows[first]
    assert listed(client.get("/events?retry=1").text) == [again]
    assert 'id="retry"' in client.get(f"/events/{again}").text
    assert 'id="retry"' not in client.get(f"/events/{first}").text


def test_failed_messages_are_listed_with_their_errors(
    console_app: Flask, stored: dict[str, Any]
) -> None:
    client = console_app.test_client()
    page = client.get("/messages?status=failed").text
    assert "Failed messages" in page
    table = page[page.index('id="messages"') :]
    assert 'href="/messages/wamid.console-2"' in table
    assert "wamid.console-1" not in table  # read: not failed
    row = table.split("</tr>")[1]
    assert "131026" in row
    assert "Message undeliverable (undeliverable)" in row
    assert ">49<" in row  # the recipient
    assert "2025-06-15T15:07:10Z" in row  # when it failed, in UTC
    assert "wamid.console-1" in client.get("/messages?reached=read").text
    assert "wamid.console-2" not in client.get("/messages?status=read").text
    assert "wamid.console-2" in client.get("/messages?error_code=131026").text
    assert 'id="none"' in client.get("/messages?status=failed&since=1h").text


def test_overview_cards_lead_to_what_they_count(
    console_app: Flask, db: Database, stored: dict[str, Any]
) -> None:
    now = int(time.time())
    errors = '"errors":[{"code":131049,"title":"Ecosystem engagement"}]'
    store(db, [status_body("wamid.today-failed", "failed", now - 5, errors)])
    drain(db)
    client = console_app.test_client()
    overview = client.get("/").text
    failed = links(overview, "card-failed")
    assert failed is not None
    assert "status=failed" in failed
    assert "since=" in failed
    assert "wamid.today-failed" in client.get(failed).text
    assert "wamid.console-2" not in client.get(failed).text  # failed, but not today
    rejected = links(overview, "card-rejected")
    assert rejected is not None
    assert rejected.startswith("/events?state=rejected")
    assert listed(client.get(rejected).text) == [stored["rejected"]]
    assert links(overview, "card-failed-events") == "/events?state=failed"
    for card in ("card-sent", "card-delivered", "card-read", "card-requests", "card-retries",
                 "card-queued"):  # fmt: skip
        target = links(overview, card)
        assert target is not None, card
        assert client.get(target).status_code == 200, card
    assert links(overview, "failed-messages") == failed


def test_values_are_json_times_end_in_z_and_nothing_shows_as_none(
    console_app: Flask, db: Database, stored: dict[str, Any]
) -> None:
    paused = management(
        "message_template_status_update",
        '{"event":"PAUSED","message_template_id":1689556908129832,'
        '"message_template_name":"order_confirmation","message_template_language":"en_US",'
        '"reason":null}',
    )
    store(db, [paused])
    drain(db)
    client = console_app.test_client()
    failed = client.get(f"/events/{stored['failed']}").text
    assert '<pre class="json">[\n  {\n    &#34;code&#34;: 131026' in failed
    assert "{&#39;code&#39;" not in failed  # never a Python repr
    overview = client.get("/").text
    templates = overview[overview.index("Templates needing attention") :]
    assert "order_confirmation" in templates
    assert f"<td>{MISSING}</td>" in templates.split("</table>")[0]  # no quality yet
    pages = [failed, overview, client.get("/events").text, client.get("/problems").text,
             client.get("/messages").text, client.get("/messages/wamid.console-1").text,
             client.get(f"/events/{stored['inbound']}").text]  # fmt: skip
    for page in pages:
        assert "None" not in page
        assert "+00:00" not in page
    assert re.search(r">2025-06-15T15:06:40Z<", pages[5])  # the timeline's first status


def test_filters_from_the_query_string_are_400_never_500(
    console_app: Flask, stored: dict[str, Any]
) -> None:
    client = console_app.test_client()
    for query, said in (("before=abc", "not an event id"),
                        ("before=" + "9" * 30, "not an event id"),
                        ("after=-1", "not an event id"),
                        ("before=5&after=2", "not both"),
                        ("error_code=1e5", "not a whole number"),
                        ("error_code=99999999999", "not a whole number"),
                        ("error_code=" + "1" * 5000, "not a whole number"),
                        ("held=raw_events", "held must be one of"),
                        ("held=status_events%22;--", "held must be one of"),
                        ("retry=yes", "retry is 1"),
                        ("limit=%D9%A3", "not a whole number"),
                        ("limit=" + "9" * 5000, "not a whole number"),
                        ("limit=1001", "not in the range"),
                        ("since=9999-12-31T23:59:59-01:00", "outside the years"),
                        ("since=99999999999w", "too long ago"),
                        ("since=2h&until=3h", "since must be before until"),
                        ("text=%00", None)):  # fmt: skip
        answer = client.get(f"/events?{query}")
        if said is None:
            assert answer.status_code in (200, 400), query
            continue
        assert answer.status_code == 400, query
        assert said in answer.text, query
    for query, said in (("status=lost", "status must be one of"),
                        ("reached=sent", "reached must be one of"),
                        ("page=0", "not in the range"),
                        ("page=201", "not in the range"),
                        ("page=x", "not a whole number"),
                        ("channel=%00", "channel"),
                        ("error_code=2147483648", "not a whole number"),
                        ("until=0001-01-01T00:00:00%2B01:00", "outside the years")):  # fmt: skip
        answer = client.get(f"/messages?{query}")
        assert answer.status_code == 400, query
        assert said in answer.text, query
    assert client.get("/events?before=1&limit=1000").status_code == 200
    assert client.get("/events?after=9223372036854775807").status_code == 200
    assert client.get("/messages?page=200&error_code=-2147483648").status_code == 200


@pytest.fixture
def console_url(database_url: str, stored: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    """The console as `wabahook console` serves it (gunicorn), on a free loopback port,
    its database named by a file as the deploy files do."""
    port = free_port()
    url_file = tmp_path / "database-url"
    url_file.write_text(database_url)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL_FILE"] = str(url_file)  # the sweep's job: no Redis of this test
    process = subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "console", "--bind", f"127.0.0.1:{port}"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for_port("127.0.0.1", port, 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        terminate(process)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by its chromedriver (nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1200,1000")
    driver = webdriver.Chrome(
        service=Service(require_command("chromedriver", "chromium-driver")), options=options
    )
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def menu_table(driver: Any, console_url: str, link: str, table_id: str) -> dict[str, str]:
    """Open the console, follow the menu's `link`, and read table `table_id`: each row's
    text by its first cell."""
    from selenium.webdriver.common.by import By

    driver.get(console_url + "/")
    driver.find_element(By.LINK_TEXT, link).click()
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tr")[1:]
    return {row.find_elements(By.TAG_NAME, "td")[0].text: row.text for row in rows}


def screenshot(driver: Any, name: str, folder: Path) -> None:
    """Keep what the page looked like (CONSOLE_SCREENSHOTS: where; else the test's folder)."""
    target = Path(os.environ.get("CONSOLE_SCREENSHOTS") or folder)
    target.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(target / f"console-{name}.png"))


def test_the_console_in_chromium(
    console_url: str, browser: Any, stored: dict[str, Any], database_url: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    browser.get(console_url + "/")
    assert "Today (UTC)" in browser.find_element(By.TAG_NAME, "h1").text
    screenshot(browser, "overview", tmp_path)

    # A search by message id is a link anyone can open: it finds the three statuses.
    browser.get(console_url + "/events?message_id=wamid.console-1")
    rows = browser.find_elements(By.CSS_SELECTOR, "#results tr")[1:]
    assert [row.find_element(By.TAG_NAME, "a").text for row in rows] == [
        str(stored["delivered"]),
        str(stored["sent"]),
        str(stored["read"]),
    ]  # newest first
    screenshot(browser, "events", tmp_path)
    rows[0].find_element(By.TAG_NAME, "a").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == f"Event {stored['delivered']}"
    screenshot(browser, "event", tmp_path)
    browser.find_element(By.LINK_TEXT, "wamid.console-1").click()

    # The timeline: statuses by their own time (not arrival), and why read is current.
    cells = browser.find_elements(By.CSS_SELECTOR, "#timeline tr td:first-child")
    assert [cell.text for cell in cells] == ["sent", "delivered", "read"]
    assert "Current status: read" in browser.find_element(By.ID, "current").text
    screenshot(browser, "message", tmp_path)

    # A body with markup shows as text, and nothing of it runs.
    browser.get(f"{console_url}/events/{stored['inbound']}")
    assert XSS in browser.find_element(By.ID, "body").text
    assert browser.title != "pwned"
    assert not browser.find_elements(By.CSS_SELECTOR, "pre img, dd img, td img")
    screenshot(browser, "markup", tmp_path)

    # Replay from the page: the rejected event is queued again.
    browser.get(console_url + "/problems")
    screenshot(browser, "problems", tmp_path)
    browser.find_element(By.CSS_SELECTOR, f"button[value='{stored['rejected']}']").click()
    # A form's POST, its 303 and the page it leads to: the click does not wait for them.
    notice = WebDriverWait(browser, 15).until(
        expected_conditions.presence_of_element_located((By.ID, "replayed"))
    )
    assert "Queued again" in notice.text
    assert state_of(database_url, stored["rejected"]) == "queued"
    screenshot(browser, "replayed", tmp_path)

    # A phone's screen: the pages fit its width.
    browser.set_window_size(390, 844)
    browser.get(console_url + "/events?message_id=wamid.console-1")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390 + 1
    screenshot(browser, "phone", tmp_path)


def test_lists_pages_and_links_in_chromium(
    console_url: str, browser: Any, stored: dict[str, Any], db: Database, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    (retry,) = store(db, [FAILED])  # the failure's bytes again: a sender retry
    drain(db)

    def ids_listed() -> list[str]:
        rows = browser.find_elements(By.CSS_SELECTOR, "#results tr")[1:]
        return [row.find_element(By.TAG_NAME, "a").text for row in rows]

    # Unfiltered: the newest first, two a page, and back again.
    browser.get(console_url + "/events?limit=2")
    assert ids_listed() == [str(retry), str(stored["rejected"])]
    badge = browser.find_element(By.CSS_SELECTOR, "#results .badge.retry")
    assert badge.text == "sender retry"
    screenshot(browser, "events-newest", tmp_path)
    browser.find_element(By.ID, "older").click()
    assert ids_listed() == [str(stored["inbound"]), str(stored["failed"])]
    assert not browser.find_elements(By.CSS_SELECTOR, "#results .badge")  # the first delivery
    screenshot(browser, "events-older", tmp_path)
    browser.find_element(By.ID, "newer").click()
    assert ids_listed() == [str(retry), str(stored["rejected"])]

    # The overview's cards lead to what they count.
    browser.get(console_url + "/")
    screenshot(browser, "overview-cards", tmp_path)
    browser.find_element(By.ID, "card-rejected").click()
    assert ids_listed() == [str(stored["rejected"])]
    assert browser.find_element(By.CSS_SELECTOR, "select[name=state]").get_attribute("value") == (
        "rejected"
    )

    # Failed messages, each with its errors; a click leads to the message's timeline.
    browser.get(console_url + "/messages?status=failed")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Failed messages"
    row = browser.find_elements(By.CSS_SELECTOR, "#messages tr")[1]
    assert "131026 Message undeliverable (undeliverable)" in row.text
    assert "2025-06-15T15:07:10Z" in row.text
    screenshot(browser, "failed-messages", tmp_path)
    row.find_element(By.LINK_TEXT, "wamid.console-2").click()
    assert "Current status: failed" in browser.find_element(By.ID, "current").text

    # The retry's page says what it is, and its projected errors read as JSON.
    browser.get(f"{console_url}/events/{retry}")
    assert browser.find_element(By.ID, "retry").text == "sender retry"
    browser.get(f"{console_url}/events/{stored['failed']}")
    errors = browser.find_element(By.CSS_SELECTOR, "pre.json").text
    assert errors.startswith("[\n  {\n")
    assert '"code": 131026' in errors
    browser.execute_script(
        "arguments[0].scrollIntoView()", browser.find_element(By.CSS_SELECTOR, "pre.json")
    )
    screenshot(browser, "event-json", tmp_path)

    # On a phone's screen the lists fit its width.
    browser.set_window_size(390, 844)
    for path in ("/events", "/messages?status=failed"):
        browser.get(console_url + path)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 391, path
    screenshot(browser, "phone-messages", tmp_path)


def test_destinations_and_a_failed_delivery_retried_in_chromium(
    console_url: str, browser: Any, stored: dict[str, Any], db: Database, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    from processors.relay import destinations
    from processors.relay.destinations import NewDestination
    from processors.stored.selection import Selection
    from receiver.config import Secret
    from receiver.sealing import Sealer
    from tests.integration.test_relay import KEY, relay_until_idle
    from tests.support.fake_http import FakeServer

    sealer = Sealer(Secret(KEY))
    with FakeServer(lambda request: (404, {}, b"no such tenant")) as app:
        destinations.add(db, sealer, NewDestination("crm", app.url), None)
        destinations.queue_stored(db, "crm", Selection(ids=(stored["inbound"],)))
        relay_until_idle(db, sealer)
    browser.get(console_url + "/destinations")
    cells = browser.find_elements(By.CSS_SELECTOR, "#destinations tr td")
    assert cells[0].text.startswith("crm")
    row = browser.find_elements(By.CSS_SELECTOR, "#failed-deliveries tr")[1]
    assert "dead" in row.text
    assert "HTTP 404: no such tenant" in row.text
    screenshot(browser, "destinations", tmp_path)
    row.find_element(By.TAG_NAME, "button").click()
    notice = WebDriverWait(browser, 15).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "p.notice"))
    )
    assert f"Event {stored['inbound']}" in notice.text
    with db.connection() as conn:
        state = conn.execute("SELECT state FROM wabahook.relay_deliveries").fetchone()
    assert state == {"state": "retrying"}
    screenshot(browser, "destinations-retried", tmp_path)
