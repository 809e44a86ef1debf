"""`wabahook forward` against a real local HTTP server that fails some requests first."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from receiver.db import Database
from tests.corpus import CASES
from tests.support.fake_http import Answer, FakeServer, Recorded


@pytest.fixture
def stored(db: Database, database_url: str) -> list[tuple[int, bytes, str | None]]:
    import psycopg

    bodies = [case.body for case in CASES[:12]]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for i, body in enumerate(bodies):
            conn.execute(
                "INSERT INTO wabahook.raw_events"
                " (channel, body, body_sha256, content_type, request_id)"
                " VALUES (%s, %s, sha256(%s), %s, 'r')",
                ["acme" if i % 4 else "beta", body, body, "application/json" if i % 3 else None],
            )
        rows = conn.execute(
            "SELECT id, body, content_type FROM wabahook.raw_events ORDER BY id"
        ).fetchall()
    return [(row[0], bytes(row[1]), row[2]) for row in rows]


def flaky(failures_per_event: int) -> Callable[[Recorded], Answer]:
    """503 for the first tries of every event, then 200."""
    seen: Counter[str] = Counter()

    def answer(request: Recorded) -> Answer:
        event = request.headers["x-wabahook-event-id"]
        seen[event] += 1
        if seen[event] <= failures_per_event:
            return 503, {"Retry-After": "0"}, b"busy"
        return 200, {}, b"ok"

    return answer


def test_exact_bytes_and_content_type_arrive_despite_failures_then_resume(
    cli: Callable[..., Result], stored: list[tuple[int, bytes, str | None]]
) -> None:
    with FakeServer(flaky(2)) as server:
        result = cli("forward", "--to", f"{server.url}/hook", "--all", "--rate", "1000", "--header",
                     "Authorization: Bearer t0ken", "--json")  # fmt: skip
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert (report["delivered"], report["failed"]) == (12, 0)
        assert {r["attempts"] for r in report["results"]} == {3}
        # Every attempt of an event carries the same bytes; keep the last one per event.
        delivered = {r.headers["x-wabahook-event-id"]: r for r in server.requests}
        for raw_event_id, body, content_type in stored:
            request = delivered[str(raw_event_id)]
            assert request.body == body
            assert request.headers.get("content-type") == content_type
            assert request.headers["authorization"] == "Bearer t0ken"
            assert request.path == "/hook"
        sent = len(server.requests)
        again = cli("forward", "--to", f"{server.url}/hook", "--all", "--rate", "1000")
        assert again.stdout.strip().endswith(f"0 delivered, 0 failed, to {server.url}/hook")
        assert len(server.requests) == sent  # nothing acknowledged is sent twice
        forced = cli("forward", "--to", f"{server.url}/hook", "--rate", "1000", "--again",
                     "--channel", "beta", "--json")  # fmt: skip
        assert json.loads(forced.stdout)["delivered"] == 3


def test_an_interrupted_forward_continues_where_it_stopped(
    cli: Callable[..., Result], stored: list[tuple[int, bytes, str | None]]
) -> None:
    down_after = 5

    def answer(request: Recorded) -> Answer:
        ok = int(request.headers["x-wabahook-event-id"]) <= down_after
        return (200, {}, b"ok") if ok else (400, {}, b"not today")

    with FakeServer(answer) as server:
        first = cli("forward", "--to", server.url, "--all", "--rate", "1000", "--json")
        assert first.exit_code == 1
        report = json.loads(first.stdout)
        assert (report["delivered"], report["failed"]) == (5, 7)
        assert {r["attempts"] for r in report["results"] if r["outcome"] == "failed"} == {1}
        assert "HTTP 400: not today" in report["results"][-1]["error"]
        server.answer = lambda request: (200, {}, b"ok")
        second = json.loads(
            cli("forward", "--to", server.url, "--all", "--rate", "1000", "--json").stdout
        )
        assert [r["raw_event_id"] for r in second["results"]] == [6, 7, 8, 9, 10, 11, 12]


def test_rate_is_respected(
    cli: Callable[..., Result], stored: list[tuple[int, bytes, str | None]]
) -> None:
    with FakeServer(lambda request: (200, {}, b"ok")) as server:
        assert cli("forward", "--to", server.url, "--rate", "20", "--ids", "1-6").exit_code == 0
        times = [r.at for r in server.requests]
    assert len(times) == 6
    # Six requests at 20/s cannot take less than five intervals of 50 ms.
    assert times[-1] - times[0] >= 5 * 0.05 * 0.9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "ftp://x"], "--to must be an http:// or https:// URL"),
        (["--to", "http://x", "--header", "no colon"], "a header must look like 'Name: value'"),
    ],
)
def test_bad_forward_arguments(cli: Callable[..., Result], args: list[str], message: str) -> None:
    result = cli("forward", *args)
    assert result.exit_code == 1
    assert message in result.stderr


def test_a_retry_after_of_unicode_digits_is_no_hint(
    cli: Callable[..., Result], stored: list[tuple[int, bytes, str | None]]
) -> None:
    seen: Counter[str] = Counter()

    def answer(request: Recorded) -> Answer:
        seen[request.headers["x-wabahook-event-id"]] += 1
        # '²' passes str.isdigit() but not float(); the server sends it as Latin-1.
        if seen[request.headers["x-wabahook-event-id"]] == 1:
            return 503, {"Retry-After": "²"}, b"busy"
        return 200, {}, b"ok"

    with FakeServer(answer) as server:
        result = cli("forward", "--to", server.url, "--rate", "1000", "--ids", "1-2", "--json")
    assert result.exit_code == 0, result.output
    assert [r["attempts"] for r in json.loads(result.stdout)["results"]] == [2, 2]


class HugeAnswer:
    """Answers every request with a 400 whose body is `size` bytes; counts what went out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/hook"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
            while len(body) < length:
                body += connection.recv(65536)
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                               b"Content-Length: %d\r\n\r\n" % self.size)  # fmt: skip
            chunk = b"x" * 65536
            try:
                while self.sent < self.size:
                    self.sent += connection.send(chunk[: self.size - self.sent])
            except OSError:  # the client hung up: what it did not read was never sent
                pass

    def join(self) -> None:
        self._thread.join(timeout=30)
        self._listener.close()


