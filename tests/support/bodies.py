"""Building notification bodies as a sender writes them, and what each must yield.

Bodies are written as JSON text (not built with json.dumps) so that escapes, key order
and number formats are exactly what a sender would put on the wire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

WABA = "102290129340398"
PN = "106540352242922"


@dataclass(frozen=True)
class Case:
    """One body and what processing it must yield."""

    name: str
    body: bytes
    state: str = "processed"
    # message_id -> expected columns of messages_inbound (a subset)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (message_id, status, unix time) -> expected columns of status_events (a subset)
    statuses: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    # (code, title) of notification_errors, in order
    errors: list[tuple[int | None, str | None]] = field(default_factory=list)
    # wa_id -> profile name expected in contacts
    contacts: dict[str, str | None] = field(default_factory=dict)
    # note keys the processing must count
    notes: frozenset[str] = frozenset()
    rejection: str | None = None
    # view name -> rows it must hold (each a subset of a row's columns; more rows may exist)
    views: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def cloud(value: str, field_name: str = "messages") -> bytes:
    """A Cloud API envelope around one change value (given as JSON text)."""
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"'
        + WABA
        + '","changes":[{"value":'
        + value
        + ',"field":"'
        + field_name
        + '"}]}]}'
    ).encode()


def meta(rest: str) -> str:
    """A Cloud change value with metadata, then `rest` (JSON members)."""
    return (
        '{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881",'
        '"phone_number_id":"' + PN + '"},' + rest + "}"
    )


CONTACT = '"contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"16315551181"}]'


def cloud_message(message: str, contacts: str = CONTACT) -> bytes:
    """A Cloud body with one inbound message from 16315551181."""
    members = (contacts + "," if contacts else "") + '"messages":[' + message + "]"
    return cloud(meta(members))


def msg(mid: str, kind: str, body: str, extra: str = "", sender: str = "16315551181") -> str:
    """A Cloud/On-Premise message object (JSON text)."""
    return (
        '{"from":"'
        + sender
        + '","id":"'
        + mid
        + '","timestamp":"1750000000",'
        + (extra + "," if extra else "")
        + '"type":"'
        + kind
        + '"'
        + (("," + body) if body else "")
        + "}"
    )


T0 = 1750000000


def earlier_today(seconds: int) -> int:
    """A unix time `seconds` ago, but not before today's midnight (UTC): what "today"
    counts, whenever the test runs (a minute after midnight too)."""
    now = int(time.time())
    return max(now - seconds, now - now % 86_400)
