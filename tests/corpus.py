"""A corpus of notification bodies of every documented shape, each with the facts it must produce.

The cases of each kind of operations data live in tests/corpora/, one module each.
"""

from __future__ import annotations

import importlib
import pkgutil

from tests import corpora
from tests.support.bodies import (
    CONTACT,
    PN,
    T0,
    WABA,
    Case,
    cloud,
    cloud_message,
    meta,
    msg,
)

__all__ = [
    "BASE_CASES",
    "CASES",
    "CONTACT",
    "PN",
    "REJECTED_CASES",
    "T0",
    "WABA",
    "Case",
    "cloud",
    "meta",
    "msg",
]

CLOUD_CASES = [
    Case(
        "cloud text",
        cloud_message(msg("wamid.T1", "text", '"text":{"body":"Hello there"}')),
        messages={
            "wamid.T1": {
                "type": "text",
                "text": "Hello there",
                "wa_id": "16315551181",
                "phone_number_id": PN,
                "sent_at": T0,
            }
        },
        contacts={"16315551181": "Kerry Fisher"},
    ),
    Case(
        "cloud image with caption",
        cloud_message(
            msg(
                "wamid.IMG",
                "image",
                '"image":{"caption":"our menu","mime_type":"image/jpeg",'
                '"sha256":"aGVsbG8=","id":"1003383421387256"}',
            )
        ),
        messages={"wamid.IMG": {"type": "image", "text": "our menu"}},
    ),
    Case(
        "cloud voice note is audio with voice true",
        cloud_message(
            msg(
                "wamid.VOICE",
                "audio",
                '"audio":{"mime_type":"audio/ogg; codecs=opus",'
                '"sha256":"abc=","id":"1003","voice":true}',
            )
        ),
        messages={"wamid.VOICE": {"type": "audio", "text": None}},
    ),
    Case(
        "cloud video without caption",
        cloud_message(
            msg("wamid.VID", "video", '"video":{"mime_type":"video/mp4","sha256":"x=","id":"77"}')
        ),
        messages={"wamid.VID": {"type": "video", "text": None}},
    ),
    Case(
        "cloud document with filename and caption",
        cloud_message(
            msg(
                "wamid.DOC",
                "document",
                '"document":{"caption":"invoice","filename":"inv.pdf",'
                '"mime_type":"application/pdf","sha256":"y=","id":"78"}',
            )
        ),
        messages={"wamid.DOC": {"type": "document", "text": "invoice"}},
    ),
    Case(
        "cloud animated sticker",
        cloud_message(
            msg(
                "wamid.STK",
                "sticker",
                '"sticker":{"mime_type":"image/webp","sha256":"z=","id":"79","animated":true}',
            )
        ),
        messages={"wamid.STK": {"type": "sticker", "text": None}},
    ),
    Case(
        "cloud location",
        cloud_message(
            msg(
                "wamid.LOC",
                "location",
                '"location":{"latitude":52.52,"longitude":13.405,'
                '"name":"Office","address":"Berlin"}',
            )
        ),
        messages={"wamid.LOC": {"type": "location", "text": None}},
    ),
    Case(
        "cloud shared contacts card",
        cloud_message(
            msg(
                "wamid.VCARD",
                "contacts",
                '"contacts":[{"name":{"formatted_name":"Ann B",'
                '"first_name":"Ann"},"phones":[{"phone":"+1 555","type":"CELL","wa_id":"1555"}]}]',
            )
        ),
        messages={"wamid.VCARD": {"type": "contacts", "text": None}},
        contacts={"16315551181": "Kerry Fisher"},
    ),
    Case(
        "cloud interactive button reply",
        cloud_message(
            msg(
                "wamid.BTN",
                "interactive",
                '"interactive":{"type":"button_reply",'
                '"button_reply":{"id":"yes-1","title":"Yes please"}}',
                '"context":{"from":"15550783881","id":"wamid.OUT1"}',
            )
        ),
        messages={
            "wamid.BTN": {
                "type": "interactive",
                "text": "Yes please",
                "context_message_id": "wamid.OUT1",
            }
        },
    ),
    Case(
        "cloud interactive list reply",
        cloud_message(
            msg(
                "wamid.LIST",
                "interactive",
                '"interactive":{"type":"list_reply",'
                '"list_reply":{"id":"r2","title":"Row two","description":"second"}}',
            )
        ),
        messages={"wamid.LIST": {"type": "interactive", "text": "Row two"}},
    ),
    Case(
        "cloud flow nfm reply",
        cloud_message(
            msg(
                "wamid.NFM",
                "interactive",
                '"interactive":{"type":"nfm_reply",'
                '"nfm_reply":{"name":"flow","body":"Sent","response_json":"{\\"a\\":1}"}}',
            )
        ),
        messages={"wamid.NFM": {"type": "interactive", "text": "Sent"}},
    ),
    Case(
        "cloud template quick reply button",
        cloud_message(
            msg(
                "wamid.QR",
                "button",
                '"button":{"payload":"STOP","text":"Stop promotions"}',
                '"context":{"from":"15550783881","id":"wamid.TPL"}',
            )
        ),
        messages={
            "wamid.QR": {
                "type": "button",
                "text": "Stop promotions",
                "context_message_id": "wamid.TPL",
            }
        },
    ),
    Case(
        "cloud reaction",
        cloud_message(
            msg(
                "wamid.RCT",
                "reaction",
                '"reaction":{"message_id":"wamid.OUT1","emoji":"\\ud83d\\udc4d"}',
            )
        ),
        messages={"wamid.RCT": {"type": "reaction", "text": "\U0001f44d"}},
    ),
    Case(
        "cloud reaction removed (no emoji)",
        cloud_message(msg("wamid.RCT0", "reaction", '"reaction":{"message_id":"wamid.OUT1"}')),
        messages={"wamid.RCT0": {"type": "reaction", "text": None}},
    ),
    Case(
        "cloud reaction removed (empty emoji)",
        cloud_message(
            msg("wamid.RCT1", "reaction", '"reaction":{"message_id":"wamid.OUT1","emoji":""}')
        ),
        messages={"wamid.RCT1": {"type": "reaction", "text": None}},
    ),
    Case(
        "cloud order with empty text",
        cloud_message(
            msg(
                "wamid.ORD",
                "order",
                '"order":{"catalog_id":"c1","text":"","product_items":'
                '[{"product_retailer_id":"sku1","quantity":2,"item_price":9.99,"currency":"EUR"}]}',
            )
        ),
        messages={"wamid.ORD": {"type": "order", "text": None}},
    ),
    Case(
        "cloud system number change has no contacts",
        cloud_message(
            msg(
                "wamid.SYS",
                "system",
                '"system":{"body":"NAME changed from 1 to 2",'
                '"wa_id":"16315559999","type":"user_changed_number"}',
            ),
            contacts="",
        ),
        messages={"wamid.SYS": {"type": "system", "text": None, "wa_id": "16315551181"}},
        contacts={"16315551181": None},
    ),
    Case(
        "cloud click-to-whatsapp referral",
        cloud_message(
            msg(
                "wamid.REF",
                "text",
                '"text":{"body":"Is this available?"}',
                '"referral":{"source_url":"https://fb.me/x","source_id":"123","source_type":"ad",'
                '"headline":"Sale","body":"50% off","media_type":"image","image_url":"https://x/i.jpg",'
                '"ctwa_clid":"ARA123","welcome_message":{"text":"Hi!"}}',
            )
        ),
        messages={"wamid.REF": {"type": "text", "text": "Is this available?"}},
    ),
    Case(
        "cloud unsupported type with error",
        cloud_message(
            msg(
                "wamid.UNS",
                "unsupported",
                '"unsupported":{"type":"poll"}',
                '"errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown",'
                '"error_data":{"details":"Message type is currently not supported."}}]',
            )
        ),
        messages={"wamid.UNS": {"type": "unsupported", "text": None}},
    ),
    Case(
        "cloud forwarded text has a context without id",
        cloud_message(
            msg(
                "wamid.FWD",
                "text",
                '"text":{"body":"fw"}',
                '"context":{"frequently_forwarded":true}',
            )
        ),
        messages={"wamid.FWD": {"type": "text", "text": "fw", "context_message_id": None}},
    ),
    Case(
        "cloud product enquiry context",
        cloud_message(
            msg(
                "wamid.PRD",
                "text",
                '"text":{"body":"price?"}',
                '"context":{"from":"15550783881","id":"wamid.CAT",'
                '"referred_product":{"catalog_id":"c1","product_retailer_id":"sku1"}}',
            )
        ),
        messages={"wamid.PRD": {"context_message_id": "wamid.CAT"}},
    ),
    Case(
        "cloud status sent with conversation and pricing",
        cloud(
            meta(
                '"statuses":[{"id":"wamid.OUT1","status":"sent","timestamp":"1750000100",'
                '"recipient_id":"16315551181","conversation":{"id":"conv-1","expiration_timestamp":"1750086500",'
                '"origin":{"type":"marketing"}},"pricing":{"billable":true,"pricing_model":"PMP",'
                '"type":"regular","category":"marketing"}}]'
            )
        ),
        statuses={
            ("wamid.OUT1", "sent", 1750000100): {
                "recipient_id": "16315551181",
                "conversation_id": "conv-1",
                "conversation_category": "marketing",
                "pricing_category": "marketing",
                "pricing_model": "PMP",
                "billable": True,
                "phone_number_id": PN,
            }
        },
    ),
    Case(
        "cloud status delivered",
        cloud(
            meta(
                '"statuses":[{"id":"wamid.OUT1","status":"delivered","timestamp":"1750000110",'
                '"recipient_id":"16315551181"}]'
            )
        ),
        statuses={("wamid.OUT1", "delivered", 1750000110): {"conversation_id": None}},
    ),
    Case(
        "cloud status read",
        cloud(
            meta(
                '"statuses":[{"id":"wamid.OUT1","status":"read","timestamp":"1750000200",'
                '"recipient_id":"16315551181"}]'
            )
        ),
        statuses={("wamid.OUT1", "read", 1750000200): {}},
    ),
    Case(
        "cloud status failed with errors",
        cloud(
            meta(
                '"statuses":[{"id":"wamid.OUT2","status":"failed","timestamp":"1750000300",'
                '"recipient_id":"16315551182","errors":[{"code":131047,"title":"Re-engagement message",'
                '"message":"Re-engagement message","error_data":{"details":"more than 24 hours"}}]}]'
            )
        ),
        statuses={("wamid.OUT2", "failed", 1750000300): {"error_codes": [131047]}},
    ),
    Case(
        "cloud status played (voice)",
        cloud(
            meta(
                '"statuses":[{"id":"wamid.OUT3","status":"played","timestamp":"1750000400",'
                '"recipient_id":"16315551183"}]'
            )
        ),
        statuses={("wamid.OUT3", "played", 1750000400): {}},
    ),
    Case(
        "cloud batch of statuses and messages",
        cloud(
            meta(
                CONTACT
                + ',"messages":['
                + msg("wamid.B1", "text", '"text":{"body":"one"}')
                + ","
                + msg("wamid.B2", "text", '"text":{"body":"two"}')
                + '],"statuses":['
                '{"id":"wamid.OUT4","status":"sent","timestamp":"1750000500","recipient_id":"1"},'
                '{"id":"wamid.OUT4","status":"delivered","timestamp":"1750000501","recipient_id":"1"},'
                '{"id":"wamid.OUT5","status":"read","timestamp":"1750000502","recipient_id":"2"}]'
            )
        ),
        messages={"wamid.B1": {"text": "one"}, "wamid.B2": {"text": "two"}},
        statuses={
            ("wamid.OUT4", "sent", 1750000500): {},
            ("wamid.OUT4", "delivered", 1750000501): {},
            ("wamid.OUT5", "read", 1750000502): {},
        },
    ),
    Case(
        "cloud several entries and changes (multi-WABA)",
        (
            '{"object":"whatsapp_business_account","entry":['
            '{"id":"W1","changes":[{"field":"messages","value":'
            + meta('"messages":[' + msg("wamid.E1", "text", '"text":{"body":"e1"}') + "]")
            + "},"
            '{"field":"messages","value":'
            + meta(
                '"statuses":[{"id":"wamid.OUT6","status":"sent",'
                '"timestamp":"1750000600","recipient_id":"3"}]'
            )
            + "}]},"
            '{"id":"W2","time":1750000601,"changes":[{"field":"messages","value":'
            + meta(
                '"messages":['
                + msg("wamid.E2", "text", '"text":{"body":"e2"}', sender="4915100000000")
                + "]"
            )
            + "}]}]}"
        ).encode(),
        messages={"wamid.E1": {"text": "e1"}, "wamid.E2": {"text": "e2", "wa_id": "4915100000000"}},
        statuses={("wamid.OUT6", "sent", 1750000600): {}},
    ),
    Case(
        "cloud template status update without entry.time is a template event",
        cloud(
            '{"event":"APPROVED","message_template_id":12345,"message_template_name":"promo",'
            '"message_template_language":"en_US","reason":"NONE"}',
            field_name="message_template_status_update",
        ),
        views={
            "template_events": [
                {
                    "waba_id": WABA,
                    "template_id": "12345",
                    "template_name": "promo",
                    "kind": "status",
                    "event": "APPROVED",
                    "reason": "NONE",
                }
            ],
            "templates": [{"template_id": "12345", "status": "APPROVED", "quality": None}],
        },
    ),
    Case(
        "cloud errors-only value (rate limit)",
        cloud(
            meta(
                '"errors":[{"code":130429,"title":"Rate limit hit","message":"Rate limit hit",'
                '"error_data":{"details":"Cloud API message throughput has been reached."}}]'
            )
        ),
        errors=[(130429, "Rate limit hit")],
    ),
    Case(
        "cloud value errors next to a message missing its type object",
        cloud(
            meta(
                CONTACT
                + ',"messages":['
                + msg("wamid.BROKEN", "interactive", "")
                + '],"errors":[{"code":131000,"title":"Something went wrong","message":"Something went wrong"}]'
            )
        ),
        messages={"wamid.BROKEN": {"type": "interactive", "text": None}},
        errors=[(131000, "Something went wrong")],
    ),
    Case(
        "cloud group status with participant",
        cloud(
            meta(
                '"statuses":[{"id":"wamid.GRP","status":"delivered","timestamp":"1750000700",'
                '"recipient_id":"120363000000000000","recipient_type":"group",'
                '"recipient_participant_id":"16315551181"}]'
            )
        ),
        statuses={("wamid.GRP", "delivered", 1750000700): {"recipient_id": "120363000000000000"}},
    ),
    Case(
        "cloud business-scoped user id with empty wa_id",
        cloud(
            meta(
                '"contacts":[{"profile":{"name":"Bo","username":"@bo"},"wa_id":"","user_id":"user.ab12"}],'
                '"messages":[{"from_user_id":"user.ab12","id":"wamid.BSUID","timestamp":"1750000800",'
                '"type":"text","text":{"body":"hey"}}]'
            )
        ),
        messages={"wamid.BSUID": {"wa_id": "user.ab12", "text": "hey"}},
    ),
    Case(
        "cloud unknown message type",
        cloud_message(msg("wamid.POLL", "poll", '"poll":{"question":"?"}')),
        messages={"wamid.POLL": {"type": "poll", "text": None}},
        notes=frozenset({"unknown_type:poll"}),
    ),
    Case(
        "cloud unknown status value stays in history",
        cloud(
            meta(
                '"statuses":[{"id":"wamid.OUT7","status":"pending","timestamp":"1750000900",'
                '"recipient_id":"5"}]'
            )
        ),
        statuses={("wamid.OUT7", "pending", 1750000900): {}},
        notes=frozenset({"unknown_status:pending"}),
    ),
    Case(
        "cloud unknown message field is kept and counted",
        cloud_message(
            msg("wamid.NEWF", "text", '"text":{"body":"new"}', '"brand_new_field":{"x":1}')
        ),
        messages={"wamid.NEWF": {"text": "new"}},
        notes=frozenset({"unknown_field:message.brand_new_field"}),
    ),
    Case(
        "cloud text preserved exactly (emoji ZWJ, RTL mark, surrogate pair escapes, \\/)",
        cloud_message(
            msg(
                "wamid.UNI",
                "text",
                '"text":{"body":"\\ud83d\\udc69\\u200d\\ud83d\\udc69\\u200d\\ud83d\\udc67'
                ' \\u200f\u0645\u0631\u062d\u0628\u0627 a\\/b \\"q\\""}',
            )
        ),
        messages={
            "wamid.UNI": {
                "text": '\U0001f469\u200d\U0001f469\u200d\U0001f467 \u200f\u0645\u0631\u062d\u0628\u0627 a/b "q"'
            }
        },
    ),
    Case(
        "cloud escaped backslash before u0000 is plain text",
        cloud_message(msg("wamid.BSL", "text", '"text":{"body":"C:\\\\u0000 path"}')),
        messages={"wamid.BSL": {"text": "C:\\u0000 path"}},
    ),
    Case(
        "cloud 4096-character text",
        cloud_message(msg("wamid.LONG", "text", '"text":{"body":"' + "x" * 4096 + '"}')),
        messages={"wamid.LONG": {"text": "x" * 4096}},
    ),
]

