"""The bad-input catalogue: hostile requests through the real gunicorn, then the real CLI.

Every input a hostile or broken sender can produce is posted to the receiver as it
runs in production; then `wabahook drain`, `replay --wait` and `rebuild` run as
commands. Nothing may answer 500, nothing truncated may be stored, nothing may end
`failed` or stay queued, and every valid sibling and every later event is projected.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from processors import channels
from tests.hostile import BODIES, Hostile, cloud_text
from tests.integration.helpers import basic
from tests.support.rawhttp import Receiver, read_answer

pytestmark = pytest.mark.slow  # hostile bodies through gunicorn and a worker

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
PATIENCE = 10.0  # a hang guard, not a speed target


@dataclass(frozen=True)
class Raw:
    """A hand-made request: its bytes, whether to half-close after them, what must follow."""

    name: str
    data: bytes
    status: int | None  # None: the connection is closed, no answer can be read
    stored: int = 0  # raw events it must leave
    half_close: bool = True


def exchange(receiver: Receiver, raw: Raw) -> int | None:
    """Send `raw` and return the answer's status code (None when there is none)."""
    with socket.create_connection(receiver.address, timeout=PATIENCE) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before the end
            sock.sendall(raw.data)
        if raw.status is None:
            return None
        if raw.half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = read_answer(sock, enough=b"\r\n")
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None


