"""pywa's public webhook examples (tests/data/pywa, MIT) parse without notes of unknown kinds.

Every example body of the pywa library's test data is parsed from its bytes. None may
raise (they are all Cloud API notifications, so not even `Rejected`), and none may
produce an `ignored_change:` note (a change field no projection reads) or an
`unknown_type:` note (a message type the parser does not know). That is stricter than
SPEC asks, which names the fields (§1, §5 "Operations data", PAYLOADS §6) and message
types (PAYLOADS §2-§3, §6) listed below: a gap outside them is still listed, in
KNOWN_GAPS, with the exact note it produces, so that the list fails once it is closed.

Notes of other kinds (e.g. an example preference with no wa_id) are the parser's
business and not checked here. Each body is parsed as received shortly after its own
latest timestamp, so the result does not depend on today's date.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from processors.pipeline.model import ParsedEvent
from processors.pipeline.parse import parse

DATA = Path(__file__).resolve().parents[1] / "data" / "pywa"

UNKNOWN_PREFIXES = ("ignored_change:", "unknown_type:")

# The change fields of the Cloud API the documentation names.
SPEC_FIELDS = frozenset(
    {
        "messages", "message_template_status_update", "message_template_quality_update",
        "template_category_update", "phone_number_quality_update", "phone_number_name_update",
        "account_update", "account_alerts", "business_capability_update", "security",
        "user_preferences", "smb_message_echoes", "history", "smb_app_state_sync",
        "message_template_components_update", "calls",
    }
)  # fmt: skip

# Message types PAYLOADS §2.2, §3.1 and §6 name (both formats).
SPEC_TYPES = frozenset(
    {
        "text", "image", "audio", "voice", "video", "document", "sticker", "location",
        "contacts", "button", "interactive", "reaction", "order", "system", "unknown",
        "unsupported", "edit", "revoke",
    }
)  # fmt: skip

# Examples that do produce such a note today: example id -> the note. Remove an entry
# once the parser reads that example (its test below then fails as a reminder).
KNOWN_GAPS: dict[str, str] = {
    # `request_welcome`: the user opened the chat for the first time (a "welcome
    # message" trigger). SPEC and PAYLOADS do not name this type, so the message is
    # stored and counted as of an unknown type, as PAYLOADS §5 rule 7 asks.
    "chat_opened/chat_opened": "unknown_type:request_welcome",
}


def _examples() -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, body) of every example: `file/name`; a body nested in an example as well."""
    for path in sorted(DATA.glob("*.json")):
        examples = json.loads(path.read_text(encoding="utf-8"))
        for name, body in examples.items():
            yield f"{path.stem}/{name}", body
            # template_components_update.json's `element` also holds a body under `all`.
            for key, nested in body.items():
                if isinstance(nested, dict) and "entry" in nested:
                    yield f"{path.stem}/{name}.{key}", nested


EXAMPLES = dict(_examples())
PASSING = {key: body for key, body in EXAMPLES.items() if key not in KNOWN_GAPS}


def _times(value: Any) -> Iterator[int]:
    """Every unix time (`timestamp`, `time`) in a body, strings of digits included."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("timestamp", "time") and str(item).isdigit():
                yield int(item)
            else:
                yield from _times(item)
    elif isinstance(value, list):
        for item in value:
            yield from _times(item)


def _parse(body: dict[str, Any]) -> ParsedEvent:
    latest = max(_times(body))
    received_at = datetime.fromtimestamp(latest, UTC) + timedelta(minutes=1)
    event = parse(json.dumps(body).encode(), received_at)
    assert event.format == "cloud"
    return event


def _unknown_notes(event: ParsedEvent) -> dict[str, int]:
    return {key: n for key, n in event.notes.items() if key.startswith(UNKNOWN_PREFIXES)}


def _fields(body: dict[str, Any]) -> set[str]:
    return {change["field"] for entry in body["entry"] for change in entry["changes"]}


def _message_types(body: dict[str, Any]) -> set[str]:
    return {
        message["type"]
        for entry in body["entry"]
        for change in entry["changes"]
        for key in ("messages", "message_echoes")
        for message in change["value"].get(key, [])
    }


def test_the_copied_examples_are_all_there() -> None:
    assert len(list(DATA.glob("*.json"))) == 24
    assert len(EXAMPLES) == 78  # 77 examples, one more body nested in one
    assert set(KNOWN_GAPS) <= set(EXAMPLES)


@pytest.mark.parametrize("example", sorted(PASSING))
def test_example_parses_without_notes_of_unknown_fields_or_types(example: str) -> None:
    event = _parse(PASSING[example])
    assert _unknown_notes(event) == {}


@pytest.mark.parametrize("example", sorted(PASSING))
def test_example_uses_only_fields_and_types_spec_names(example: str) -> None:
    body = PASSING[example]
    assert _fields(body) <= SPEC_FIELDS
    assert _message_types(body) <= SPEC_TYPES


@pytest.mark.parametrize(("example", "note"), sorted(KNOWN_GAPS.items()))
def test_known_gap_still_produces_its_note(example: str, note: str) -> None:
    event = _parse(EXAMPLES[example])
    assert _unknown_notes(event) == {note: 1}