ONPREM_CASES = [
    Case(
        "on-premise text with contacts",
        (
            '{"contacts":[{"profile":{"name":"Kerry"},"wa_id":"16315551234"}],"messages":['
            + msg(
                "ABGGFlA5FpafAgo6tHcNmNjXmuSf", "text", '"text":{"body":"Hi"}', sender="16315551234"
            )
            + "]}"
        ).encode(),
        messages={
            "ABGGFlA5FpafAgo6tHcNmNjXmuSf": {"type": "text", "text": "Hi", "phone_number_id": None}
        },
        contacts={"16315551234": "Kerry"},
    ),
    Case(
        "on-premise voice type",
        (
            '{"messages":['
            + msg(
                "ABGGV01",
                "voice",
                '"voice":{"id":"5f1c-uuid","mime_type":"audio/ogg","sha256":"deadbeef"}',
                sender="16315551234",
            )
            + "]}"
        ).encode(),
        messages={"ABGGV01": {"type": "voice", "text": None}},
    ),
    Case(
        "on-premise image with file and link",
        (
            '{"messages":['
            + msg(
                "ABGGI01",
                "image",
                '"image":{"file":"/usr/local/wamedia/x.jpg","id":"b1c2",'
                '"link":"https://x/i.jpg","mime_type":"image/jpeg","sha256":"29ed","caption":"pic"}',
                sender="16315551234",
            )
            + "]}"
        ).encode(),
        messages={"ABGGI01": {"type": "image", "text": "pic"}},
    ),
    Case(
        "on-premise number change (v11 new_wa_id)",
        (
            b'{"messages":[{"from":"16315551234","id":"ABGGSYS1sys-16315551234@s.whatsapp.net-1600000000000-change",'
            b'"system":{"body":"User A changed from 1 to 2","new_wa_id":"16315559999","type":"customer_changed_number",'
            b'"customer":"16315551234"},"timestamp":"1750001000","type":"system"}]}'
        ),
        messages={
            "ABGGSYS1sys-16315551234@s.whatsapp.net-1600000000000-change": {
                "type": "system",
                "sent_at": 1750001000,
            }
        },
    ),
    Case(
        "on-premise identity change",
        (
            b'{"messages":[{"from":"16315551234","id":"ABGGID1","identity":{"acknowledged":false,'
            b'"created_timestamp":1602532300000,"hash":"Sjvjlx8G6Z0="},"system":{"body":"code changed",'
            b'"customer":"16315551234","type":"customer_identity_changed"},"timestamp":"1750001100","type":"system"}]}'
        ),
        messages={"ABGGID1": {"type": "system"}},
    ),
    Case(
        "on-premise status sent with numeric expiration and CBP pricing",
        (
            b'{"statuses":[{"conversation":{"id":"ebb9-conv","expiration_timestamp":1750087500,"origin":'
            b'{"type":"business_initiated"}},"id":"gBGGOUT1","pricing":{"billable":true,"category":"business_initiated",'
            b'"pricing_model":"CBP"},"recipient_id":"16315551234","status":"sent","timestamp":"1750001200"}]}'
        ),
        statuses={
            ("gBGGOUT1", "sent", 1750001200): {
                "conversation_id": "ebb9-conv",
                "pricing_model": "CBP",
                "conversation_category": "business_initiated",
                "phone_number_id": None,
            }
        },
    ),
    Case(
        "on-premise status delivered with conversation",
        (
            b'{"statuses":[{"conversation":{"id":"ebb9-conv","origin":{"type":"business_initiated"}},"id":"gBGGOUT1",'
            b'"pricing":{"billable":true,"category":"business_initiated","pricing_model":"CBP"},'
            b'"recipient_id":"16315551234","status":"delivered","timestamp":"1750001210"}]}'
        ),
        statuses={("gBGGOUT1", "delivered", 1750001210): {}},
    ),
    Case(
        "on-premise customer deleted their message",
        b'{"statuses":[{"id":"ABGGDEL1","recipient_id":"16315551234","status":"deleted","timestamp":"1750001300"}]}',
        statuses={("ABGGDEL1", "deleted", 1750001300): {}},
    ),
    Case(
        "on-premise warning about catalog items",
        (
            b'{"statuses":[{"errors":[{"code":2026,"href":"https://x","title":"Products not sent"}],'
            b'"id":"gBGGWARN","recipient_id":"16315551234","status":"warning","timestamp":"1750001400"}]}'
        ),
        statuses={("gBGGWARN", "warning", 1750001400): {"error_codes": [2026]}},
    ),
    Case(
        "on-premise status without recipient_id uses message.recipient_id",
        (
            b'{"statuses":[{"id":"gBGGNOREC","message":{"recipient_id":"16315557777"},"status":"read",'
            b'"timestamp":"1750001500","type":"message"}]}'
        ),
        statuses={("gBGGNOREC", "read", 1750001500): {"recipient_id": "16315557777"}},
    ),
    Case(
        "on-premise out-of-band errors",
        b'{"errors":[{"code":400,"title":"Media download error","details":"Failed to download"},'
        b'{"code":1013,"title":"User is not valid"}]}',
        errors=[(400, "Media download error"), (1013, "User is not valid")],
    ),
    Case(
        "on-premise unknown type with error 501",
        (
            b'{"messages":[{"errors":[{"code":501,"details":"Message type is not currently supported",'
            b'"title":"Unknown message type"}],"from":"16315551234","id":"ABGGUNK","timestamp":"1750001600",'
            b'"type":"unknown"}]}'
        ),
        messages={"ABGGUNK": {"type": "unknown", "text": None}},
    ),
    Case(
        "on-premise template button reply",
        (
            '{"messages":['
            + msg(
                "ABGGBTN",
                "button",
                '"button":{"payload":"No","text":"No thanks"}',
                '"context":{"from":"15550783881","id":"gBGGTPL"}',
                sender="16315551234",
            )
            + "]}"
        ).encode(),
        messages={"ABGGBTN": {"text": "No thanks", "context_message_id": "gBGGTPL"}},
    ),
    Case(
        "on-premise legacy group message with mentions",
        (
            b'{"messages":[{"context":{"group_id":"16315558888-1600000000","mentions":["16315551234"]},'
            b'"from":"16315551234","group_id":"16315558888-1600000000","id":"ABGGGRP","text":{"body":"@all"},'
            b'"timestamp":"1750001700","type":"text"}]}'
        ),
        messages={"ABGGGRP": {"text": "@all", "context_message_id": None}},
    ),
    Case(
        "on-premise status failed 470",
        (
            b'{"statuses":[{"errors":[{"code":470,"title":"Message failed to send because more than 24 hours"}],'
            b'"id":"gBGGF470","recipient_id":"16315551234","status":"failed","timestamp":"1750001800"}]}'
        ),
        statuses={("gBGGF470", "failed", 1750001800): {"error_codes": [470]}},
    ),
    Case(
        "on-premise location with name",
        (
            '{"messages":['
            + msg(
                "ABGGLOC",
                "location",
                '"location":{"address":"Main St","latitude":38.9,'
                '"longitude":-77.0,"name":"Shop","url":"https://x"}',
                sender="16315551234",
            )
            + "]}"
        ).encode(),
        messages={"ABGGLOC": {"type": "location"}},
    ),
    Case(
        "on-premise ephemeral type reported by an integrator",
        ('{"messages":[' + msg("ABGGEPH", "ephemeral", "", sender="16315551234") + "]}").encode(),
        messages={"ABGGEPH": {"type": "ephemeral"}},
    ),
    Case(
        "on-premise item without id is skipped, its sibling kept",
        (
            '{"messages":[{"from":"1","timestamp":"1750001900","type":"text","text":{"body":"no id"}},'
            + msg("ABGGSIB", "text", '"text":{"body":"sibling"}', sender="16315551234")
            + "]}"
        ).encode(),
        messages={"ABGGSIB": {"text": "sibling"}},
        notes=frozenset({"message_without_id"}),
    ),
]

