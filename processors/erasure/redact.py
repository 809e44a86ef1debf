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
from dataclasses import dataclass
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
        "code", "decision", "reason", "origin",
        "expiration_timestamp", "source_type", "source_id", "source_url", "media_type",
        "headline",
    }
)  # fmt: skip
# Kept whole (but for identifiers): pricing, conversation, errors, history status...
KEEP_SUBTREES = frozenset(
    {"conversation", "pricing", "errors", "error_data", "history_context", "metadata",
     "custom_data", "context"}
)  # fmt: skip
PSEUDONYM_PREFIX = "erased:"
# What makes an object a message or a status (whose id is a message id).
MESSAGE_KEYS = frozenset({"timestamp", "type", "status"})
# Where a contact card keeps its numbers: a card one of whose numbers is the person's is
# theirs, name and all.
CARD_LISTS = ("phones",)
_SURROGATE = re.compile("[\ud800-\udfff]")
_PHONE_SEPARATORS = re.compile(r"[+\s().-]")


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
    """The ids of the person's messages and statuses (a Cloud message id carries the
    phone number): replaced wherever they stand, in every body, so joins keep working.
    Only an object with a time, a type or a status is a message: the id of a reply
    button or a media file is no message id (those are erased with their object)."""
    found: set[str] = set()
    stack: list[tuple[Any, bool]] = [(document, False)]
    while stack:
        value, owned = stack.pop()
        if isinstance(value, dict):
            mine = owned or _names(value, identifiers)
            ident = value.get("id")
            if (mine and isinstance(ident, str) and not isinstance(ident, RawNumber)
                    and ident not in identifiers and MESSAGE_KEYS & value.keys()):  # fmt: skip
                found.add(ident)
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
    they stand, an identifier inside any text (someone's "call her on +1 555…"), and
    their objects' values but for KEEP_KEYS and KEEP_SUBTREES."""
    inside = _inside(identifiers, pseudonym)
    return _walk(document, False, Rules(replaced, identifiers, pseudonym, inside))


@dataclass(frozen=True, slots=True)
class Rules:
    """What one erasure replaces, and how."""

    replaced: frozenset[str]
    identifiers: frozenset[str]
    pseudonym: Pseudonym
    inside: Callable[[str], str]


def _inside(identifiers: frozenset[str], pseudonym: Pseudonym) -> Callable[[str], str]:
    """A text with every number or user id in it (standing alone, not part of a longer
    number or word) replaced by its pseudonym. Usernames are replaced only where they
    stand whole: one may be a word anyone writes."""
    numbered = [i for i in identifiers if any(c.isdigit() for c in i)]
    if not numbered:
        return lambda text: text
    alternatives = "|".join(re.escape(i) for i in sorted(numbered, key=len, reverse=True))
    pattern = re.compile(rf"(?<![0-9A-Za-z])(?:{alternatives})(?![0-9A-Za-z])")
    return lambda text: pattern.sub(lambda m: pseudonym(m.group(0)), text)


def _walk(value: Any, owned: bool, rules: Rules) -> Any:
    if isinstance(value, dict):
        mine = owned or _names(value, rules.identifiers)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, RawNumber):
                if item in rules.identifiers:  # a phone number sent as a JSON number
                    out[key] = rules.pseudonym(str.__str__(item))
                elif not mine or key in KEEP_KEYS:
                    out[key] = item  # else removed: a location's latitude, say
            elif isinstance(item, str):
                say = item in rules.replaced or (mine and key not in KEEP_KEYS)
                out[key] = rules.pseudonym(item) if say else rules.inside(item)
            elif isinstance(item, (dict, list)):
                out[key] = _walk(item, mine and key not in KEEP_SUBTREES, rules)
            else:
                out[key] = item
        return out
    if isinstance(value, list):
        out_list: list[Any] = []
        for item in value:
            if isinstance(item, RawNumber):
                if item in rules.identifiers:
                    out_list.append(rules.pseudonym(str.__str__(item)))
                elif not owned:
                    out_list.append(item)
            elif isinstance(item, str):
                say = owned or item in rules.replaced
                out_list.append(rules.pseudonym(item) if say else rules.inside(item))
            elif isinstance(item, (dict, list)):
                out_list.append(_walk(item, owned, rules))
            else:
                out_list.append(item)
        return out_list
    return value


# What a relay fact about the person says of them (the rest are facts about a message).
FACT_SAID = frozenset({"text", "profile_name", "username", "name"})
_DIGEST = re.compile(r"[0-9a-f]{32,}")


def redact_fact(fact: dict[str, Any], replaced: frozenset[str], identifiers: frozenset[str],
                pseudonym: Pseudonym) -> dict[str, Any]:  # fmt: skip
    """A relay fact (one flat JSON object) without the person: their identifiers and
    message ids, what it says of them, and its `details` (an item, read as a body is)."""
    rules = Rules(replaced, identifiers, pseudonym, _inside(identifiers, pseudonym))
    theirs = any(_is_theirs(v, identifiers) for v in fact.values()) or any(
        isinstance(v, list) and any(_is_theirs(i, identifiers) for i in v) for v in fact.values()
    )
    out: dict[str, Any] = {}
    for key, value in fact.items():
        if key == "details":
            out[key] = _walk(value, False, rules)
        elif isinstance(value, str):
            say = value in replaced or (theirs and key in FACT_SAID)
            out[key] = pseudonym(value) if say else rules.inside(value)
        elif isinstance(value, list):
            out[key] = [pseudonym(i) if isinstance(i, str) and i in replaced else i for i in value]
        else:
            out[key] = value
    return out


def redact_key(
    key: str, replaced: frozenset[str], pseudonym: Pseudonym, theirs: bool = False
) -> str:
    """A fact's key (parts joined by ":") without the person: the parts that are theirs as
    their pseudonyms (the key a replay of the rewritten bodies gives), and, in the key of a
    fact about them (`theirs`), every digest keyed too: it may be a digest of something
    holding their number, which anyone could try numbers against."""
    parts = key.split(":")
    if not theirs and not any(part in replaced for part in parts):
        return key
    return ":".join(
        pseudonym(part) if part in replaced or _DIGEST.fullmatch(part) else part for part in parts
    )


def _names(value: dict[str, Any], identifiers: frozenset[str]) -> bool:
    """Whether an object names the person: one of its values is one of their identifiers
    (a number written with "+" or separators too), or says so one level down (a status
    whose `message` names its recipient, a contact card whose `phones` hold theirs)."""
    if any(_is_theirs(item, identifiers) for item in value.values()):
        return True
    for key, item in value.items():
        if isinstance(item, dict) and key not in KEEP_SUBTREES:
            below: list[Any] = [item]
        elif key in CARD_LISTS and isinstance(item, list):
            below = [entry for entry in item if isinstance(entry, dict)]
        else:
            continue
        if any(_is_theirs(inner, identifiers) for entry in below for inner in entry.values()):
            return True
    return False


def _is_theirs(item: Any, identifiers: frozenset[str]) -> bool:
    if not isinstance(item, str):
        return False
    return item in identifiers or _PHONE_SEPARATORS.sub("", item) in identifiers


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