def test_a_huge_answer_is_not_read_beyond_its_first_bytes(
    cli: Callable[..., Result], stored: list[tuple[int, bytes, str | None]], database_url: str
) -> None:
    size = 64 * 1024 * 1024
    server = HugeAnswer(size)
    result = cli("forward", "--to", server.url, "--ids", "1", "--json")
    server.join()
    assert result.exit_code == 1, result.output
    # The client stopped reading after a KiB; the rest stayed in socket buffers (a few
    # MiB on loopback at most) until it hung up, and was never sent.
    assert server.sent < size // 4
    (outcome,) = json.loads(result.stdout)["results"]
    assert outcome["error"] == "HTTP 400: " + "x" * 190  # the stored error is bounded too
    with psycopg.connect(database_url) as conn:
        (stored_error,) = conn.execute("SELECT error FROM wabahook.forward_deliveries").fetchone()
    assert stored_error == outcome["error"]


def test_an_answer_with_nul_bytes_is_recorded(
    cli: Callable[..., Result], stored: list[tuple[int, bytes, str | None]]
) -> None:
    with FakeServer(lambda request: (400, {}, b"bad\x00thing\xff")) as server:
        result = cli("forward", "--to", server.url, "--ids", "1", "--json")
    assert result.exit_code == 1, result.output
    (outcome,) = json.loads(result.stdout)["results"]
    assert outcome["error"] == "HTTP 400: bad\ufffdthing\ufffd"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("X-Ok: 1\n\nAuthorization Bearer s3cr3t-t0ken\n",
         "a header must look like 'Name: value' (line 3 of --header-file)"),
        ("Authorization s3cr3t-t0ken: x\n",
         "a header name holds only letters, digits and - (line 1 of --header-file)"),
        ("X-Ok: 1\r\nAuthorization: Bearer s3cr3t-t0ken\x7f\r\n",
         "a header value may hold only printable ASCII (line 2 of --header-file)"),
    ],
    ids=["no colon", "bad name", "bad value"],
)  # fmt: skip
def test_a_bad_header_line_is_named_by_its_number_never_shown(
    cli: Callable[..., Result], tmp_path: Path, content: str, message: str
) -> None:
    header_file = tmp_path / "headers.txt"
    header_file.write_bytes(content.encode())
    result = cli("forward", "--to", "http://127.0.0.1:9", "--header-file", str(header_file))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {message}\n"
    assert "s3cr3t" not in result.output


