"""Facts: one JSON object per projected fact, after processing, with a status that never
moves backwards, each valid against its documented JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from processors import channels
from processors.pipeline.drain import drain
from processors.relay import destinations
from processors.relay.destinations import FACT_TYPES, DestinationError, NewDestination
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.integration.test_relay import KEY, SECRET, ok, relay_until_idle, store
from tests.support.fake_http import FakeServer, Recorded

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "facts"
NUMBER = "4915100000001"
MESSAGE = (
    b'{"contacts":[{"wa_id":"' + NUMBER.encode() + b'","profile":{"name":"Ana"}}],'
    b'"messages":[{"from":"' + NUMBER.encode() + b'","id":"wamid.IN1","timestamp":"1750000000",'
    b'"type":"text","text":{"body":"Hallo \\u00e9"}}]}'
)


def status(state: str, at: int, message: str = "wamid.OUT1") -> bytes:
    return json.dumps({"statuses": [{"id": message, "status": state, "timestamp": str(at),
                                     "recipient_id": NUMBER}]}).encode()  # fmt: skip


def facts(app: FakeServer) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in app.requests]


def facts_of(db: Database, kinds: tuple[str, ...], bodies: list[bytes]) -> list[dict[str, Any]]:
    """The facts of `kinds` a destination gets once `bodies` are stored and processed."""
    sealer = Sealer(Secret(KEY))
    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination(
            "app", app.url, format="facts", kinds=kinds), SECRET)  # fmt: skip
        for body in bodies:
            store(db, "acme", body)
        drain(db)
        relay_until_idle(db, sealer)
        return facts(app)


def assert_valid(sent: list[dict[str, Any]]) -> None:
    """Each fact is valid against its type's documented JSON Schema."""
    for fact in sent:
        schema = json.loads((SCHEMAS / f"{fact['type']}.schema.json").read_text())
        jsonschema.validate(fact, schema, format_checker=jsonschema.FormatChecker())


def test_facts_arrive_after_processing_once_each_and_statuses_never_move_back(
    db: Database,
) -> None:
    sealer = Sealer(Secret(KEY))
    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("bot", app.url, format="facts"), SECRET)
        destinations.add(db, sealer, NewDestination(
            "statuses", app.url + "/statuses", format="facts", kinds=("message.status",)
        ), SECRET)  # fmt: skip
        store(db, "acme", MESSAGE, "application/json")
        store(db, "acme", status("read", 1750000030))
        relay_until_idle(db, sealer)
        assert app.requests == []  # facts come from processing, not from intake
        drain(db)
        relay_until_idle(db, sealer)
        store(db, "acme", status("delivered", 1750000020))  # late, and older than the read
        store(db, "acme", MESSAGE, "application/json")  # the sender retries a body
        drain(db)
        relay_until_idle(db, sealer)
        requests: list[Recorded] = list(app.requests)
    to_bot = [json.loads(r.body) for r in requests if r.path == "/"]
    by_type = {(f["type"], f.get("status")): f for f in to_bot}
    assert len(to_bot) == 4  # the retried body adds nothing
    assert [f["wa_ids"] for f in to_bot if f["type"] == "person.updated"] == [[NUMBER]]
    received = by_type[("message.received", None)]
    assert (received["message_id"], received["text"], received["wa_id"], received["profile_name"],
            received["sent_at"]) == ("wamid.IN1", "Hallo é", NUMBER, "Ana",
                                     "2025-06-15T15:06:40Z")  # fmt: skip
    assert by_type[("message.status", "read")]["current_status"] == "read"
    late = by_type[("message.status", "delivered")]
    assert (late["status"], late["current_status"]) == ("delivered", "read")
    only_statuses = [json.loads(r.body) for r in requests if r.path == "/statuses"]
    assert sorted(f["status"] for f in only_statuses) == ["delivered", "read"]
    for request in requests:
        assert request.headers["content-type"] == "application/json"
    ids = [r.headers["webhook-id"] for r in requests]
    assert len(set(ids)) == len(ids)
    assert_valid(to_bot + only_statuses)


def test_every_fact_type_has_a_schema_and_an_example_in_the_docs() -> None:
    page = (SCHEMAS.parent / "relay.md").read_text()
    for kind in FACT_TYPES:
        schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        example = page.split(f"### `{kind}`", 1)[1].split("```json", 1)[1].split("```", 1)[0]
        jsonschema.validate(json.loads(example), schema)


def test_kinds_are_fact_types(db: Database) -> None:
    sealer = Sealer(Secret(KEY))
    with pytest.raises(DestinationError, match=r"--kind 'message\.sent' is no type of fact"):
        destinations.add(db, sealer, NewDestination(
            "x", "http://127.0.0.1:9/", format="facts", kinds=("message.sent",)
        ), SECRET)  # fmt: skip


