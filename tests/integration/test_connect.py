"""`wabahook channels connect` against a fake 360dialog server on loopback."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from processors import channels
from processors.channels import dialog360
from processors.cli import main
from receiver.auth import digest
from receiver.db import Database
from tests.support.fake_http import Answer, FakeServer, Recorded

API_KEY = "d360-test-key-123"
PUBLIC = "https://hooks.example.com"


class Fake360:
    """Answers like 360dialog: keeps the webhook it is given and knows one number."""

    def __init__(self, fail: dict[str, int] | None = None, delay: float = 0.0) -> None:
        self.webhook: dict[str, object] = {}
        self.fail = fail or {}
        self.delay = delay

    def __call__(self, request: Recorded) -> Answer:
        time.sleep(self.delay)
        key = f"{request.method} {request.path}"
        if request.headers.get("d360-api-key") != API_KEY:
            return 401, {}, b'{"meta":{"success":false,"developer_message":"Invalid api key"}}'
        if key in self.fail:
            status = self.fail[key]
            return (
                status,
                {"Content-Type": "application/json"},
                b'{"meta":{"developer_message":"nope"}}',
            )
        if key == "POST /v1/configs/webhook":
            self.webhook = json.loads(request.body)
            return 200, {"Content-Type": "application/json"}, request.body
        if key == "GET /v1/configs/webhook":
            return 200, {"Content-Type": "application/json"}, json.dumps(self.webhook).encode()
        if key == "GET /v1/configs/phone_number":
            return 200, {"Content-Type": "application/json"}, b'{"phone_number":"4915112345678"}'
        return 404, {}, b"{}"


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("D360_API_KEY", API_KEY)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def valid_digests(database_url: str) -> list[bytes]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT secret_sha256 FROM wabahook.channel_credentials WHERE channel = 'acme'"
            " AND (expires_at IS NULL OR expires_at > now()) ORDER BY id"
        ).fetchall()
    return [bytes(row[0]) for row in rows]


def test_connect_registers_verifies_and_stores_the_number(
    cli: Callable[..., Result], channel: channels.IssuedCredential, db: Database, database_url: str
) -> None:
    fake = Fake360()
    with FakeServer(fake) as server:
        result = cli(
            "channels",
            "connect",
            "acme",
            "--public-url",
            PUBLIC + "/",
            "--base-url",
            server.url,
            "--json",
        )
        assert result.exit_code == 0, result.output
        requests = [(r.method, r.path) for r in server.requests]
        keys = {r.headers.get("d360-api-key") for r in server.requests}
        sent = server.requests[0]
    assert requests == [
        ("POST", "/v1/configs/webhook"),
        ("GET", "/v1/configs/webhook"),
        ("GET", "/v1/configs/phone_number"),
    ]
    assert keys == {API_KEY}  # every call carries the key
    body = json.loads(sent.body)
    assert body["url"] == "https://hooks.example.com/webhooks/acme"
    user, _, password = base64.b64decode(
        body["headers"]["Authorization"].removeprefix("Basic ")
    ).partition(b":")
    assert user == b"acme"
    # Only the credential 360dialog now holds stays valid; the old one ended.
    assert valid_digests(database_url) == [digest(password)]
    assert json.loads(result.stdout) == {
        "channel": "acme", "webhook_url": "https://hooks.example.com/webhooks/acme",
        "phone_number": "4915112345678",
    }  # fmt: skip
    (row,) = channels.list_channels(db)
    assert row["phone_number"] == "4915112345678"
    assert API_KEY not in result.output


@pytest.mark.parametrize(
    ("fake", "message"),
    [
        (
            Fake360(fail={"POST /v1/configs/webhook": 403}),
            "360dialog refused the API key (HTTP 403",
        ),
        (
            Fake360(fail={"POST /v1/configs/webhook": 400}),
            "rejected POST /v1/configs/webhook (HTTP 400): nope",
        ),
        (Fake360(fail={"GET /v1/configs/phone_number": 502}), "360dialog failed (HTTP 502"),
        (Fake360(delay=1.5), "no answer from 360dialog within 0.5 s"),
    ],
    ids=["403", "400", "502", "timeout"],
)
def test_connect_failures_keep_the_old_credential(
    fake: Fake360,
    message: str,
    cli: Callable[..., Result],
    channel: channels.IssuedCredential,
    database_url: str,
) -> None:
    with FakeServer(fake) as server:
        result = cli(
            "channels",
            "connect",
            "acme",
            "--public-url",
            PUBLIC,
            "--base-url",
            server.url,
            "--timeout",
            "0.5",
        )
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert valid_digests(database_url) == [digest(channel.password)]


def test_wrong_api_key_is_reported(
    cli: Callable[..., Result],
    channel: channels.IssuedCredential,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("wrong-key\n")
    monkeypatch.delenv("D360_API_KEY")
    with FakeServer(Fake360()) as server:
        result = cli("channels", "connect", "acme", "--public-url", PUBLIC,
                     "--base-url", server.url, "--api-key-file", str(key_file))  # fmt: skip
    assert result.exit_code == 1
    assert "refused the API key (HTTP 401" in result.stderr
    assert "wrong-key" not in result.output


def test_readback_mismatch_is_an_error(
    cli: Callable[..., Result], channel: channels.IssuedCredential, database_url: str
) -> None:
    fake = Fake360()
    original = fake.__call__

    def answer(request: Recorded) -> Answer:
        status, headers, body = original(request)
        if request.method == "GET" and request.path == "/v1/configs/webhook":
            body = b'{"url":"https://elsewhere.example.com/x"}'
        return status, headers, body

    with FakeServer(answer) as server:
        result = cli(
            "channels", "connect", "acme", "--public-url", PUBLIC, "--base-url", server.url
        )
    assert result.exit_code == 1
    assert "shows the webhook 'https://elsewhere.example.com/x'" in result.stderr
    assert valid_digests(database_url) == [digest(channel.password)]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--public-url", "http://hooks.example.com"],
            {"D360_API_KEY": API_KEY},
            "must be an https:// URL",
        ),
        (
            ["--public-url", "https://hooks.example.com:8443"],
            {"D360_API_KEY": API_KEY},
            ":port or an underscore",
        ),
        (["--public-url", PUBLIC], {"D360_API_KEY": ""}, "no 360dialog API key"),
    ],
)
def test_connect_input_errors(
    args: list[str],
    env: dict[str, str],
    message: str,
    cli: Callable[..., Result],
    channel: channels.IssuedCredential,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = cli("channels", "connect", "acme", *args, "--base-url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert message in result.stderr


def test_connect_unknown_channel(cli: Callable[..., Result]) -> None:
    result = cli(
        "channels", "connect", "ghost", "--public-url", PUBLIC, "--base-url", "http://127.0.0.1:9"
    )
    assert result.exit_code == 1
    assert result.stderr == "Error: no channel named 'ghost'\n"


@pytest.mark.parametrize(
    "base_url", ["http://192.0.2.1", "http://waba.example.com", "http://127.1"]
)
def test_the_api_key_never_goes_out_in_clear_text(
    base_url: str,
    cli: Callable[..., Result],
    channel: channels.IssuedCredential,
    db: Database,
    database_url: str,
) -> None:
    result = cli("channels", "connect", "acme", "--public-url", PUBLIC,
                 "--base-url", base_url, "--timeout", "0.5")  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --base-url must be an https:// URL")
    assert result.stderr.count("\n") == 1
    # The library refuses it too, before a credential is issued.
    with pytest.raises(dialog360.Dialog360Error, match="clear text"):
        dialog360.connect(db, "acme", public_url=PUBLIC, api_key=API_KEY, base_url=base_url)
    assert valid_digests(database_url) == [digest(channel.password)]


def test_http_to_localhost_is_allowed(
    cli: Callable[..., Result], channel: channels.IssuedCredential
) -> None:
    with FakeServer(Fake360()) as server:
        local = server.url.replace("127.0.0.1", "localhost")
        result = cli("channels", "connect", "acme", "--public-url", PUBLIC, "--base-url", local)
        assert result.exit_code == 0, result.output
        assert len(server.requests) == 3