def test_credentials_in_the_url_are_sent_but_never_stored_or_printed(
    cli: Callable[..., Result], stored: list[tuple[int, bytes, str | None]], database_url: str
) -> None:
    def answer(request: Recorded) -> Answer:
        ok = request.headers["x-wabahook-event-id"] != "2"
        return (200, {}, b"ok") if ok else (400, {}, b"not this one")

    with FakeServer(answer) as server:
        secret_url = server.url.replace("http://", "http://user:s3cr%40t@") + "/hook"
        runs = [cli("forward", "--to", secret_url, "--rate", "1000", "--ids", "1-3", *extra)
                for extra in ([], ["--json"])]  # fmt: skip
        sent = {r.headers.get("authorization") for r in server.requests}
    assert sent == {"Basic " + base64.b64encode(b"user:s3cr@t").decode()}
    for run in runs:
        assert run.exit_code == 1
        assert "s3cr" not in run.output
    assert runs[0].stdout.strip().endswith(f"2 delivered, 1 failed, to {server.url}/hook")
    assert json.loads(runs[1].stdout)["destination"] == f"{server.url}/hook"
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT destination, delivered_at IS NOT NULL FROM wabahook.forward_deliveries"
            " ORDER BY raw_event_id"
        ).fetchall()
    # Kept under the bare URL: the second run resumed, it sent only the refused event.
    assert rows == [(f"{server.url}/hook", True), (f"{server.url}/hook", False),
                    (f"{server.url}/hook", True)]  # fmt: skip
    assert len(server.requests) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "https://user:s3cr3t@"], "--to must be an http:// or https:// URL, not 'https://'"),
        (["--to", "https://user:s3cr3t@host", "--header", "Authorization: Basic eA=="],
         "--to holds user:password and an Authorization header is given too: use one"),
    ],
    ids=["no host", "two credentials"],
)  # fmt: skip
def test_bad_credentials_in_the_url_are_not_shown(
    cli: Callable[..., Result], args: list[str], message: str
) -> None:
    result = cli("forward", *args)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {message}\n"


def store_with_content_type(url: str, content_type: str) -> int:
    """A stored event whose Content-Type is `content_type` (as the receiver keeps it); its id."""
    body = CASES[0].body
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO wabahook.raw_events (channel, body, body_sha256, content_type, request_id)"
            " VALUES ('acme', %s, sha256(%s), %s, 'r') RETURNING id",
            [body, body, content_type],
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_content_type_with_a_byte_past_ascii_is_sent_as_it_was_received(
    cli: Callable[..., Result], database_url: str
) -> None:
    # The receiver kept the byte 0xe9 as Latin-1 text.
    event = store_with_content_type(database_url, "application/json; charset=\xe9")
    with FakeServer(lambda request: (200, {}, b"ok")) as server:
        result = cli("forward", "--to", server.url, "--ids", str(event), "--json")
    assert result.exit_code == 0, result.output
    (request,) = server.requests
    # http.server decodes header bytes as Latin-1: encoding them back gives what was sent.
    assert request.headers["content-type"].encode("latin-1") == b"application/json; charset=\xe9"


@pytest.mark.parametrize(
    ("content_type", "reason"),
    [
        ("application/json; charset=\u20ac", "a character past Latin-1"),
        ("application/json\r\nX-Injected: 1", "a control character"),
    ],
    ids=["past Latin-1", "CR LF"],
)
def test_an_unsendable_content_type_fails_its_event_and_the_run_goes_on(
    cli: Callable[..., Result], database_url: str, content_type: str, reason: str
) -> None:
    unsendable = store_with_content_type(database_url, content_type)
    fine = store_with_content_type(database_url, "application/json")
    with FakeServer(lambda request: (200, {}, b"ok")) as server:
        result = cli("forward", "--to", server.url, "--ids", f"{unsendable}-{fine}", "--json")
    assert result.exit_code == 1, result.output
    failed, delivered = json.loads(result.stdout)["results"]
    assert (failed["raw_event_id"], failed["outcome"]) == (unsendable, "failed")
    assert (failed["status"], failed["attempts"]) == (None, 0)  # nothing went out
    assert failed["error"] == f"stored Content-Type holds {reason}: {content_type!r}"
    assert (delivered["raw_event_id"], delivered["outcome"]) == (fine, "delivered")
    assert [r.headers["x-wabahook-event-id"] for r in server.requests] == [str(fine)]
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT raw_event_id, error, delivered_at IS NOT NULL"
            " FROM wabahook.forward_deliveries ORDER BY raw_event_id"
        ).fetchall()
    assert rows == [(unsendable, failed["error"], False), (fine, None, True)]
