"""Rewriting one stored body without one person, everyone else in it untouched.

A person's identifiers (phone numbers, user ids, usernames) and the ids of their
messages are replaced wherever they stand, by a pseudonym: the same value gives the
same pseudonym in every body of one erasure, so rows still join, counts still hold.
An object that names the person (a message from them or to them, a status, a contact
card, a history thread, an address book entry) is theirs: every value in it is
replaced too (texts, names, captions, media ids, locations, contact cards, referrals)
but for the keys that describe rather than say (type, status, timestamps, pricing,
errors...), which analytics read. Numbers of theirs that say something (a location's
latitude) are removed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

# What a person's object keeps: what kind of thing it is, when, what it cost and why it
# failed; and the keys that name someone else when they do not name the person (those
# that name the person are among the identifiers, replaced wherever they stand).
KEEP_KEYS = frozenset(
    {
        "type", "status", "timestamp", "mime_type", "messaging_product", "recipient_type",
        "event", "field", "biz_opaque_callback_data", "action", "animated", "voice",
        "phase", "chunk_order", "progress", "from", "to", "recipient_id",
        "display_phone_number", "phone_number_id", "group_id", "event_name", "currency",
        "value", "ctwa_clid", "action_type", "click_component", "product_id", "direction",
        "duration", "start_time", "end_time", "category", "billable", "pricing_model",
        "code", "title", "message", "details", "decision", "reason", "origin",
        "expiration_timestamp", "source_type", "source_id", "source_url", "media_type",
    }
)  # fmt: skip
# Kept whole (but for identifiers): pricing, conversation, errors, history status...
KEEP_SUBTREES = frozenset(
    {"conversation", "pricing", "errors", "error_data", "history_context", "metadata",
     "custom_data", "context"}
)  # fmt: skip
PSEUDONYM_PREFIX = "erased:"
_SURROGATE = re.compile("[\ud800-\udfff]")


class RawNumber(str):
    """A JSON number as the sender wrote it: written back byte for byte."""


Pseudonym = Callable[[str], str]


def pseudonyms(key: bytes) -> Pseudonym:
    """`erased:<hex>`: an HMAC under the erasure's key, so no one can try every phone
    number against it once the key is gone."""

    def pseudonym(value: str) -> str:
        mac = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return PSEUDONYM_PREFIX + mac.hexdigest()[:24]

    return pseudonym


def load(body: bytes) -> Any:
    """The body as JSON with numbers kept as written; None when it is no JSON."""
    text = body[3:] if body.startswith(b"\xef\xbb\xbf") else body
    try:
        return json.loads(
            text.decode("utf-8"), parse_int=RawNumber, parse_float=RawNumber,
            parse_constant=RawNumber,
        )  # fmt: skip
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def dump(document: Any) -> bytes:
    """`document` as compact JSON, its numbers as they were written."""
    parts: list[str] = []
    _dump(document, parts)
    return "".join(parts).encode("utf-8")


def _dump(value: Any, parts: list[str]) -> None:
    if isinstance(value, RawNumber):
        parts.append(str.__str__(value))
    elif isinstance(value, str):
        parts.append(_string(value))
    elif isinstance(value, dict):
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            parts.append(("," if index else "") + _string(key) + ":")
            _dump(item, parts)
        parts.append("}")
    elif isinstance(value, list):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _dump(item, parts)
        parts.append("]")
    else:
        parts.append(json.dumps(value))


def _string(text: str) -> str:
    # A lone surrogate has no UTF-8: escaped, as it came.
    return json.dumps(text, ensure_ascii=bool(_SURROGATE.search(text)))


def message_ids(document: Any, identifiers: frozenset[str]) -> set[str]:
    """The ids of the person's objects (messages from or to them, statuses, media):
    replaced wherever they stand, in every body, so that joins keep working."""
    found: set[str] = set()
    stack: list[tuple[Any, bool]] = [(document, False)]
    while stack:
        value, owned = stack.pop()
        if isinstance(value, dict):
            mine = owned or _names(value, identifiers)
            if mine and isinstance(value.get("id"), str) and value["id"] not in identifiers:
                found.add(value["id"])
            stack.extend(
                (item, mine and key not in KEEP_SUBTREES)
                for key, item in value.items()
                if isinstance(item, (dict, list))
            )
        elif isinstance(value, list):
            stack.extend((item, owned) for item in value if isinstance(item, (dict, list)))
    return found


def redact(document: Any, replaced: frozenset[str], identifiers: frozenset[str],
           pseudonym: Pseudonym) -> Any:  # fmt: skip
    """`document` without the person: `replaced` (identifiers and message ids) wherever
    they stand, and their objects' values but for KEEP_KEYS and KEEP_SUBTREES."""
    return _walk(document, False, replaced, identifiers, pseudonym)


def _walk(value: Any, owned: bool, replaced: frozenset[str], identifiers: frozenset[str],
          pseudonym: Pseudonym) -> Any:  # fmt: skip
    if isinstance(value, dict):
        mine = owned or _names(value, identifiers)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, RawNumber):
                if item in replaced:  # a phone number sent as a JSON number
                    out[key] = pseudonym(str.__str__(item))
                elif not mine or key in KEEP_KEYS:
                    out[key] = item  # else removed: a location's latitude, say
            elif isinstance(item, str):
                say = item in replaced or (mine and key not in KEEP_KEYS)
                out[key] = pseudonym(item) if say else item
            elif isinstance(item, (dict, list)):
                keep = key in KEEP_SUBTREES
                out[key] = _walk(item, mine and not keep, replaced, identifiers, pseudonym)
            else:
                out[key] = item
        return out
    if isinstance(value, list):
        return [
            pseudonym(item)
            if isinstance(item, str) and not isinstance(item, RawNumber)
            and (owned or item in replaced)
            else _walk(item, owned, replaced, identifiers, pseudonym)
            if isinstance(item, (dict, list))
            else item
            for item in value
            if not (owned and isinstance(item, RawNumber))
        ]  # fmt: skip
    return value


def _names(value: dict[str, Any], identifiers: frozenset[str]) -> bool:
    """Whether an object names the person: one of its values is one of their identifiers."""
    return any(isinstance(item, str) and item in identifiers for item in value.values())


def scrub_bytes(body: bytes, replaced: Iterable[str], pseudonym: Pseudonym) -> bytes:
    """Every identifier's bytes replaced, as written or JSON-escaped: for a body that is
    no JSON (where nothing tells a value from a part of a longer one)."""
    for value in sorted(replaced, key=len, reverse=True):  # longer first: no part of one
        pseudo = pseudonym(value).encode()
        for form in {value.encode("utf-8", "surrogatepass"),
                     json.dumps(value)[1:-1].encode()}:  # fmt: skip
            if form:
                body = body.replace(form, pseudo)
    return body
