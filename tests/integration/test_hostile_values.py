"""Hostile values in every field the parser reads, both formats, through a real drain.

Whatever a sender puts in any field, the drain finishes, nothing is `failed` or left
queued, a body is rejected only when it carries what JSON or jsonb cannot hold, and
the valid items beside the hostile one, and every later event, are projected.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.integration.processing_helpers import store, view

T = 1750000000
_ids = itertools.count()


@dataclass(frozen=True)
class Raw:
    """JSON text put into a body as it is (huge numbers, NaN...)."""

    text: str
    unstorable: bool = False  # JSON or jsonb cannot hold it: the body may be rejected


def as_json(value: Any) -> str:
    """`value` as JSON text, with Raw fragments verbatim."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{as_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(as_json, value)) + "]"
    return json.dumps(value)


def put(document: dict[str, Any], path: str, value: Raw) -> None:
    """Set `value` at a dotted path, making dicts on the way (a scalar on the way wins)."""
    *parents, last = path.split(".")
    node: Any = document
    for step in parents:
        key: Any = int(step) if isinstance(node, list) else step
        if isinstance(node, list):
            if key >= len(node):
                return
        elif not isinstance(node.get(key), dict | list):
            node[key] = {}
        node = node[key]
        if not isinstance(node, dict | list):
            return
    if isinstance(node, list):
        if int(last) < len(node):
            node[int(last)] = value
    else:
        node[last] = value


hostile = st.one_of(
    st.integers(-(2**70), 2**70).map(lambda n: Raw(str(n))),
    st.integers(16, 5000).map(lambda n: Raw("9" * n)),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: Raw(repr(f))),
    st.sampled_from(["-0", "1e-400", "0.5", "1.75e9", "true", "false", "null", "[]", "{}",
                     '""', '" 1750000000 "', '"1750000000"', '"-1"', "[1,2]", '{"a":1}']).map(Raw),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999999", '"\\u0000"', '"a\\ud800"',
                     '"\\udfff"']).map(lambda t: Raw(t, unstorable=True)),
    st.text(max_size=40).map(lambda s: Raw(json.dumps(s), unstorable="\x00" in s)),
    st.text(st.characters(codec="ascii", categories=["Cc"]), min_size=1).map(
        lambda s: Raw(json.dumps(s), unstorable="\x00" in s)),
    st.integers(100, 4000).map(lambda n: Raw(json.dumps("x" * n))),
    st.integers(100, 300).map(lambda n: Raw(json.dumps("€" * n))),
    st.integers(0, 2 * T).map(lambda t: Raw(json.dumps(str(t)))),
)  # fmt: skip

MESSAGE_FIELDS = [
    "id", "from", "from_user_id", "timestamp", "type", "context", "context.id", "text",
    "text.body", "image", "image.caption", "button.text", "interactive.button_reply.title",
    "interactive.list_reply", "interactive.nfm_reply.body", "reaction.emoji", "referral", "errors",
]  # fmt: skip
STATUS_FIELDS = [
    "id", "status", "timestamp", "recipient_id", "message", "message.recipient_id",
    "conversation", "conversation.id", "conversation.origin", "conversation.origin.type",
    "pricing", "pricing.category", "pricing.pricing_model", "pricing.billable", "errors",
    "errors.0", "errors.0.code", "errors.0.title", "biz_opaque_callback_data",
]  # fmt: skip
ERROR_FIELDS = ["code", "title", "details"]
CONTACT_FIELDS = ["wa_id", "profile", "profile.name"]
VALUE_FIELDS = ["metadata", "metadata.phone_number_id", "contacts", "messages", "statuses"]
CLOUD_FIELDS = ["entry.0.id", "entry.0.time", "entry.0.changes.0.field", "entry.0.changes"]


def fields(paths: list[str]) -> st.SearchStrategy[dict[str, Raw]]:
    return st.dictionaries(st.sampled_from(paths), hostile, max_size=4)