def test_edits_revokes_and_preferences_become_facts_of_their_own(db: Database) -> None:
    from tests.corpora.message_changes import edit, revoke, text_from_buyer
    from tests.corpora.preferences_echoes_calls import preference
    from tests.support.bodies import T0, cloud

    sent = facts_of(db, ("message.changed", "opt_out.changed"), [
        text_from_buyer("wamid.ORIG", "helo"),
        edit("wamid.EDIT", "wamid.ORIG", '{"type":"text","text":{"body":"hello"}}', T0 + 60),
        revoke("wamid.REV", "wamid.ORIG", T0 + 120),
        cloud(preference("16505550001", "stop", T0 + 100, "asked"), "user_preferences"),
    ])  # fmt: skip
    changes = sorted((f["change"], f["message_id"], f["text"]) for f in sent
                     if f["type"] == "message.changed")  # fmt: skip
    assert changes == [("edit", "wamid.ORIG", "hello"), ("revoke", "wamid.ORIG", None)]
    (opt_out,) = [f for f in sent if f["type"] == "opt_out.changed"]
    assert (opt_out["wa_id"], opt_out["value"], opt_out["category"]) == (
        "16505550001", "stop", "marketing_messages")  # fmt: skip
    assert len(sent) == 3  # --kind: no message.received
    assert_valid(sent)


def test_template_and_account_notifications_become_facts_once_each(db: Database) -> None:
    from tests.corpora.management import APPROVED, TEMPLATE, management
    from tests.support.bodies import T0

    violation = management(
        "account_update",
        '{"event":"ACCOUNT_VIOLATION","violation_info":{"violation_type":"ADULT"}}',
        T0 + 210,
    )
    sent = facts_of(db, ("template.updated", "account.event"),
                    [APPROVED, violation, APPROVED, violation])  # each delivered twice  # fmt: skip
    assert sorted(f["type"] for f in sent) == ["account.event", "template.updated"]
    (template,) = [f for f in sent if f["type"] == "template.updated"]
    assert (template["template_id"], template["kind"], template["event"]) == (
        TEMPLATE, "status", "APPROVED")  # fmt: skip
    (account,) = [f for f in sent if f["type"] == "account.event"]
    assert (account["field"], account["event"]) == ("account_update", "ACCOUNT_VIOLATION")
    assert account["details"]["violation_info"] == {"violation_type": "ADULT"}
    assert_valid(sent)


def test_number_and_username_notifications_become_facts_once_each(db: Database) -> None:
    from tests.corpora.management import management
    from tests.corpora.usernames import NUMBER
    from tests.support.bodies import T0

    approved = management(
        "business_username_updates", "{" + NUMBER + ',"username":"luckyshrub","status":"approved"}',
        T0 + 300,
    )  # fmt: skip
    sent = facts_of(db, ("phone_number.updated",), [approved, approved])  # delivered twice
    assert [(f["field"], f["event"], f["username"], f["event_at"]) for f in sent] == [
        ("business_username_updates", "approved", "luckyshrub", "2025-06-15T15:11:40Z")
    ]
    assert sent[0]["details"]["status"] == "approved"
    assert_valid(sent)


def test_groups_api_items_become_group_facts_once_each(db: Database) -> None:
    from tests.corpora.groups import CREATED, FAILED_CREATE, GROUP

    # the create delivered twice
    sent = facts_of(db, ("group.updated",), [CREATED, FAILED_CREATE, CREATED])
    assert sorted((f["group_id"], f["event"], f["succeeded"]) for f in sent) == [
        ("G-NEVER", "group_create", False), (GROUP, "group_create", True)]  # fmt: skip
    assert_valid(sent)


def test_facts_about_a_customer_carry_their_person_even_from_the_batch_that_met_them(
    db: Database,
) -> None:
    from tests.corpora.people import ANA_CHANGED, ANA_FIRST, ANA_U2, CY_RESUMED, CY_U

    # Ana's first message and her number change in one batch: both facts name the person
    # the batch made of them, with the id the change brought (the smaller user id).
    sent = facts_of(db, ("message.received", "opt_out.changed"), [ANA_FIRST, ANA_CHANGED,
                                                                 CY_RESUMED])  # fmt: skip
    persons = sorted((f["type"], f.get("message_id"), f["person_id"]) for f in sent)
    assert persons == [
        ("message.received", "wamid.ANA1", ANA_U2),
        ("message.received", "wamid.ANA2", ANA_U2),
        ("opt_out.changed", None, CY_U),
    ]
    assert_valid(sent)


def test_a_person_new_or_changed_is_a_fact_once_per_set_of_identifiers(db: Database) -> None:
    from tests.corpora.people import ANA_CHANGED, ANA_FIRST, ANA_NEW, ANA_OLD, ANA_U1, ANA_U2

    # Ana first seen, then her number change, then her first body again (a sender retry
    # with new bytes would be the same: her identifiers did not change).
    sent = facts_of(db, ("person.updated",), [ANA_FIRST, ANA_CHANGED, ANA_FIRST])
    assert [(f["person_id"], f["wa_ids"], f["user_ids"]) for f in sent] == [
        (ANA_U2, [ANA_OLD, ANA_NEW], [ANA_U2, ANA_U1])
    ]  # one batch: the person as the batch left them
    assert_valid(sent)


