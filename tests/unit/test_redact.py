"""Rewriting a body without one person: theirs replaced, everyone else's untouched."""

from __future__ import annotations

import json
from decimal import Decimal

from processors.erasure.redact import dump, load, message_ids, pseudonyms, redact, scrub_bytes
from processors.pipeline.parse import parse

PERSON, USER, OTHER = "16505550001", "US.11110000000000000001", "16505550002"
PSEUDONYM = pseudonyms(b"k" * 32)


def erase(body: bytes, identifiers: frozenset[str] = frozenset({PERSON, USER})) -> bytes:
    document = load(body)
    replaced = identifiers | message_ids(document, identifiers)
    return dump(redact(document, frozenset(replaced), identifiers, PSEUDONYM))


def cloud(value: str, field: str = "messages") -> bytes:
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"'
        + field + '","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":'
        '"15550001111","phone_number_id":"100"},' + value + "}}]}]}"
    ).encode()  # fmt: skip


def test_numbers_and_texts_are_written_back_as_they_were() -> None:
    body = b'{"a":1e400,"b":0.10,"c":-0,"d":123456789012345678901234567890,"e":"\\u00e9\\ud83d"}'
    assert dump(load(body)) == (
        b'{"a":1e400,"b":0.10,"c":-0,"d":123456789012345678901234567890,"e":"\\u00e9\\ud83d"}'
    )
    assert json.loads(dump(load('{"é":["x",true,null,{}]}'.encode())), parse_float=Decimal) == {
        "é": ["x", True, None, {}]
    }
    assert load(b"not json") is None


def test_a_status_to_the_person_keeps_what_analytics_read() -> None:
    statuses = (
        '"statuses":[{"id":"wamid.P1","status":"delivered","timestamp":"1750000000",'
        '"recipient_id":"' + PERSON + '","conversation":{"id":"conv-1","origin":{"type":'
        '"utility"}},"pricing":{"billable":true,"pricing_model":"PMP","category":"utility"}},'
        '{"id":"wamid.O1","status":"read","timestamp":"1750000001","recipient_id":"' + OTHER
        + '"}]'
    )  # fmt: skip
    erased = erase(cloud(statuses))
    assert PERSON.encode() not in erased
    assert b"wamid.P1" not in erased
    assert OTHER.encode() in erased
    assert b"wamid.O1" in erased  # someone else: untouched
    before, after = parse(cloud(statuses)).of("statuses"), parse(erased).of("statuses")
    assert [(s.status, s.status_at, s.pricing_category) for s in after] == [
        (s.status, s.status_at, s.pricing_category) for s in before
    ]
    assert after[0].message_id == PSEUDONYM("wamid.P1")
    assert after[0].recipient_id == PSEUDONYM(PERSON)
    assert json.loads(erased)["entry"][0]["changes"][0]["value"]["statuses"][0][
        "conversation"] == {"id": "conv-1", "origin": {"type": "utility"}}  # fmt: skip


def test_a_message_from_the_person_loses_everything_it_said() -> None:
    message = (
        '"contacts":[{"profile":{"name":"Ada Lovelace","username":"@ada"},"wa_id":"' + PERSON
        + '","user_id":"' + USER + '"}],"messages":[{"from":"' + PERSON + '","id":"wamid.P2",'
        '"timestamp":"1750000002","type":"image","image":{"caption":"my flat","id":"media-77",'
        '"sha256":"abc","mime_type":"image/jpeg"},"referral":{"source_type":"ad","headline":'
        '"Spring sale","body":"20% off"},"location":{"latitude":38.9,"longitude":-77.0,'
        '"name":"Home","address":"1 Main St"}}]'
    )  # fmt: skip
    erased = erase(cloud(message))
    said = [b"Ada Lovelace", b"my flat", b"media-77", b"Home", b"1 Main St", b"38.9", b"-77.0"]
    said += [b"20% off", b"@ada", PERSON.encode(), USER.encode()]
    for word in said:
        assert word not in erased, word
    (read,) = parse(erased).of("messages")
    assert (read.type, read.sent_at, read.wa_id) == ("image", 1750000002, PSEUDONYM(PERSON))
    assert b'"mime_type":"image/jpeg"' in erased
    assert b'"headline":"Spring sale"' in erased  # the ad's, not theirs: attribution holds


