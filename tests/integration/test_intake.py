"""POST /webhooks/<channel> through the Flask app: every answer of the contract."""

from __future__ import annotations

import base64
import hashlib
import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from processors import channels
from receiver.db import Database
from tests.integration.helpers import basic, count, stored_events

PATH = "/webhooks/acme"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def post(client: FlaskClient, body: bytes, auth: str | None, path: str = PATH, **kw: object):
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    return client.post(path, data=body, headers=headers, **kw)


def test_reached_directly_a_forwarded_for_header_is_not_believed(
    client: FlaskClient, channel: channels.IssuedCredential, database_url: str
) -> None:
    auth = basic(channel.username, channel.password)
    response = client.post(
        PATH, data=BODY, headers={"Authorization": auth, "X-Forwarded-For": "203.0.113.7"}
    )
    assert response.status_code == 200
    (event,) = stored_events(database_url)
    assert str(event["client_addr"]) == "127.0.0.1"  # the peer, not what it claims
    assert event["headers"]["x-forwarded-for"] == "203.0.113.7"  # kept as evidence


def test_valid_delivery_is_stored_once_with_its_metadata(
    make_app, app_env: dict[str, str], channel: channels.IssuedCredential, database_url: str
) -> None:
    client = make_app({**app_env, "WABAHOOK_BEHIND_PROXY": "1"}).test_client()
    response = client.post(
        PATH,
        data=BODY,
        headers={
            "Authorization": basic(channel.username, channel.password),
            "Content-Type": "application/json",
            "User-Agent": "360dialog-test",
            "X-Request-ID": "req-123",
            "X-Forwarded-For": "203.0.113.7",
            "Cookie": "session=secret",
        },
    )
    assert response.status_code == 200
    assert response.json == {"status": "stored", "event_id": response.json["event_id"]}
    assert response.headers["X-Request-ID"] == "req-123"
    (event,) = stored_events(database_url)
    assert event["id"] == response.json["event_id"]
    assert event["queued_id"] == event["id"]
    assert event["channel"] == "acme"
    assert bytes(event["body"]) == BODY
    assert bytes(event["body_sha256"]) == hashlib.sha256(BODY).digest()
    assert event["content_type"] == "application/json"
    assert event["request_id"] == "req-123"
    assert str(event["client_addr"]) == "203.0.113.7"  # behind a proxy: one trusted hop
    assert event["headers"]["user-agent"] == "360dialog-test"
    assert "authorization" not in event["headers"]
    assert "cookie" not in event["headers"]


def test_each_delivery_is_a_new_event_even_with_identical_bytes(
    client: FlaskClient, channel: channels.IssuedCredential, database_url: str
) -> None:
    auth = basic(channel.username, channel.password)
    ids = {post(client, BODY, auth).json["event_id"] for _ in range(3)}
    assert len(ids) == 3
    assert count(database_url, "raw_events") == 3
    assert count(database_url, "event_queue") == 3


def _other_channel(db: Database) -> str:
    other = channels.add_channel(db, "other")
    return basic(other.username, other.password)


def _disabled(db: Database, channel: channels.IssuedCredential) -> str:
    channels.set_enabled(db, "acme", False)
    return basic(channel.username, channel.password)


UNAUTHORIZED_CASES = {
    "no header": lambda db, ch: None,
    "wrong password": lambda db, ch: basic(ch.username, "not-the-password"),
    "wrong user": lambda db, ch: basic("someone", ch.password),
    "other channel's credentials": lambda db, ch: _other_channel(db),
    "disabled channel": _disabled,
    "malformed base64": lambda db, ch: "Basic %%%not-base64%%%",
    "no colon": lambda db, ch: "Basic " + base64.b64encode(b"acmepassword").decode(),
    "non-UTF-8 credentials": lambda db, ch: basic(b"\xff\xfe", b"\xc3\x28"),
    "empty credentials": lambda db, ch: "Basic ",
    "bearer scheme": lambda db, ch: f"Bearer {ch.password}",
}