def post(path: str, headers: dict[str, str], body: bytes, declared: int | None = None) -> bytes:
    """A POST with Content-Length (`declared`, default the true length)."""
    lines = [f"POST {path} HTTP/1.1", "Host: wabahook", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body) if declared is None else declared}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked_post(auth: str, chunks: bytes) -> bytes:
    head = (
        "POST /webhooks/acme HTTP/1.1\r\nHost: wabahook\r\nConnection: close\r\n"
        f"Authorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    return head.encode() + chunks


def raw_requests(auth: str) -> list[Raw]:
    """Broken framing and hostile headers or paths, authenticated or not."""
    good = b'{"statuses":[]}'
    a = {"Authorization": auth, "Content-Type": "application/json"}
    return [
        Raw("body shorter than Content-Length, half-closed", post("/webhooks/acme", a, good, 90), 400),
        Raw("body shorter than Content-Length, closed", post("/webhooks/acme", a, good, 90), None),
        Raw("chunk size zz", chunked_post(auth, b"zz\r\nabc\r\n0\r\n\r\n"), 400),
        Raw("chunk size -1", chunked_post(auth, b"-1\r\nabc\r\n0\r\n\r\n"), 400),
        Raw("chunk without its CRLF", chunked_post(auth, b"7\r\n{\"a\":1}0\r\n\r\n"), 400),
        Raw("chunk longer than its size", chunked_post(auth, b"3\r\n{\"a\":1}\r\n0\r\n\r\n"), 400),
        Raw("cut mid-chunk, half-closed", chunked_post(auth, b"20\r\n{\"a\":1}"), 400),
        Raw("last chunk never ends", chunked_post(auth, b"7\r\n{\"a\":1}\r\n0\r\n"), 400),
        Raw("trailer that is no header", chunked_post(auth, b"7\r\n{\"a\":1}\r\n0\r\nnot a header\r\n\r\n"), 400),
        Raw("chunk extension past the line limit", chunked_post(auth, b"7;" + b"a" * 20000 + b"\r\n{\"a\":1}\r\n0\r\n\r\n"), 400),
        Raw("forwarded address with an IPv6 zone", post("/webhooks/acme", {**a, "X-Forwarded-For": "fe80::1%eth0"}, good), 200, stored=1),
        Raw("forwarded address that is no address", post("/webhooks/acme", {**a, "X-Forwarded-For": "not an ip"}, good), 200, stored=1),
        Raw("log line forged through the path", post("/webhooks/acme%0aFAKE%20INFO%20wabahook.request%20status=200", {}, good), 401),
        Raw("terminal escape in the path", post("/webhooks/%1b[31mRED%1b[0m%0d%0aFAKE", {}, good), 401),
        Raw("NUL in the path", post("/webhooks/acme%00", a, good), 401),
        Raw("invalid UTF-8 in the path", post("/webhooks/%ff%ed%a0%80", a, good), 401),
        Raw("NUL in the password", post("/webhooks/acme", {"Authorization": basic("acme", b"pw\x00")}, good), 401),
        Raw("field forged through a header", post("/webhooks/acme", {"X-Forwarded-For": "1.1.1.1 status=200 channel=other"}, good), 401),
        # Kept headers are stored as jsonb, which refuses NUL: gunicorn refuses control
        # characters first, and bytes past ASCII arrive as Latin-1 text.
        Raw("NUL in a kept header", post("/webhooks/acme", {**a, "User-Agent": "a\x00b"}, good), 400),
        Raw("bytes past ASCII in a kept header", post("/webhooks/acme", {**a, "User-Agent": "\xc3\x28\xff"}, good), 200, stored=1),
    ]  # fmt: skip


@pytest.fixture
def receiver(
    start_gunicorn: Callable[..., str],
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    tmp_path: Path,
) -> Receiver:
    log = tmp_path / "receiver.log"
    env = {
        **app_env,
        "WABAHOOK_MAX_BODY_BYTES": str(MIB),
        "WABAHOOK_LOG_FORMAT": "text",
        "WABAHOOK_BEHIND_PROXY": "1",  # so that forwarded addresses are parsed at all
    }
    return Receiver(start_gunicorn(env, stderr=log), log, basic(channel.username, channel.password))


def wabahook(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WABAHOOK_", "REDIS_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "processors.cli", *args],
        env={**env, "DATABASE_URL": database_url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def rows(database_url: str, query: str) -> list[dict[str, object]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


def test_the_catalogue_of_hostile_input(receiver: Receiver, database_url: str) -> None:
    # Framing and headers: the right answer, and only whole bodies stored.
    stored = 0
    for raw in raw_requests(receiver.auth):
        assert exchange(receiver, raw) == raw.status, raw.name
        if raw.status is None:
            time.sleep(0.5)  # no answer to wait for: give the receiver time to (not) store it
        stored += raw.stored
        assert len(rows(database_url, "SELECT id FROM wabahook.raw_events")) == stored, raw.name
    addresses = rows(
        database_url, "SELECT client_addr::text AS a FROM wabahook.raw_events ORDER BY id"
    )
    assert [r["a"] for r in addresses] == ["fe80::1/128", None, "127.0.0.1/32"]
    (kept,) = rows(database_url, "SELECT headers FROM wabahook.raw_events ORDER BY id DESC LIMIT 1")
    assert kept["headers"]["user-agent"] == "\xc3\x28\xff"  # type: ignore[index]

    # Bodies: every one is stored and acknowledged; processing decides what it is.
    event_of: dict[int, Hostile] = {}
    headers = {"Authorization": receiver.auth, "Content-Type": "application/json"}
    for case in BODIES:
        raw = Raw(case.name, post("/webhooks/acme", headers, case.body), 200)
        assert exchange(receiver, raw) == 200, case.name
        (newest,) = rows(database_url, "SELECT max(id) AS id FROM wabahook.raw_events")
        event_of[int(newest["id"])] = case  # type: ignore[call-overload]
    later = Raw(
        "a valid event after all of them",
        post("/webhooks/acme", headers, cloud_text("wamid.after")),
        200,
    )
    assert exchange(receiver, later) == 200

    drained = wabahook(database_url, "drain", "--until-empty", "--json")
    assert drained.returncode == 0, drained.stderr
    assert "Traceback" not in drained.stderr
    summary = json.loads(drained.stdout)
    assert summary["failed"] == 0
    assert len(drained.stdout) < 8192  # note keys are bounded, however many a sender makes up
    check_outcomes(database_url, event_of)

    # A replay and a rebuild of the same events decide exactly as the drain did.
    before = outcomes(database_url)
    ids = ",".join(map(str, event_of))
    replayed = wabahook(database_url, "replay", "--ids", ids, "--wait")
    assert replayed.returncode == 0, replayed.stderr
    rebuilt = wabahook(database_url, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert outcomes(database_url) == before
    check_outcomes(database_url, event_of)

    log = receiver.log.read_bytes()
    assert b"Traceback" not in log
    assert b"\x1b" not in log
    assert not [line for line in log.splitlines() if line.startswith(b"FAKE")]
    assert b"client=1.1.1.1 status=200" not in log  # a field cannot pass for two


def outcomes(database_url: str) -> list[dict[str, object]]:
    return rows(
        database_url,
        "SELECT raw_event_id, state, error, notes FROM wabahook.raw_event_log ORDER BY 1",
    )


def check_outcomes(database_url: str, event_of: dict[int, Hostile]) -> None:
    log = {int(r["raw_event_id"]): r for r in outcomes(database_url)}  # type: ignore[call-overload]
    assert [r for r in log.values() if r["state"] not in ("processed", "rejected")] == []
    for event_id, case in event_of.items():
        entry = log[event_id]
        assert entry["state"] == case.state, (case.name, entry["error"])
        assert case.rejection in str(entry["error"] or ""), case.name
        notes = entry["notes"] or {}
        assert case.notes <= set(notes), (case.name, notes)  # type: ignore[arg-type]
        assert len(notes) <= 32, case.name  # type: ignore[arg-type]
    messages = {
        r["message_id"]
        for r in rows(database_url, "SELECT message_id FROM wabahook.messages_inbound")
    }
    statuses = {
        (r["message_id"], r["status"]): r["error_codes"]
        for r in rows(
            database_url, "SELECT message_id, status, error_codes FROM wabahook.status_events"
        )
    }
    for case in event_of.values():
        assert case.messages <= messages, case.name
        assert case.statuses <= set(statuses), case.name
        for message_id, codes in case.codes.items():
            assert [v for (m, _), v in statuses.items() if m == message_id] == [codes], case.name
    assert "wamid.after" in messages
    assert not {m for m, _ in statuses} & {"t-big", "t-ms", "t-bc", "t-1970", "t-ahead", "s-long"}


def test_bodies_built_to_be_slow_through_every_reader(
    receiver: Receiver, database_url: str, tmp_path: Path
) -> None:
    """Bodies at the size limit built to make a parser slow: posted, drained, shown, rendered.

    Each step runs as a command under a hang guard (the commands' timeout), never a speed
    target: `make bench` measures what they cost next to a clean body of the same size.
    """
    from processors.console import create_app
    from processors.lookup import SHOWN_CHARS
    from tests.pathological import bodies, clean

    cases = {"clean": clean(), **bodies()}
    headers = {"Authorization": receiver.auth, "Content-Type": "application/json"}
    event_of: dict[str, int] = {}
    for name, body in cases.items():
        assert len(body) <= MIB, name
        assert exchange(receiver, Raw(name, post("/webhooks/acme", headers, body), 200)) == 200
        (newest,) = rows(database_url, "SELECT max(id) AS id FROM wabahook.raw_events")
        event_of[name] = int(newest["id"])  # type: ignore[call-overload]

    drained = wabahook(database_url, "drain", "--until-empty", "--json")
    assert drained.returncode == 0, drained.stderr
    assert json.loads(drained.stdout)["failed"] == 0
    states = {int(r["raw_event_id"]): r["state"] for r in outcomes(database_url)}  # type: ignore[call-overload]
    assert states[event_of["clean"]] == "processed"
    assert {states[i] for i in event_of.values()} <= {"processed", "rejected"}

    # What is shown of a body is bounded however it indents; the exact bytes are a flag away.
    nested = event_of["nested arrays at the depth limit"]
    shown = wabahook(database_url, "events", "show", str(nested))
    assert shown.returncode == 0, shown.stderr
    assert SHOWN_CHARS < len(shown.stdout) < SHOWN_CHARS + 64 * 1024
    assert f"wabahook events show {nested} --raw" in shown.stdout
    raw = subprocess.run(
        [sys.executable, "-m", "processors.cli", "events", "show", str(nested), "--raw"],
        env={**os.environ, "DATABASE_URL": database_url}, cwd=ROOT, capture_output=True,
        timeout=300, check=True,
    )  # fmt: skip
    assert raw.stdout == cases["nested arrays at the depth limit"]
    # A clean batch of thousands of statuses lists a few of each view's rows, and says so.
    batched = wabahook(database_url, "events", "show", str(event_of["clean"]))
    assert batched.returncode == 0, batched.stderr
    assert len(batched.stdout) < SHOWN_CHARS + 64 * 1024
    assert "more (--json lists them all)" in batched.stdout

    console = create_app({"DATABASE_URL": database_url}).test_client()
    for name, event_id in event_of.items():
        page = console.get(f"/events/{event_id}")
        assert page.status_code == 200, name
        # Markup escapes make a shown character at most five: &#34;
        assert len(page.data) < 5 * SHOWN_CHARS + 64 * 1024, name
        download = console.get(f"/events/{event_id}/raw")
        assert download.data == cases[name], name
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert download.mimetype == "application/octet-stream"

    report = wabahook(database_url, "report", "--out", str(tmp_path / "report.html"))
    assert report.returncode == 0, report.stderr
    assert "Traceback" not in drained.stderr + shown.stderr + batched.stderr + report.stderr