def test_the_business_words_to_the_person_go_too_but_not_its_number() -> None:
    echo = (
        '"message_echoes":[{"from":"15550001111","to":"' + PERSON + '","id":"wamid.E1",'
        '"timestamp":"1750000003","type":"text","text":{"body":"Your code is 1234"}}]'
    )  # fmt: skip
    erased = erase(cloud(echo, "smb_message_echoes"))
    assert b"Your code is 1234" not in erased
    assert b'"from":"15550001111"' in erased


def test_one_message_id_is_one_pseudonym_in_every_body() -> None:
    status = cloud('"statuses":[{"id":"wamid.B1","status":"read","timestamp":"1750000004",'
                   '"recipient_id":"' + PERSON + '"}]')  # fmt: skip
    reply = cloud(
        '"messages":[{"from":"' + PERSON + '","id":"wamid.P3","timestamp":"1750000005",'
        '"type":"text","text":{"body":"yes"},"context":{"from":"15550001111","id":"wamid.B1"}}]'
    )  # fmt: skip
    identifiers = frozenset({PERSON})
    replaced = identifiers | message_ids(load(status), identifiers) | message_ids(
        load(reply), identifiers)  # fmt: skip
    out = [
        dump(redact(load(b), frozenset(replaced), identifiers, PSEUDONYM)) for b in (status, reply)
    ]
    pseudo = PSEUDONYM("wamid.B1").encode()
    assert pseudo in out[0]
    assert pseudo in out[1]
    assert parse(out[1]).of("messages")[0].context_message_id == PSEUDONYM("wamid.B1")


def test_history_threads_and_address_book_entries_are_the_persons() -> None:
    history = (
        '"history":[{"metadata":{"phase":0,"chunk_order":1,"progress":55},"threads":[{"id":"'
        + PERSON + '","messages":[{"from":"15550001111","to":"' + PERSON + '","id":"wamid.H1",'
        '"timestamp":"1739230955","type":"text","text":{"body":"Here you go"},'
        '"history_context":{"status":"READ"}}]}]}]'
    )  # fmt: skip
    erased = erase(cloud(history, "history"))
    assert b"Here you go" not in erased
    assert PERSON.encode() not in erased
    assert b'"progress":55' in erased
    assert b'"status":"READ"' in erased
    sync = (
        '"state_sync":[{"type":"contact","contact":{"full_name":"Pablo Morales","phone_number":'
        '"' + PERSON + '"},"action":"add","metadata":{"timestamp":"1739321024"}}]'
    )  # fmt: skip
    assert b"Pablo Morales" not in erase(cloud(sync, "smb_app_state_sync"))


def test_a_number_sent_as_a_json_number_is_replaced_too() -> None:
    erased = erase(b'{"contacts":[{"wa_id":' + PERSON.encode() + b',"profile":{"name":"X"}}]}')
    assert PERSON.encode() not in erased
    assert PSEUDONYM(PERSON).encode() in erased


def test_a_body_that_is_no_json_has_the_identifiers_bytes_replaced() -> None:
    body = b"garbage " + PERSON.encode() + b' {"u":"' + USER.encode() + b'"'
    scrubbed = scrub_bytes(body, {PERSON, USER}, PSEUDONYM)
    assert PERSON.encode() not in scrubbed
    assert USER.encode() not in scrubbed
    assert scrubbed.startswith(b"garbage erased:")


def test_what_the_person_chose_or_was_told_goes_too() -> None:
    reply = (
        '"messages":[{"from":"' + PERSON + '","id":"wamid.P4","timestamp":"1750000006",'
        '"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"slot-3",'
        '"title":"HIV clinic 3pm"}}}],"statuses":[{"id":"wamid.P5","status":"failed",'
        '"timestamp":"1750000007","recipient_id":"' + PERSON + '","errors":[{"code":131026,'
        '"title":"Message undeliverable","error_data":{"details":"Recipient ' + PERSON
        + ' unreachable"}}]}]'
    )  # fmt: skip
    erased = erase(cloud(reply))
    assert b"HIV clinic" not in erased
    assert PERSON.encode() not in erased
    assert b'"code":131026' in erased  # the error itself stays
    assert b"unreachable" in erased