REJECTED_CASES = [
    Case("not JSON", b"hello", state="rejected", rejection="invalid JSON"),
    Case("a JSON array", b'[{"messages":[]}]', state="rejected", rejection="not an object"),
    Case(
        "escaped NUL that jsonb refuses",
        b'{"messages":[{"id":"x","text":{"body":"a\\u0000b"}}]}',
        state="rejected",
        rejection="\\u0000",
    ),
    Case(
        "lone surrogate escape",
        b'{"messages":[{"id":"x","text":{"body":"\\ud800"}}]}',
        state="rejected",
        rejection="surrogate",
    ),
    Case(
        "invalid UTF-8",
        b'{"messages":[{"id":"\xff\xfe"}]}',
        state="rejected",
        rejection="invalid UTF-8",
    ),
    Case("unknown shape", b'{"hello":"world"}', state="rejected", rejection="unknown shape"),
    Case(
        "another Meta product",
        b'{"object":"instagram","entry":[]}',
        state="rejected",
        rejection="unknown shape",
    ),
    Case(
        "NUL bytes on the wire",
        b'{"messages":[]}\x00\x00',
        state="rejected",
        rejection="invalid JSON",
    ),
]


def _more_cases() -> list[Case]:
    """The CASES of every module of tests/corpora (one per kind of notification)."""
    found: list[Case] = []
    for module in sorted(pkgutil.iter_modules(corpora.__path__), key=lambda m: m.name):
        found.extend(importlib.import_module(f"{corpora.__name__}.{module.name}").CASES)
    return found


# The cases analytics figures are computed by hand for; CASES adds every kind's.
BASE_CASES = CLOUD_CASES + ONPREM_CASES + REJECTED_CASES
CASES = BASE_CASES + _more_cases()