def test_ads_clicks_flows_and_partner_events_become_facts_once_each(db: Database) -> None:
    from tests.corpora.ads import CLICK, REFERRAL, automatic_events, click, clicks, conversion
    from tests.corpora.history import PARTNER_EVENT
    from tests.corpora.management import management
    from tests.support.bodies import T0, cloud_message, msg

    first = cloud_message(msg("wamid.ADF1", "text", '"text":{"body":"hi"}', REFERRAL,
                              sender="15550990007"))  # fmt: skip
    bought = automatic_events(
        conversion("wamid.ADF2", "Purchase", T0 + 60, '{"currency":"USD","value":"25.50"}')
    )
    clicked = clicks(click("click-f", T0 + 70))
    flow = management(
        "flows",
        '{"event":"FLOW_STATUS_CHANGE","flow_id":"1097","old_status":"DRAFT",'
        '"new_status":"PUBLISHED"}',
        T0 + 80,
    )
    kinds = ("conversion", "link.clicked", "flow.event", "partner.event")
    bodies = [first, bought, clicked, flow, PARTNER_EVENT]
    sent = facts_of(db, kinds, bodies + bodies[1:])  # each delivered twice
    by_type = {f["type"]: f for f in sent}
    assert sorted(f["type"] for f in sent) == sorted(kinds)
    conv = by_type["conversion"]
    assert (conv["event_name"], conv["ctwa_clid"], conv["value"], conv["currency"]) == (
        "Purchase", CLICK, 25.5, "USD")  # fmt: skip
    assert conv["person_id"] == "15550990007"
    assert (by_type["link.clicked"]["click_id"], by_type["link.clicked"]["product_id"]) == (
        "click-f", "sku-9")  # fmt: skip
    assert (by_type["flow.event"]["flow_id"], by_type["flow.event"]["new_status"]) == (
        "1097", "PUBLISHED")  # fmt: skip
    partner = by_type["partner.event"]
    assert (partner["event_id"], partner["event"], partner["status"]) == (
        "evt-0001", "channel_ready", "ready")  # fmt: skip
    assert partner["details"]["client_id"] == "cl-1"
    assert partner["event_at"] == "2025-06-15T15:06:40Z"
    assert_valid(sent)


def test_history_chunks_and_messages_become_facts_once_each(db: Database) -> None:
    from tests.corpora.history import CUSTOMER_USER, MEDIA, PLACEHOLDER_ID, THREAD, chunk
    from tests.support.bodies import cloud, meta

    first, media = chunk(1, 55, THREAD), cloud(meta(MEDIA), "history")
    sent = facts_of(db, ("history.progress", "history.message"), [first, media, first, media])
    (progress,) = [f for f in sent if f["type"] == "history.progress"]
    assert (progress["phase"], progress["chunk_order"], progress["progress"]) == (0, 1, 55)
    assert progress["completed"] is False
    messages = sorted(
        (f["message_id"], f["media_pending"], f["direction"])
        for f in sent
        if f["type"] == "history.message"
    )
    assert messages == [
        ("wamid.HIST1", False, "outbound"),
        ("wamid.HIST2", False, "outbound"),
        (PLACEHOLDER_ID, False, "inbound"),  # its media
        (PLACEHOLDER_ID, True, "inbound"),  # its placeholder first
    ]
    assert {f["person_id"] for f in sent if f["type"] == "history.message"} == {CUSTOMER_USER}
    assert_valid(sent)


def test_a_retried_event_in_the_batch_takes_nothing_from_the_others_facts(
    db: Database,
) -> None:
    """A batch's first attempts and its retries are projected apart; the facts of all of
    them still read every item's JSON (details, keys made of it)."""
    from tests.corpora.ads import clicks
    from tests.corpora.history import PARTNER_EVENT
    from tests.support.bodies import T0

    def tokenless(product: str, at: int) -> bytes:  # keyed by the whole item
        return clicks(
            '{"action_type":"marketing_messages_link_click","timestamp":"' + str(at) + '",'
            '"marketing_messages_link_click_data":{"click_component":"cta","product_id":"'
            + product + '"}}'
        )  # fmt: skip

    sealer = Sealer(Secret(KEY))
    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        kinds = ("partner.event", "link.clicked")
        destinations.add(db, sealer, NewDestination("app", app.url, format="facts", kinds=kinds),
                         SECRET)  # fmt: skip
        store(db, "acme", PARTNER_EVENT)
        store(db, "acme", tokenless("sku-1", T0 + 1))
        store(db, "acme", tokenless("sku-2", T0 + 2))
        retried = store(db, "acme", MESSAGE)
        with db.connection() as conn:
            conn.execute(
                "UPDATE wabahook.event_queue SET attempts = 1 WHERE raw_event_id = %s", [retried]
            )
        drain(db)
        relay_until_idle(db, sealer)
        sent = facts(app)
    (partner,) = [f for f in sent if f["type"] == "partner.event"]
    assert partner["details"]["client_id"] == "cl-1"
    assert sorted(f["product_id"] for f in sent if f["type"] == "link.clicked") == [
        "sku-1", "sku-2"]  # fmt: skip
