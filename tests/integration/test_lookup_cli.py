"""`wabahook events list|show` and `messages show` against stored, projected events."""

from __future__ import annotations

import base64
import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable

import psycopg
from click.testing import Result

from processors.channels import add_channel
from processors.lookup import DERIVED_VIEWS, PROJECTED_VIEWS
from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpora.message_changes import edit, text_from_buyer
from tests.integration.processing_helpers import status_body, store
from tests.support.bodies import T0

CLI = Callable[..., Result]
FAILED = '"errors":[{"code":131047,"title":"Re-engagement message"}]'
HEADER = ["ID", "CHANNEL", "RECEIVED", "STATE", "BYTES", "RETRY", "WHAT", "IT", "HELD"]


def ok(cli: CLI, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def listed(cli: CLI, *args: str) -> list[int]:
    """The ids `events list` prints, in its order."""
    out = ok(cli, "events", "list", *args)
    if out == "no stored events match\n":
        return []
    header, *lines = out.splitlines()
    assert header.split() == HEADER
    return [int(line.split()[0]) for line in lines]


def refused(cli: CLI, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_events_list_finds_a_message_in_projected_facts_retries_and_queued_bodies(
    cli: CLI, db: Database
) -> None:
    sent, read, other, inbound = store(db, [
        status_body("wamid.A", "sent", T0),
        status_body("wamid.A", "read", T0 + 5),
        status_body("wamid.B", "sent", T0),
        text_from_buyer("wamid.IN", "hi"),
    ])  # fmt: skip
    # A retry of the same bytes (projects nothing of its own), then one not processed yet.
    (retry,) = store(db, [status_body("wamid.A", "sent", T0)])
    drain(db)
    (queued,) = store(db, [status_body("wamid.A", "delivered", T0 + 3)])

    assert listed(cli, "--message-id", "wamid.A") == [queued, retry, read, sent]
    assert listed(cli) == [queued, retry, inbound, other, read, sent]
    assert listed(cli, "--limit", "2") == [queued, retry]
    assert listed(cli, "--state", "queued") == [queued]
    assert listed(cli, "--message-id", "wamid.A", "--state", "processed") == [retry, read, sent]
    assert listed(cli, "--wa-id", "16315550142") == [inbound]
    assert listed(cli, "--text", '"status":"read"') == [read]
    add_channel(db, "other")  # a channel that stored nothing yet: nothing matches, no error
    assert listed(cli, "--message-id", "wamid.A", "--channel", "other") == []
    assert ok(cli, "events", "list", "--channel", "other") == "no stored events match\n"
    assert ok(cli, "events", "list", "--message-id", "wamid.none") == "no stored events match\n"

    header, *lines = ok(cli, "events", "list").splitlines()
    assert header.split() == HEADER
    assert lines[0].split()[3:] == ["queued", f"{len(status_body('wamid.A', 'delivered', T0 + 3))}",
                                    "no", "not", "processed", "yet"]  # fmt: skip
    assert lines[0].split()[2].endswith("Z")  # received, in UTC
    assert lines[1].split()[5] == "yes"  # the sender's retry of `sent`
    assert lines[1].endswith("nothing new (repeats an earlier delivery)")
    assert lines[2].endswith(" 1 message")
    assert lines[4].endswith(" 1 status")
    # Columns line up under their header: each value starts where its name does.
    for line in lines:
        assert line[header.index("RETRY")] in "yn", line

    data = json.loads(ok(cli, "events", "list", "--message-id", "wamid.A", "--json"))
    assert [row["id"] for row in data] == [queued, retry, read, sent]
    assert data[3]["held"] == {"status_events": 1}
    assert data[3]["state"] == "processed"
    assert data[3]["bytes"] == len(status_body("wamid.A", "sent", T0))
    assert data[3]["channel"] == "acme"
    assert data[0]["held"] is None
    assert data[0]["summary"] == "not processed yet"
    assert data[1]["held"] == {}
    assert data[1]["duplicate_delivery"] is True
    assert data[1]["received_at"].endswith("Z")
    assert "+00:00" not in json.dumps(data)


def test_events_list_matches_escaped_text_and_counts_what_an_event_held(
    cli: CLI, db: Database
) -> None:
    body = (b'{"statuses":[{"id":"w\\/1","status":"sent","timestamp":"1750000000",'
            b'"recipient_id":"49"},{"id":"w2","status":"sent","timestamp":"1750000000",'
            b'"recipient_id":"49"}],"messages":[{"from":"49","id":"in\\u00e9","timestamp":'
            b'"1750000000","type":"text","text":{"body":"caf\\u00e9"}}]}')  # fmt: skip
    (event,) = store(db, [body])
    drain(db)
    assert listed(cli, "--text", "café") == [event]  # written \u00e9 by the sender
    assert listed(cli, "--message-id", "w/1") == [event]  # a projected fact
    assert listed(cli, "--text", "cafe") == []
    assert ok(cli, "events", "list").rstrip().endswith(" 1 message, 2 statuses")


def test_events_show_prints_a_json_body_pretty_its_state_retries_and_projected_rows(
    cli: CLI, db: Database
) -> None:
    body = status_body("wamid.A", "failed", T0, FAILED)
    first, second, third = store(db, [body, body, body])
    drain(db)
    out = ok(cli, "events", "show", str(first))
    assert out.startswith(f"event {first}\n")
    assert "        channel: acme\n" in out
    assert "          state: processed (onprem format)\n" in out
    assert f"     same bytes: 2 other deliveries (sender retries): {second}, {third}\n" in out
    assert '  "statuses": [\n    {\n      "id": "wamid.A",\n' in out
    assert "  status_events (1):\n" in out
    assert "status=failed" in out
    assert "error_codes=[131047]" in out
    # Errors as JSON, never a Python repr; times in UTC with a Z, never +00:00.
    assert 'errors=[{"code": 131047, "title": "Re-engagement message"}]' in out
    assert "{'code'" not in out
    assert "+00:00" not in out
    assert "status_at=2025-06-15T15:06:40Z" in out
    assert "    received at: 20" in out
    assert "   sender retry: no\n" in out
    third_out = ok(cli, "events", "show", str(third))
    assert f"   sender retry: yes (same bytes as event {first})\n" in third_out

    data = json.loads(ok(cli, "events", "show", str(first), "--json"))
    assert data["body"] == body.decode()
    assert data["body_encoding"] == "utf-8"
    assert data["same_bytes"] == {"deliveries": 2, "ids": [second, third]}
    assert [row["status"] for row in data["projected"]["status_events"]] == ["failed"]
    assert data["state"] == "processed"
    assert data["attempts"] == 1
    assert "+00:00" not in json.dumps(data)
    assert data["projected"]["status_events"][0]["status_at"] == "2025-06-15T15:06:40Z"
    # A retry projected nothing of its own.
    assert json.loads(ok(cli, "events", "show", str(third), "--json"))["projected"] == {}
    assert "projected: nothing" in ok(cli, "events", "show", str(third))


def test_raw_bytes_go_to_a_file_or_a_pipe_never_to_a_terminal(
    db: Database, database_url: str
) -> None:
    (event_id,) = store(db, [b'{"note":"\x1b]0;owned\x07\x1b[2J"}'])
    command = [sys.executable, "-m", "processors.cli", "events", "show", str(event_id), "--raw"]
    env = {**os.environ, "DATABASE_URL": database_url}
    piped = subprocess.run(command, env=env, capture_output=True, timeout=60, check=False)
    assert (piped.returncode, piped.stdout) == (0, b'{"note":"\x1b]0;owned\x07\x1b[2J"}')
    leader, follower = pty.openpty()
    try:
        shown = subprocess.run(
            command, env=env, stdout=follower, stderr=subprocess.PIPE, timeout=60, check=False
        )
        os.set_blocking(leader, False)
        try:
            written = os.read(leader, 65536)
        except BlockingIOError:
            written = b""
    finally:
        os.close(leader)
        os.close(follower)
    assert shown.returncode == 1
    assert b"send them to a file" in shown.stderr
    assert b"\x1b" not in written


def test_events_show_escapes_what_a_sender_wrote_and_keeps_bytes_in_base64(
    cli: CLI, db: Database
) -> None:
    raw = b"\xff\xfe\x1b[31mred\r"
    json_body = b'{"statuses":[],"note":"\\u001b[31m\xc2\x9b2J"}'  # a C1 CSI is valid JSON
    not_json = b'{"note":"\x1b[31m"}'  # JSON allows no raw ESC in a string
    binary, text, broken = store(db, [raw, json_body, not_json])
    drain(db)
    out = ok(cli, "events", "show", str(binary))
    assert "\x1b" not in out
    assert "\r" not in out
    assert "\\xff\\xfe\\x1b[31mred\\r" in out
    assert "base64" in out
    data = json.loads(ok(cli, "events", "show", str(binary), "--json"))
    assert data["body_encoding"] == "base64"
    assert base64.b64decode(data["body"]) == raw
    assert data["state"] == "rejected"
    assert data["error"] == "invalid UTF-8 at byte 0"

    out = ok(cli, "events", "show", str(text))
    assert "\x1b" not in out
    assert "\x9b" not in out
    assert '  "note": "\\u001b[31m\\x9b2J"\n' in out
    out = ok(cli, "events", "show", str(broken))
    assert "\x1b" not in out
    assert '\n{"note":"\\x1b[31m"}\n' in out


def test_messages_show_lists_statuses_in_order_with_the_rule_that_decided(
    cli: CLI, db: Database
) -> None:
    failed, sent, delivered, read = store(db, [
        status_body("wamid.A", "failed", T0 + 2, FAILED),
        status_body("wamid.A", "sent", T0),
        status_body("wamid.A", "delivered", T0 + 3),
        status_body("wamid.A", "read", T0 + 5),
    ])  # fmt: skip
    drain(db)
    lines = ok(cli, "messages", "show", "wamid.A").splitlines()
    assert lines[0] == "message wamid.A on channel acme"
    assert [line.split()[:2] for line in lines[1:6]] == [
        ["2025-06-15T15:06:40Z", "sent"],
        ["2025-06-15T15:06:42Z", "failed"],
        ["error", "131047"],
        ["2025-06-15T15:06:43Z", "delivered"],
        ["2025-06-15T15:06:45Z", "read"],
    ]
    assert lines[2].endswith(f"event {failed}")
    assert lines[5].endswith(f"event {read}")
    assert lines[3].strip() == "error 131047 Re-engagement message [window_closed]"
    assert lines[6] == "  current status: read"
    assert lines[7] == (
        "    why: read: the furthest progress status (read at 2025-06-15T15:06:45Z);"
        " a failed at 2025-06-15T15:06:42Z is older than the latest progress status"
    )
    data = json.loads(ok(cli, "messages", "show", "wamid.A", "--json"))
    (timeline,) = data["channels"]
    assert timeline["outbound"]["current"]["status"] == "read"
    assert [s["raw_event_id"] for s in timeline["outbound"]["statuses"]] == [
        sent,
        failed,
        delivered,
        read,
    ]
    assert timeline["outbound"]["statuses"][1]["errors"] == [
        {"code": 131047, "title": "Re-engagement message", "details": None,
         "class": "window_closed"}
    ]  # fmt: skip
    assert timeline["inbound"] is None


def test_messages_show_says_a_later_failure_wins(cli: CLI, db: Database) -> None:
    store(db, [status_body("wamid.F", "sent", T0), status_body("wamid.F", "failed", T0, FAILED)])
    drain(db)
    out = ok(cli, "messages", "show", "wamid.F")
    assert "  current status: failed\n" in out
    assert (
        "why: failed: failed at 2025-06-15T15:06:40Z is not older than the latest progress"
        " status (sent at 2025-06-15T15:06:40Z)" in out
    )


def test_messages_show_an_inbound_message_with_its_edit(cli: CLI, db: Database) -> None:
    original, edited = store(db, [
        text_from_buyer("wamid.IN", "helo"),
        edit("wamid.IN.E", "wamid.IN", '{"type":"text","text":{"body":"hello"}}', T0 + 60),
    ])  # fmt: skip
    drain(db)
    lines = ok(cli, "messages", "show", "wamid.IN").splitlines()
    assert lines == [
        "message wamid.IN on channel acme",
        f"  inbound text from 16315550142 (Ana), sent 2025-06-15T15:06:40Z, event {original}",
        "    text: helo",
        f"  edit at 2025-06-15T15:07:40Z: hello (event {edited})",
        "    current text: hello",
    ]
    data = json.loads(ok(cli, "messages", "show", "wamid.IN", "--json"))
    (timeline,) = data["channels"]
    assert timeline["inbound"]["current_text"] == "hello"
    assert [c["change"] for c in timeline["changes"]] == ["edit"]
    assert timeline["outbound"] is None


def test_messages_show_each_channel_unless_one_is_named(cli: CLI, db: Database) -> None:
    store(db, [status_body("wamid.S", "sent", T0)])
    store(db, [status_body("wamid.S", "delivered", T0 + 1)], channel="beta")
    drain(db)
    out = ok(cli, "messages", "show", "wamid.S")
    assert "message wamid.S on channel acme\n" in out
    assert "on channel beta\n" in out
    out = ok(cli, "messages", "show", "wamid.S", "--channel", "beta")
    assert "on channel acme" not in out
    assert "current status: delivered" in out


def test_unknown_ids_and_bad_input_are_one_line_errors(cli: CLI, db: Database) -> None:
    store(db, [status_body("wamid.A", "sent", T0)])
    assert refused(cli, "events", "show", "99") == "Error: no stored event 99"
    assert refused(cli, "messages", "show", "wamid.none") == "Error: no message 'wamid.none'"
    add_channel(db, "beta")
    assert refused(cli, "messages", "show", "wamid.A", "--channel", "beta") == (
        "Error: no message 'wamid.A' on channel beta"
    )
    assert refused(cli, "messages", "show", "wamid.A", "--channel", "nope") == (
        "Error: no channel named 'nope'"
    )
    assert refused(cli, "events", "list", "--channel", "nope") == "Error: no channel named 'nope'"
    assert refused(cli, "events", "list", "--channel", "acme", "--channel", "nope") == (
        "Error: no channel named 'nope'"
    )
    assert "not an id" in refused(cli, "messages", "show", "wamid.\x1b[2J")
    assert "0 is not in the range" in refused(cli, "events", "list", "--limit", "0")
    assert "neither an ISO 8601 time" in refused(cli, "events", "list", "--since", "soon")
    assert "--since must be before --until" in refused(
        cli, "events", "list", "--since", "1h", "--until", "2h"
    )
    assert "0 is not in the range" in refused(cli, "events", "show", "0")
    assert "not an id" in refused(cli, "events", "list", "--wa-id", "a b")


def test_every_view_of_projected_rows_is_looked_up(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        views = {
            name
            for (name,) in conn.execute(
                "SELECT c.table_name FROM information_schema.columns c"
                " JOIN information_schema.views v USING (table_schema, table_name)"
                " WHERE c.table_schema = 'wabahook' AND c.column_name = 'raw_event_id'"
            )
        }
    assert views - DERIVED_VIEWS == {view for view, _, _ in PROJECTED_VIEWS}


def test_help_has_examples(cli: CLI) -> None:
    for command in (("events", "list"), ("events", "show"), ("messages", "show")):
        assert "Example" in ok(cli, *command, "--help")
