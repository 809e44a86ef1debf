"""End to end over HTTPS: real nginx with a self-signed certificate in front of real gunicorn."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from string import Template

import pytest

from processors import channels
from processors.local.embedded import free_port
from tests.integration.helpers import basic, count, stored_events
from tests.support.servers import require_command, wait_for_port

pytestmark = pytest.mark.slow  # nginx in front of gunicorn

ROOT = Path(__file__).resolve().parents[2]


def nginx_binary() -> str:
    return require_command("nginx", "nginx-light")


@pytest.fixture
def https(
    tmp_path: Path,
    start_gunicorn: Callable[..., str],
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
) -> Iterator[tuple[int, ssl.SSLContext]]:
    # One sync worker: if slow clients reached it, nothing else would get through.
    upstream = start_gunicorn(
        {**app_env, "WABAHOOK_MAX_BODY_BYTES": "1048576", "WABAHOOK_BEHIND_PROXY": "1"}, workers=1
    )
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    site = Template(
        (ROOT / "deploy" / "nginx" / "wabahook.conf.template").read_text()
    ).safe_substitute(
        WABAHOOK_SERVER_NAME="localhost",
        WABAHOOK_LISTEN=f"127.0.0.1:{port}",
        WABAHOOK_TLS_CERT=str(cert),
        WABAHOOK_TLS_KEY=str(key),
        WABAHOOK_UPSTREAM=upstream.removeprefix("http://"),
    )
    # The template's access log, where the test can read it.
    site = site.replace("/var/log/nginx/access.log", str(tmp_path / "access.log"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log warn;\n"
        "worker_processes 1;\nevents { worker_connections 256; }\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path}/body;\n"
        f" proxy_temp_path {tmp_path}/proxy;\n include {tmp_path}/site.conf;\n}}\n"
    )
    nginx = subprocess.Popen(
        [nginx_binary(), "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert wait_for_port("127.0.0.1", port, timeout=15), (
            nginx.stderr.read() if nginx.stderr else ""
        )
        context = ssl.create_default_context(cafile=str(cert))
        yield port, context
    finally:
        nginx.terminate()
        nginx.wait(timeout=15)
        if nginx.stderr:
            nginx.stderr.close()


def post(port: int, context: ssl.SSLContext, path: str, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=5)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_https_delivery_is_stored_with_the_client_address(
    https: tuple[int, ssl.SSLContext], channel: channels.IssuedCredential, database_url: str
) -> None:
    port, context = https
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    status, headers, answer = post(port, context, "/webhooks/acme", body,
                                   {"Authorization": basic("acme", channel.password)})  # fmt: skip
    assert status == 200
    (event,) = stored_events(database_url)
    assert event["id"] == json.loads(answer)["event_id"]
    assert bytes(event["body"]) == body
    assert str(event["client_addr"]) == "127.0.0.1"
    assert event["headers"]["x-forwarded-proto"] == "https"
    assert headers["Strict-Transport-Security"] == "max-age=63072000"
    assert headers["Server"] == "nginx"  # server_tokens off: no version


def test_oversized_bodies_are_refused_by_nginx(
    https: tuple[int, ssl.SSLContext], channel: channels.IssuedCredential, database_url: str
) -> None:
    port, context = https
    status, _, answer = post(port, context, "/webhooks/acme", b"x" * (1024 * 1024 + 1),
                             {"Authorization": basic("acme", channel.password)})  # fmt: skip
    assert status == 413
    assert b"nginx" in answer
    assert count(database_url, "raw_events") == 0


def test_only_webhooks_and_healthz_are_public(https: tuple[int, ssl.SSLContext]) -> None:
    port, context = https
    for method, path, expected in (
        ("GET", "/healthz", 200), ("GET", "/metrics", 404), ("GET", "/readyz", 404),
        # POSTs and Meta's GET handshake reach the receiver's webhook path, which answers
        # 405 to a GET without hub.mode and to HEAD (that comes with GET in nginx)...
        ("GET", "/webhooks/acme", 405), ("HEAD", "/webhooks/acme", 405),
        ("GET", "/webhooks/acme?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1", 403),
        # ...and nothing else gets past nginx.
        ("PUT", "/webhooks/acme", 403), ("DELETE", "/webhooks/acme", 403),
    ):  # fmt: skip
        conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=5)
        conn.request(method, path)
        assert conn.getresponse().status == expected, (method, path)
        conn.close()


def test_slow_clients_do_not_block_legitimate_requests(
    https: tuple[int, ssl.SSLContext], channel: channels.IssuedCredential, database_url: str
) -> None:
    port, context = https
    stalled = []
    for _ in range(5):  # half-sent bodies, held open
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        tls = context.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(
            b"POST /webhooks/acme HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n"
            b"Authorization: " + basic("acme", channel.password).encode() + b'\r\n\r\n{"half":'
        )
        stalled.append(tls)
    try:
        started = time.monotonic()
        status, _, _ = post(port, context, "/webhooks/acme", b"{}",
                            {"Authorization": basic("acme", channel.password)})  # fmt: skip
        assert status == 200
        assert time.monotonic() - started < 4.5  # answered within 360dialog's patience
        assert count(database_url, "raw_events") == 1
    finally:
        for tls in stalled:
            tls.close()


def test_repeated_failed_logins_are_rate_limited(
    https: tuple[int, ssl.SSLContext], channel: channels.IssuedCredential
) -> None:
    port, context = https
    wrong = {"Authorization": basic("acme", "guess")}
    answers = [post(port, context, "/webhooks/acme", b"{}", wrong) for _ in range(30)]
    assert answers[0][0] == 401
    assert answers[0][1]["WWW-Authenticate"] == 'Basic realm="wabahook"'
    assert 429 in [status for status, _, _ in answers]
    for status, headers, _ in answers:  # refusals keep HSTS and say no version
        assert headers["Strict-Transport-Security"] == "max-age=63072000", status
        assert headers["Server"] == "nginx", status
    # The right credentials from the same address still get through.
    good = {"Authorization": basic("acme", channel.password)}
    assert post(port, context, "/webhooks/acme", b"{}", good)[0] == 200  # limits only failures


def test_refused_handshakes_are_rate_limited_and_tokens_never_logged(
    https: tuple[int, ssl.SSLContext], tmp_path: Path
) -> None:
    port, context = https
    token = "guessed-verify-token-0123456789"
    answers = []
    for _ in range(30):
        conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=5)
        conn.request("GET", f"/webhooks/acme?hub.mode=subscribe&hub.verify_token={token}"
                            "&hub.challenge=1")  # fmt: skip
        answers.append(conn.getresponse().status)
        conn.close()
    assert answers[0] == 403
    assert 429 in answers  # guessing tokens is slowed down like guessing passwords
    said = (tmp_path / "access.log").read_text()  # the https fixture's tmp_path: the same
    assert "/webhooks/acme" in said
    assert token not in said
