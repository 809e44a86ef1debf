"""The receiver as it runs in production: gunicorn worker processes over real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from rq import Queue

from processors import channels
from tests.integration.conftest import wait_until
from tests.integration.helpers import basic, count, stored_events
from tests.support.rawhttp import read_answer

pytestmark = pytest.mark.slow  # gunicorn itself

BODY = b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}]}'
SENDER_PATIENCE = 4.5


def request(
    base_url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=SENDER_PATIENCE)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def raw_exchange(base_url: str, head: bytes, chunks: list[bytes]) -> bytes:
    """Send a hand-made request (for chunked bodies and lying headers); return the answer."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=SENDER_PATIENCE) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server may answer and close before reading everything
        return read_answer(sock)


def chunked(body: bytes, size: int = 1000) -> list[bytes]:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return [b"%x\r\n%s\r\n" % (len(p), p) for p in parts] + [b"0\r\n\r\n"]


@pytest.fixture
def receiver(
    start_gunicorn: Callable[..., str], app_env: dict[str, str], channel: channels.IssuedCredential
) -> str:
    return start_gunicorn(app_env)


def auth_header(channel: channels.IssuedCredential) -> str:
    return basic(channel.username, channel.password)


def test_delivery_over_http_is_stored_and_nudges_the_workers(
    start_gunicorn: Callable[..., str],
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    database_url: str,
    redis_url: str,
    queue_name: str,
) -> None:
    receiver = start_gunicorn({**app_env, "WABAHOOK_BEHIND_PROXY": "1"})  # trusts one hop
    status, headers, body = request(
        receiver,
        "POST",
        "/webhooks/acme",
        BODY,
        {
            "Authorization": auth_header(channel),
            "Content-Type": "application/json",
            "X-Forwarded-For": "198.51.100.4",
        },
    )
    assert status == 200
    event_id = json.loads(body)["event_id"]
    (event,) = stored_events(database_url)
    assert event["id"] == event_id
    assert bytes(event["body"]) == BODY
    assert str(event["client_addr"]) == "198.51.100.4"
    assert event["request_id"] == headers["X-Request-ID"]
    connection = redis.Redis.from_url(redis_url)
    try:
        assert wait_until(lambda: Queue(queue_name, connection=connection).count == 1)
    finally:
        connection.close()


def test_wrong_credentials_over_http_get_401(receiver: str, database_url: str) -> None:
    status, headers, _ = request(
        receiver, "POST", "/webhooks/acme", BODY, {"Authorization": basic("acme", "nope")}
    )
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="wabahook"'
    assert count(database_url, "raw_events") == 0


def test_chunked_body_within_the_limit_is_stored_exactly(
    receiver: str, channel: channels.IssuedCredential, database_url: str
) -> None:
    body = bytes(range(256)) * 15  # 3840 bytes, under the 4096 limit of these tests
    head = (
        b"POST /webhooks/acme HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Authorization: " + auth_header(channel).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    answer = raw_exchange(receiver, head, chunked(body))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    (event,) = stored_events(database_url)
    assert bytes(event["body"]) == body


@pytest.mark.parametrize(("size", "expected"), [(4096, 200), (4097, 413), (10_000, 413)])
def test_chunked_body_over_the_limit_is_413_never_a_truncated_200(
    size: int, expected: int, receiver: str, channel: channels.IssuedCredential, database_url: str
) -> None:
    head = (
        b"POST /webhooks/acme HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
        b"Authorization: " + auth_header(channel).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    answer = raw_exchange(receiver, head, chunked(b"y" * size))
    assert answer.startswith(b"HTTP/1.1 %d" % expected), answer[:200]
    stored = [bytes(event["body"]) for event in stored_events(database_url)]
    assert stored == ([b"y" * size] if expected == 200 else [])


def test_huge_content_length_is_413_without_waiting_for_the_body(
    receiver: str, channel: channels.IssuedCredential, database_url: str
) -> None:
    head = (
        b"POST /webhooks/acme HTTP/1.1\r\nHost: test\r\nContent-Length: 999999999999\r\n"
        b"Authorization: " + auth_header(channel).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    answer = raw_exchange(receiver, head, [b"{}"])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert count(database_url, "raw_events") == 0


def test_concurrent_identical_deliveries_are_each_stored_once(
    receiver: str, channel: channels.IssuedCredential, database_url: str
) -> None:
    deliveries = 40
    headers = {"Authorization": auth_header(channel), "Content-Type": "application/json"}
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(
            pool.map(
                lambda _: request(receiver, "POST", "/webhooks/acme", BODY, headers),
                range(deliveries),
            )
        )
    assert [status for status, _, _ in results] == [200] * deliveries
    acknowledged = {json.loads(body)["event_id"] for _, _, body in results}
    events = stored_events(database_url)
    assert len(acknowledged) == deliveries
    assert {event["id"] for event in events} == acknowledged
    assert all(bytes(event["body"]) == BODY for event in events)
    assert count(database_url, "event_queue") == deliveries


def test_health_endpoints_over_http(receiver: str) -> None:
    assert request(receiver, "GET", "/healthz")[0] == 200
    assert request(receiver, "GET", "/readyz")[0] == 200
    assert request(receiver, "GET", "/webhooks/acme")[0] == 405


def _serve_two_requests(
    app_env: dict[str, str], channel: channels.IssuedCredential, tmp_path: Path
) -> tuple[str, str]:
    """What gunicorn wrote on stdout and stderr around one 200 and one 401."""
    from processors.local.embedded import free_port
    from processors.serving import gunicorn_command
    from tests.support.servers import wait_for_port

    port = free_port()
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        env = {
            **os.environ,
            **app_env,
            "WABAHOOK_BIND": f"127.0.0.1:{port}",
            "WABAHOOK_WORKERS": "1",
        }
        process = subprocess.Popen(gunicorn_command(), stdout=stdout, stderr=stderr, env=env)
        try:
            assert wait_for_port("127.0.0.1", port, 30)
            base = f"http://127.0.0.1:{port}"
            request(
                base,
                "POST",
                '/webhooks/acme?q="quoted"',
                BODY,
                {"Authorization": auth_header(channel)},
            )
            request(base, "POST", "/webhooks/acme", BODY, {"Authorization": basic("acme", "wrong")})
        finally:
            process.terminate()
            process.wait(timeout=15)
    return out.read_text(), err.read_text()


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_one_json_log_line_per_request(
    app_env: dict[str, str], channel: channels.IssuedCredential, tmp_path: Path
) -> None:
    stdout, stderr = _serve_two_requests(app_env, channel, tmp_path)
    assert stdout == ""  # gunicorn's own access line is off: it would be a second one
    lines = [line for line in _json_lines(stderr) if line["logger"] == "wabahook.request"]
    assert [(line["method"], line["path"], line["status"], line["channel"]) for line in lines] == [
        ("POST", "/webhooks/acme", 200, "acme"),
        ("POST", "/webhooks/acme", 401, "acme"),
    ]
    assert isinstance(lines[0]["event_id"], int)
    assert lines[1]["event_id"] is None
    assert all(len(line["request_id"]) == 32 for line in lines)
    assert all(line["duration_ms"] >= 0 for line in lines)
    assert channel.password not in stderr