@dataclass
class Body:
    body: bytes
    siblings: tuple[str, str]  # the valid message and status beside the hostile items
    unstorable: bool


@st.composite
def bodies(draw: st.DrawFn, cloud: bool) -> Body:
    n = next(_ids)
    ok_message = {
        "from": "4915100000001",
        "id": f"ok-m{n}",
        "timestamp": str(T),
        "type": "text",
        "text": {"body": "fine"},
    }
    ok_status = {"id": f"ok-s{n}", "status": "delivered", "timestamp": str(T)}
    # Deep copies: damage to the hostile item must not reach its valid sibling.
    message = {**copy.deepcopy(ok_message), "id": f"h-m{n}", "context": {"id": "c"}}
    status = {
        "id": f"h-s{n}",
        "status": "failed",
        "timestamp": str(T),
        "errors": [{"code": 131026, "title": "x"}],
        "pricing": {"category": "utility"},
    }
    error: dict[str, Any] = {"code": 131000, "title": "t"}
    contact: dict[str, Any] = {"wa_id": "4915100000001", "profile": {"name": "n"}}
    chosen: list[Raw] = []
    for item, paths in (
        (message, MESSAGE_FIELDS),
        (status, STATUS_FIELDS),
        (error, ERROR_FIELDS),
        (contact, CONTACT_FIELDS),
    ):
        for path, value in draw(fields(paths)).items():
            put(item, path, value)
            chosen.append(value)
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "100"},
        "contacts": [contact],
        "messages": [ok_message, message],
        "statuses": [ok_status, status],
        "errors": [error],
    }
    if cloud:
        document: dict[str, Any] = {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "time": T, "changes": [{"field": "messages", "value": value}]}],
        }
        envelope = draw(fields(CLOUD_FIELDS))
    else:
        document = {k: v for k, v in value.items() if k not in ("messaging_product", "metadata")}
        envelope = {}
    for path, raw in envelope.items():
        put(document, path, raw)
        chosen.append(raw)
    # Envelope damage may legitimately drop the valid siblings too; item damage may not.
    siblings = ("", "") if envelope else (f"ok-m{n}", f"ok-s{n}")
    return Body(as_json(document).encode(), siblings, any(r.unstorable for r in chosen))


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "on-premise"])
@settings(
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@pytest.mark.slow  # a property test through real drains
def test_hostile_values_never_fail_stall_or_sink_siblings(
    data: st.DataObject, cloud: bool, db: Database, database_url: str
) -> None:
    case = data.draw(bodies(cloud), label="body")
    n = next(_ids)
    after = f'{{"messages":[{{"from":"1","id":"after-{n}","timestamp":"{T}","type":"text"}}]}}'
    event_id, after_id = store(db, [case.body, after.encode()])
    drain(db)  # must not raise
    states = {
        r["raw_event_id"]: r
        for r in view(
            database_url, "raw_event_log", "raw_event_id = ANY(%s)", [[event_id, after_id]]
        )
    }
    assert states[after_id]["state"] == "processed"
    entry = states[event_id]
    assert entry["state"] in ("processed", "rejected"), entry["error"]
    if not case.unstorable:
        assert entry["state"] == "processed", entry["error"]
    if entry["state"] == "processed" and case.siblings[0]:
        message_id, status_id = case.siblings
        assert projected(database_url, "messages_inbound", message_id)
        assert projected(database_url, "status_events", status_id)
    assert projected(database_url, "messages_inbound", f"after-{n}")


def projected(database_url: str, name: str, message_id: str) -> bool:
    # Not SELECT *: Python's json refuses to load the 5,000-digit numbers of some payloads.
    with psycopg.connect(database_url) as conn:
        query = sql.SQL("SELECT 1 FROM wabahook.{} WHERE message_id = %s").format(
            sql.Identifier(name)
        )
        return conn.execute(query, [message_id]).fetchone() is not None
