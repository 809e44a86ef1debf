"""`wabahook people erase` while webhooks keep coming and drains keep running."""

from __future__ import annotations

import threading

import psycopg
import pytest
from flask import Flask

from processors import channels
from processors.erasure import erase as erasure
from processors.pipeline.drain import drain
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.corpora.people import ANA_CHANGED, ANA_FIRST, ANA_NEW, message, messages
from tests.integration.helpers import basic
from tests.integration.test_meta_channels import database_dump
from tests.integration.test_people_erase import leftovers, secret_key  # noqa: F401 (fixture)
from tests.support.bodies import T0

OTHERS = 150  # other people's messages posted in all


def someone(i: int) -> bytes:
    return messages(message(f'"from":"1555077{i:04d}"', f"wamid.LOAD{i}", T0 + 1000 + i))


def ana_again(i: int) -> bytes:
    return messages(message(f'"from":"{ANA_NEW}"', f"wamid.ANAL{i}", T0 + 5000 + i))


@pytest.mark.slow  # intake and drains in a thread through a whole erasure
def test_an_erasure_under_intake_and_drains_loses_nothing_and_leaves_nothing(
    app: Flask,
    db: Database,
    database_url: str,
    secret_key: str,  # noqa: F811
) -> None:
    issued = channels.add_channel(db, "acme")
    headers = {"Authorization": basic(issued.username, issued.password),
               "Content-Type": "application/json"}  # fmt: skip
    client = app.test_client()
    for body in (ANA_FIRST, ANA_CHANGED):
        assert client.post("/webhooks/acme", data=body, headers=headers).status_code == 200
    drain(db)

    answers: list[int] = []
    errors: list[BaseException] = []
    ana_wanted, ana_posted = threading.Event(), threading.Event()
    stop = threading.Event()

    def traffic() -> None:
        """Everyone else writes all along, and a drain runs every few requests; Ana
        writes again when the erasure asks for it (while it runs)."""
        own = Database(Secret(database_url), application_name="wabahook-test-load", timeout=60)
        try:
            i = 0
            while i < OTHERS or not stop.is_set():
                if ana_wanted.is_set() and not ana_posted.is_set():
                    answers.append(client.post("/webhooks/acme", data=ana_again(i),
                                               headers=headers).status_code)  # fmt: skip
                    ana_posted.set()
                body = someone(i) if i < OTHERS else b'{"entry":[]}'
                answers.append(
                    client.post("/webhooks/acme", data=body, headers=headers).status_code
                )
                i += 1
                if i % 5 == 0:
                    drain(own)
        except BaseException as exc:
            errors.append(exc)
            ana_posted.set()
        finally:
            own.close()

    def say(line: str) -> None:
        if line.startswith("re-deriving") and not ana_wanted.is_set():
            ana_wanted.set()  # she writes while her bodies are being rewritten
            assert ana_posted.wait(60)

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        found = erasure.plan(db, "wa_id", ANA_NEW)
        done = erasure.erase(db, Sealer(Secret(secret_key)), "wa_id", found, say=say)
    finally:
        stop.set()
        thread.join(timeout=300)
    assert errors == []
    assert not thread.is_alive()
    drain(db)

    assert set(answers) == {200}  # intake answered every request, all along
    assert done["passes"] >= 2  # her message of the meantime took a pass of its own
    assert leftovers(database_url) == []
    assert b"wamid.ANAL" not in database_dump(database_url)
    with psycopg.connect(database_url) as conn:
        loaded = conn.execute(
            "SELECT count(*) FROM wabahook.messages_inbound WHERE message_id LIKE 'wamid.LOAD%'"
        ).fetchone()
        states = conn.execute(
            "SELECT state, count(*) FROM wabahook.raw_event_log GROUP BY state"
        ).fetchall()
    assert loaded == (OTHERS,)  # everyone else's messages, each projected once
    assert dict(states).keys() == {"processed"}