@pytest.mark.parametrize("case", list(UNAUTHORIZED_CASES))
def test_every_kind_of_bad_credential_gets_the_same_401(
    case: str,
    client: FlaskClient,
    channel: channels.IssuedCredential,
    db: Database,
    database_url: str,
) -> None:
    auth = UNAUTHORIZED_CASES[case](db, channel)
    response = post(client, BODY, auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="wabahook"'
    assert response.json == {"error": "unauthorized"}
    assert count(database_url, "raw_events") == 0


@pytest.mark.parametrize("path", ["/webhooks/nobody", "/webhooks/UPPER", "/webhooks/a_b"])
def test_unknown_or_invalid_channel_gets_the_same_401(
    path: str, client: FlaskClient, channel: channels.IssuedCredential, database_url: str
) -> None:
    response = post(client, BODY, basic(channel.username, channel.password), path=path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="wabahook"'
    assert response.json == {"error": "unauthorized"}
    assert count(database_url, "raw_events") == 0


def test_two_authorization_headers_are_refused(
    client: FlaskClient, channel: channels.IssuedCredential, database_url: str
) -> None:
    good = basic(channel.username, channel.password)
    response = client.post(
        PATH, data=BODY, headers=[("Authorization", good), ("Authorization", good)]
    )
    assert response.status_code == 401
    assert count(database_url, "raw_events") == 0


def test_scheme_is_case_insensitive_as_rfc_7617_says(
    client: FlaskClient, channel: channels.IssuedCredential, database_url: str
) -> None:
    auth = basic(channel.username, channel.password).replace("Basic", "basic")
    assert post(client, BODY, auth).status_code == 200
    assert count(database_url, "raw_events") == 1


def test_rotation_keeps_both_credentials_until_the_old_one_is_expired(
    client: FlaskClient, channel: channels.IssuedCredential, db: Database
) -> None:
    new = channels.rotate(db, "acme")
    old_auth, new_auth = (
        basic(channel.username, channel.password),
        basic(new.username, new.password),
    )
    assert post(client, BODY, old_auth).status_code == 200
    assert post(client, BODY, new_auth).status_code == 200
    assert channels.expire_old(db, "acme") == 1
    assert post(client, BODY, old_auth).status_code == 401
    assert post(client, BODY, new_auth).status_code == 200


def test_disabled_channel_is_refused_and_enabled_again(
    client: FlaskClient, channel: channels.IssuedCredential, db: Database
) -> None:
    auth = basic(channel.username, channel.password)
    channels.set_enabled(db, "acme", False)
    assert post(client, BODY, auth).status_code == 401
    channels.set_enabled(db, "acme", True)
    assert post(client, BODY, auth).status_code == 200


def test_credentials_are_cached_for_the_configured_time(
    make_app,
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    db: Database,
) -> None:
    cached_client = make_app({**app_env, "WABAHOOK_CREDENTIAL_TTL": "3600"}).test_client()
    auth = basic(channel.username, channel.password)
    assert post(cached_client, BODY, auth).status_code == 200
    channels.replace_credential(db, "acme")  # the old password stops working...
    # ...but within the TTL the cached digests still answer: no round trip for auth.
    assert post(cached_client, BODY, auth).status_code == 200


def test_a_channel_disabled_while_cached_stops_taking_deliveries_at_once(
    make_app,
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    db: Database,
    database_url: str,
) -> None:
    cached_client = make_app({**app_env, "WABAHOOK_CREDENTIAL_TTL": "3600"}).test_client()
    auth = basic(channel.username, channel.password)
    assert post(cached_client, BODY, auth).status_code == 200
    channels.set_enabled(db, "acme", False)
    response = post(cached_client, BODY, auth)  # the cache still says yes; store_event says no
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="wabahook"'
    assert count(database_url, "raw_events") == 1


def test_empty_body_is_400_and_stores_nothing(
    client: FlaskClient, channel: channels.IssuedCredential, database_url: str
) -> None:
    response = post(client, b"", basic(channel.username, channel.password))
    assert response.status_code == 400
    assert count(database_url, "raw_events") == 0


def test_body_at_the_limit_is_stored_and_one_byte_more_is_413(
    client: FlaskClient, channel: channels.IssuedCredential, database_url: str
) -> None:
    auth = basic(channel.username, channel.password)
    assert post(client, b"x" * 4096, auth).status_code == 200
    response = post(client, b"x" * 4097, auth)
    assert response.status_code == 413
    assert response.json == {"error": "body too large"}
    assert count(database_url, "raw_events") == 1


def test_unauthenticated_oversized_body_is_401_not_413(
    client: FlaskClient, channel: channels.IssuedCredential
) -> None:
    assert post(client, b"x" * 5000, basic("acme", "wrong")).status_code == 401


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_are_405(
    method: str, client: FlaskClient, channel: channels.IssuedCredential, database_url: str
) -> None:
    response = client.open(
        PATH, method=method, data=BODY, headers={"Authorization": basic("acme", channel.password)}
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"  # GET: Meta's handshake, with hub.mode
    assert count(database_url, "raw_events") == 0


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_a_405_names_the_methods_the_path_takes(client: FlaskClient, path: str) -> None:
    response = client.post(path, data=b"x")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


ODD_BODIES = {
    "NUL bytes": b'{"a":"\x00"}\x00\x00',
    "invalid UTF-8": b'{"text":"\xff\xfe\xc3\x28"}',
    "escaped NUL that jsonb refuses": b'{"text":"\\u0000"}',
    "lone surrogate escape": b'{"text":"\\ud800"}',
    "SQL-looking text": b"'); DROP TABLE wabahook.raw_events; -- $$ \\x00 %s %(body)s",
    "not JSON at all": b"<xml>hello</xml>",
    "emoji and RTL": '{"t":"👩‍👩‍👧 \u200f\u0645\u0631\u062d\u0628\u0627 \\/"}'.encode(),
}


@pytest.mark.parametrize("name", list(ODD_BODIES))
def test_any_authenticated_body_is_stored_byte_exact(
    name: str, client: FlaskClient, channel: channels.IssuedCredential, database_url: str
) -> None:
    body = ODD_BODIES[name]
    response = post(client, body, basic(channel.username, channel.password))
    assert response.status_code == 200
    (event,) = stored_events(database_url)
    assert bytes(event["body"]) == body


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(min_size=1, max_size=4096))
def test_stored_bytes_equal_sent_bytes(
    body: bytes, client: FlaskClient, channel: channels.IssuedCredential, db: Database
) -> None:
    response = post(client, body, basic(channel.username, channel.password))
    assert response.status_code == 200
    with db.connection() as conn:
        row = conn.execute(
            "SELECT body, body_sha256 FROM wabahook.raw_events WHERE id = %s",
            [response.json["event_id"]],
        ).fetchone()
    assert row is not None
    assert bytes(row["body"]) == body
    assert bytes(row["body_sha256"]) == hashlib.sha256(body).digest()


def test_request_id_is_generated_when_missing_or_unsafe(
    client: FlaskClient, channel: channels.IssuedCredential, database_url: str
) -> None:
    auth = basic(channel.username, channel.password)
    response = client.post(
        PATH, data=BODY, headers={"Authorization": auth, "X-Request-ID": "bad id;<x>"}
    )
    generated = response.headers["X-Request-ID"]
    assert generated != "bad id;<x>"
    assert len(generated) == 32
    assert stored_events(database_url)[0]["request_id"] == generated


def test_one_log_line_per_request_without_secrets(
    client: FlaskClient, channel: channels.IssuedCredential, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("wabahook")  # configured by create_app to write JSON to stderr
    post(client, BODY, basic(channel.username, channel.password))
    post(client, BODY, basic(channel.username, "wrong-password"))
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    requests = [line for line in lines if line["logger"] == "wabahook.request"]
    assert [line["status"] for line in requests] == [200, 401]
    assert all(line["channel"] == "acme" and len(line["request_id"]) == 32 for line in requests)
    assert "duration_ms" in requests[0]
    text = json.dumps(lines)
    assert channel.password not in text
    assert "wrong-password" not in text
    assert "Basic " not in text
    assert "whatsapp_business_account" not in text  # never the body


class _GoneStderr:
    """A stderr whose reader has gone."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise ValueError("I/O operation on closed file.")


def test_a_log_line_that_cannot_be_written_leaves_the_answer_as_it_was(
    client: FlaskClient,
    channel: channels.IssuedCredential,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stderr", _GoneStderr())
    response = post(client, BODY, basic(channel.username, channel.password))
    assert response.status_code == 200  # stored: a 500 would have it delivered again
    assert len(stored_events(database_url)) == 1


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready"}


def test_settings_never_show_secrets(app: Flask, app_env: dict[str, str]) -> None:
    settings = app.extensions["wabahook"].settings
    assert app_env["DATABASE_URL"] not in repr(settings)
    assert app_env["REDIS_URL"] not in repr(settings)
    assert settings.database_url.reveal() == app_env["DATABASE_URL"]