def test_a_card_of_the_person_sent_by_someone_else_is_theirs_but_the_message_is_not() -> None:
    card = (
        '"messages":[{"from":"' + OTHER + '","id":"wamid.O2","timestamp":"1750000008",'
        '"type":"contacts","contacts":[{"name":{"formatted_name":"Ada Smith"},"phones":[{'
        '"phone":"+1 650-555-0001","type":"CELL"}]}]},{"from":"' + OTHER + '","id":'
        '"wamid.O3","timestamp":"1750000009","type":"text","text":{"body":"call her on +'
        + PERSON + ', she knows 165055500019"}}]'
    )  # fmt: skip
    erased = erase(cloud(card))
    assert b"Ada Smith" not in erased
    assert b"650-555-0001" not in erased
    assert OTHER.encode() in erased  # the sender, someone else, stays
    assert b"she knows 165055500019" in erased  # a longer number is no part of theirs
    assert b"call her on +erased:" in erased


def test_an_on_premise_status_names_its_recipient_one_level_down() -> None:
    body = ('{"statuses":[{"id":"gBGGP1","status":"sent","timestamp":"1750000010",'
            '"message":{"recipient_id":"' + PERSON + '"}}]}').encode()  # fmt: skip
    erased = erase(body)
    assert b"gBGGP1" not in erased
    assert PERSON.encode() not in erased


def test_ids_that_are_no_message_ids_stay_where_they_stand_for_others() -> None:
    history = (
        '"history":[{"metadata":{"phase":0,"chunk_order":1,"progress":1},"threads":[{"id":"'
        + PERSON + '","messages":[{"from":"' + PERSON + '","id":"wamid.H2","timestamp":'
        '"1739230955","type":"interactive","interactive":{"type":"button_reply","button_reply":'
        '{"id":"1","title":"Yes"}},"history_context":{"status":"READ"}}]},{"id":"' + OTHER
        + '","messages":[{"from":"' + OTHER + '","id":"1","timestamp":"1739230956","type":"text",'
        '"text":{"body":"mine"},"history_context":{"status":"READ"}}]}]}]'
    )  # fmt: skip
    erased = erase(cloud(history, "history"))
    assert b'"phase":0,"chunk_order":1,"progress":1' in erased
    assert b'"from":"' + OTHER.encode() + b'","id":"1"' in erased
    assert b'"body":"mine"' in erased


def test_a_fact_keeps_what_it_is_about_and_loses_what_it_says() -> None:
    from processors.erasure.redact import redact_fact, redact_key

    fact = {"type": "message.received", "channel": "acme", "message_id": "wamid.P6",
            "wa_id": PERSON, "text": "my secret", "message_type": "text",
            "sent_at": "2025-06-15T15:00:00Z", "profile_name": "Ada",
            "raw_event_id": 7}  # fmt: skip
    replaced = frozenset({PERSON, "wamid.P6"})
    out = redact_fact(fact, replaced, frozenset({PERSON}), PSEUDONYM)
    kept = ("type", "channel", "message_type", "sent_at", "raw_event_id")
    assert {k: out[k] for k in kept} == {k: fact[k] for k in kept}
    assert PERSON not in json.dumps(out)
    assert "my secret" not in json.dumps(out)
    assert "Ada" not in json.dumps(out)
    assert redact_key("message:acme:wamid.P6", replaced, PSEUDONYM) == (
        "message:acme:" + PSEUDONYM("wamid.P6"))  # fmt: skip
    digest = "0123456789abcdef0123456789abcdef"
    person = redact_key(f"person:{PERSON}:{digest}", replaced, PSEUDONYM)
    assert digest not in person
    assert PERSON not in person
    assert redact_key("status:acme:wamid.O1:read:1", replaced, PSEUDONYM) == (
        "status:acme:wamid.O1:read:1")  # fmt: skip


def test_a_username_is_replaced_where_it_stands_whole_not_inside_anyones_words() -> None:
    body = cloud(
        '"contacts":[{"profile":{"name":"X","username":"sunny"},"wa_id":"' + PERSON + '"}],'
        '"messages":[{"from":"' + OTHER + '","id":"wamid.O4","timestamp":"1750000011",'
        '"type":"text","text":{"body":"a sunny day"}}]'
    )  # fmt: skip
    erased = erase(body, frozenset({PERSON, "sunny"}))
    assert b'"username":"sunny"' not in erased
    assert b"a sunny day" in erased
