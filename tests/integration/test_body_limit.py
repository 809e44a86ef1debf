"""A channel's own body limit (`channels set --max-body`), within the global ceiling."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from processors import channels
from processors.channels import meta
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.integration.helpers import basic, count
from tests.pathological import MIB, history

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_SECRET = "partner-platform-secret-0f1e2d3c4b5a"
CEILING = 16_384  # the tests' ceiling; the default limit is 4,096 (app_env)


def signed(body: bytes, secret: str = PLATFORM_SECRET) -> dict[str, str]:
    return {"x-360dialog-signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


@pytest.fixture
def secret_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def env(app_env: dict[str, str], secret_key: str) -> dict[str, str]:
    return {**app_env, "WABAHOOK_SECRET_KEY": secret_key,
            "WABAHOOK_MAX_BODY_CEILING_BYTES": str(CEILING)}  # fmt: skip


@pytest.fixture
def set_cli(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> Callable[..., Result]:
    for name in ("WABAHOOK_MAX_BODY_BYTES", "WABAHOOK_MAX_BODY_CEILING_BYTES"):
        monkeypatch.setenv(name, env[name])
    return lambda *args: cli("channels", "set", *args)


@pytest.fixture
def client(make_app: Callable[[dict[str, str]], Flask], env: dict[str, str]) -> FlaskClient:
    return make_app(env).test_client()


def test_a_channel_takes_bodies_up_to_its_own_limit(
    client: FlaskClient,
    channel: channels.IssuedCredential,
    set_cli: Callable[..., Result],
    database_url: str,
) -> None:
    auth = {"Authorization": basic(channel.username, channel.password)}
    assert client.post("/webhooks/acme", data=b"x" * 4097, headers=auth).status_code == 413
    done = set_cli("acme", "--max-body", "8KiB", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"channel": "acme", "max_body_bytes": 8192,
                                       "effective_bytes": 8192}  # fmt: skip
    assert client.post("/webhooks/acme", data=b"x" * 8192, headers=auth).status_code == 200
    assert client.post("/webhooks/acme", data=b"x" * 8193, headers=auth).status_code == 413
    assert (
        "bodies up to 4,096 bytes (the default)" in set_cli("acme", "--max-body", "default").stdout
    )
    assert client.post("/webhooks/acme", data=b"x" * 4097, headers=auth).status_code == 413
    assert count(database_url, "raw_events") == 1


def test_the_ceiling_bounds_every_limit(
    client: FlaskClient,
    channel: channels.IssuedCredential,
    set_cli: Callable[..., Result],
    database_url: str,
) -> None:
    refused = set_cli("acme", "--max-body", "16385")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: 16385 bytes is past the ceiling of 16384 (WABAHOOK_MAX_BODY_CEILING_BYTES);"
        " raise it first, on the receivers too\n"
    )
    # Set where the ceiling was higher (another machine's CLI): the receiver's ceiling holds.
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE wabahook.channels SET max_body_bytes = 1048576 WHERE name = 'acme'")
    auth = {"Authorization": basic(channel.username, channel.password)}
    assert client.post("/webhooks/acme", data=b"x" * CEILING, headers=auth).status_code == 200
    assert client.post("/webhooks/acme", data=b"x" * (CEILING + 1), headers=auth).status_code == 413


@pytest.mark.parametrize(
    ("size", "said"),
    [("16 MiB?", "is no size"), ("-1", "is no size"), ("0", "at least 1 byte"),
     ("1e6", "is no size"), ("9" * 40, "is no size"), ("12XB", "is no size")],
)  # fmt: skip
def test_a_bad_size_is_a_one_line_error(
    set_cli: Callable[..., Result], channel: channels.IssuedCredential, size: str, said: str
) -> None:
    result = set_cli("acme", "--max-body", size)
    assert result.exit_code in (1, 2), result.output
    assert said in result.stderr
    assert result.stderr.count("\n") == 1


def test_set_names_what_to_set_and_a_channel_that_exists(set_cli: Callable[..., Result]) -> None:
    assert "nothing to set" in set_cli("acme").stderr
    assert set_cli("nobody", "--max-body", "2KiB").stderr == "Error: no channel named 'nobody'\n"
    assert channels.parse_size("16MiB") == 16 * MIB
    assert channels.parse_size("2 MB") == 2_000_000
    assert channels.parse_size("512kib") == 512 * 1024


def test_a_signed_channels_limit_tells_no_one_who_cannot_sign(
    client: FlaskClient, owner_db: Database, secret_key: str, set_cli: Callable[..., Result]
) -> None:
    """A partner channel with a raised limit answers an unsigned sender as an unknown
    channel does: bodies up to the ceiling are read and refused (401), past it 413."""
    meta.add_partner_channel(owner_db, Sealer(Secret(secret_key)), "hub", PLATFORM_SECRET)
    assert set_cli("hub", "--max-body", "8KiB").exit_code == 0
    big = b"y" * 8000
    assert client.post("/webhooks/hub", data=big, headers=signed(big)).status_code == 200
    over = b"y" * 9000
    assert client.post("/webhooks/hub", data=over, headers=signed(over)).status_code == 413
    for path in ("/webhooks/hub", "/webhooks/nobody"):
        assert client.post(path, data=over, headers=signed(over, "wrong")).status_code == 401
        past = b"y" * (CEILING + 1)
        assert client.post(path, data=past, headers=signed(past, "wrong")).status_code == 413


@pytest.fixture
def owner_db(database_url: str) -> Database:
    db = Database(Secret(database_url), application_name="wabahook-test", timeout=10)
    yield db  # type: ignore[misc]
    db.close()


@pytest.mark.slow  # gunicorn, and a 16 MiB history
def test_a_16_mib_history_through_gunicorn_is_stored_and_projected_whole(
    start_gunicorn: Callable[..., str],
    app_env: dict[str, str],
    owner_db: Database,
    secret_key: str,
    set_cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    meta.add_partner_channel(owner_db, Sealer(Secret(secret_key)), "hub", PLATFORM_SECRET)
    monkeypatch.setenv("WABAHOOK_MAX_BODY_CEILING_BYTES", str(32 * MIB))
    assert set_cli("hub", "--max-body", "16MiB").exit_code == 0
    base = start_gunicorn({**app_env, "WABAHOOK_SECRET_KEY": secret_key,
                           "WABAHOOK_MAX_BODY_BYTES": str(MIB),
                           "WABAHOOK_MAX_BODY_CEILING_BYTES": str(32 * MIB)})  # fmt: skip
    body, messages = history(16 * MIB)
    assert MIB < len(body) <= 16 * MIB
    with httpx.Client(base_url=base, timeout=60) as http:
        assert http.post("/webhooks/hub", content=body, headers=signed(body)).status_code == 200
        past = body + b" " * (16 * MIB + 1 - len(body))
        assert http.post("/webhooks/hub", content=past, headers=signed(past)).status_code == 413
    drained = subprocess.run(
        [sys.executable, "-m", "processors.cli", "drain", "--until-empty", "--json"],
        env={**os.environ, "DATABASE_URL": database_url}, cwd=ROOT, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert drained.returncode == 0, drained.stderr
    with psycopg.connect(database_url) as conn:
        errors = conn.execute("SELECT error FROM wabahook.raw_event_log").fetchall()
    assert json.loads(drained.stdout)["failed"] == 0, errors
    assert count(database_url, "history_message") == messages
    with psycopg.connect(database_url) as conn:
        (sync,) = conn.execute(
            "SELECT chunks, progress, completed FROM wabahook.history_syncs"
        ).fetchall()
    assert sync == (1, 100, True)

    def chunked(data: bytes) -> Iterator[bytes]:  # no Content-Length: read to find the end
        for start in range(0, len(data), MIB):
            yield data[start : start + MIB]

    with httpx.Client(base_url=base, timeout=60) as http:
        over = http.post("/webhooks/hub", content=chunked(past), headers=signed(past))
        assert over.status_code == 413
        again = http.post("/webhooks/hub", content=chunked(body), headers=signed(body))
        assert again.status_code == 200  # the same history once more: a sender's retry
