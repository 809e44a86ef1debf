"""Meta-direct channels: the handshake, signed deliveries, secrets sealed at rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import subprocess
from collections.abc import Callable

import psycopg
import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from processors import channels
from processors.channels import meta
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer, stored_key_problem
from tests.integration.helpers import basic, count, stored_events

APP_SECRET = "6f1d2c3b4a5968778695a4b3c2d1e0f9"
NEW_SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
TOKEN = "meta-verify-token-of-the-test"
PATH = "/webhooks/meta-acme"
BODY = (
    b'{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":'
    b'[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{'
    b'"display_phone_number":"15550783881","phone_number_id":"106540352242922"},'
    b'"statuses":[{"id":"wamid.META1","status":"sent","timestamp":"1750000000",'
    b'"recipient_id":"4917000000001"}]}}]}]}'
)


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def signature(body: bytes, secret: str = APP_SECRET, upper: bool = False) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return "sha256=" + (digest.upper() if upper else digest)


@pytest.fixture
def secret_key() -> str:
    return new_key()


@pytest.fixture
def owner(database_url: str) -> Database:
    db = Database(Secret(database_url), application_name="wabahook-test", timeout=10)
    yield db  # type: ignore[misc]
    db.close()


@pytest.fixture
def meta_channel(owner: Database, secret_key: str) -> meta.IssuedMetaChannel:
    return meta.add_meta_channel(
        owner, Sealer(Secret(secret_key)), "meta-acme", APP_SECRET, verify_token=TOKEN
    )


@pytest.fixture
def meta_client(
    make_app: Callable[[dict[str, str]], Flask],
    app_env: dict[str, str],
    secret_key: str,
    meta_channel: meta.IssuedMetaChannel,
) -> FlaskClient:
    return make_app({**app_env, "WABAHOOK_SECRET_KEY": secret_key}).test_client()


def handshake(client: FlaskClient, path: str = PATH, **params: str):
    query = {"hub.mode": "subscribe", "hub.verify_token": TOKEN, "hub.challenge": "1158201444"}
    query.update(params)
    return client.get(path, query_string={k: v for k, v in query.items() if v is not None})


def signed_post(client: FlaskClient, body: bytes = BODY, sig: str | None = None, path: str = PATH):
    headers = {"Content-Type": "application/json"}
    headers["X-Hub-Signature-256"] = signature(body) if sig is None else sig
    return client.post(path, data=body, headers=headers)


# The handshake -------------------------------------------------------------------


def test_the_handshake_answers_the_challenge_for_the_right_token(
    meta_client: FlaskClient, database_url: str
) -> None:
    response = handshake(meta_client)
    assert response.status_code == 200
    assert response.data == b"1158201444"
    assert response.mimetype == "text/plain"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert count(database_url, "raw_events") == 0


@pytest.mark.parametrize(
    "params",
    [
        {"hub.verify_token": "wrong-token"},
        {"hub.verify_token": TOKEN[:-1]},
        {"hub.verify_token": ""},
        {"hub.mode": "unsubscribe"},
        {"hub.mode": ""},
        {"hub.challenge": None},
        {"hub.challenge": ""},
        {"hub.challenge": "9" * 513},
    ],
    ids=["wrong-token", "token-prefix", "empty-token", "other-mode", "empty-mode",
         "no-challenge", "empty-challenge", "huge-challenge"],
)  # fmt: skip
def test_every_other_handshake_is_one_403(
    meta_client: FlaskClient, params: dict[str, str | None], database_url: str
) -> None:
    response = handshake(meta_client, **params)
    assert response.status_code == 403
    assert response.json == {"error": "forbidden"}
    assert b"1158201444" not in response.data
    assert count(database_url, "raw_events") == 0


def test_a_handshake_of_an_unknown_disabled_or_basic_channel_is_the_same_403(
    meta_client: FlaskClient, channel: channels.IssuedCredential, owner: Database
) -> None:
    answers = [handshake(meta_client, path="/webhooks/nobody"),
               handshake(meta_client, path="/webhooks/acme"),  # a Basic channel
               handshake(meta_client, path="/webhooks/NOT_A_NAME")]  # fmt: skip
    channels.set_enabled(owner, "meta-acme", False)
    answers.append(handshake(meta_client))
    assert {(a.status_code, a.data) for a in answers} == {(403, b'{"error":"forbidden"}\n')}


@pytest.mark.parametrize(
    "query",
    [
        f"hub.mode=subscribe&hub.verify_token={TOKEN}&hub.verify_token={TOKEN}&hub.challenge=1",
        f"hub.mode=subscribe&hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=1",
        f"hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=1&hub.challenge=2",
        "hub.mode=subscribe&hub.verify_token=%ff%fe%00&hub.challenge=1",
        f"hub.mode=subscribe&hub.verify_token={TOKEN}%00&hub.challenge=1",
        "hub.mode=subscribe&hub.verify_token=" + "x" * 5000 + "&hub.challenge=1",
        f"hub.mode=%ff&hub.verify_token={TOKEN}&hub.challenge=1",
        "hub.mode",
    ],
    ids=["two-tokens", "two-modes", "two-challenges", "bad-utf8-token", "nul-token",
         "huge-token", "bad-utf8-mode", "bare-mode"],
)  # fmt: skip
def test_a_broken_or_ambiguous_handshake_is_a_403_never_a_500(
    meta_client: FlaskClient, query: str, database_url: str
) -> None:
    response = meta_client.get(f"{PATH}?{query}")
    assert response.status_code == 403
    assert response.json == {"error": "forbidden"}
    assert count(database_url, "raw_events") == 0


def test_a_get_without_hub_mode_and_head_are_405(
    meta_client: FlaskClient, channel: channels.IssuedCredential
) -> None:
    for path in (PATH, "/webhooks/acme", "/webhooks/nobody"):
        for response in (meta_client.get(path), meta_client.head(path + "?hub.mode=subscribe")):
            assert response.status_code == 405
            assert response.headers["Allow"] == "GET, POST"


# Signed deliveries -----------------------------------------------------------------


def test_a_signed_delivery_is_stored_and_processed_like_any_other(
    meta_client: FlaskClient, database_url: str, db: Database
) -> None:
    from processors.pipeline.drain import drain
    from tests.integration.processing_helpers import view

    response = signed_post(meta_client)
    assert response.status_code == 200
    (event,) = stored_events(database_url)
    assert bytes(event["body"]) == BODY
    assert event["channel"] == "meta-acme"
    assert event["headers"]["x-hub-signature-256"] == signature(BODY)
    drain(db)
    (row,) = view(database_url, "delivery_status")
    assert (row["channel"], row["message_id"], row["status"]) == (
        "meta-acme",
        "wamid.META1",
        "sent",
    )


def test_hex_in_either_case_is_accepted(meta_client: FlaskClient) -> None:
    assert signed_post(meta_client, sig=signature(BODY, upper=True)).status_code == 200


@pytest.mark.parametrize(
    "sig",
    [
        signature(BODY, secret="another app's secret"),
        signature(BODY + b" "),
        signature(BODY[:-1]),
        signature(BODY).replace("sha256=", "sha1="),
        signature(BODY)[:-1],
        signature(BODY) + "0",
        "sha256=" + "g" * 64,
        signature(BODY).removeprefix("sha256="),
        "",
    ],
    ids=["wrong-secret", "body-plus-a-byte", "body-less-a-byte", "sha1-prefix", "short",
         "long", "not-hex", "no-prefix", "empty"],
)  # fmt: skip
def test_a_wrong_or_malformed_signature_is_401_and_stores_nothing(
    meta_client: FlaskClient, sig: str, database_url: str
) -> None:
    response = signed_post(meta_client, sig=sig)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="wabahook"'
    assert response.json == {"error": "unauthorized"}
    assert count(database_url, "raw_events") == 0


def test_the_body_one_byte_changed_is_refused(meta_client: FlaskClient) -> None:
    changed = BODY.replace(b"sent", b"read")
    assert signed_post(meta_client, body=changed, sig=signature(BODY)).status_code == 401


def test_a_missing_signature_is_refused_before_the_body_is_read(
    meta_client: FlaskClient, database_url: str
) -> None:
    # A body past the ceiling (here the default limit) would be 413 if it were read: a
    # 401 says it was not.
    for headers in ({}, {"Authorization": basic("meta-acme", APP_SECRET)},
                    {"X-Hub-Signature-256": "sha256=xyz"}):  # fmt: skip
        response = meta_client.post(PATH, data=b"x" * 4097, headers=headers)  # past the ceiling
        assert response.status_code == 401
    assert count(database_url, "raw_events") == 0


def test_signed_bodies_keep_the_other_answers(meta_client: FlaskClient, database_url: str) -> None:
    assert signed_post(meta_client, body=b"").status_code == 400
    assert signed_post(meta_client, body=b"x" * 4097).status_code == 413
    assert signed_post(meta_client, body=b"x" * 4096).status_code == 200
    assert count(database_url, "raw_events") == 1


def test_every_refusal_of_a_signed_request_is_one_answer(
    meta_client: FlaskClient, channel: channels.IssuedCredential, owner: Database
) -> None:
    """Unknown, Basic, disabled meta channel, wrong signature: nothing tells them apart."""
    answers = [
        signed_post(meta_client, path="/webhooks/nobody"),
        signed_post(meta_client, path="/webhooks/acme"),
        signed_post(meta_client, sig=signature(BODY, secret="wrong")),
    ]
    channels.set_enabled(owner, "meta-acme", False)
    answers.append(signed_post(meta_client))
    assert {(a.status_code, a.data, a.headers["WWW-Authenticate"]) for a in answers} == {
        (401, b'{"error":"unauthorized"}\n', 'Basic realm="wabahook"')
    }


def test_a_basic_channel_still_takes_basic_credentials_beside_a_signature(
    meta_client: FlaskClient, channel: channels.IssuedCredential
) -> None:
    # 360dialog may pass Meta's signature of its own app along: Basic decides.
    response = meta_client.post(
        "/webhooks/acme", data=BODY,
        headers={"Authorization": basic("acme", channel.password),
                 "X-Hub-Signature-256": signature(BODY, secret="360dialog's app")},
    )  # fmt: skip
    assert response.status_code == 200


def test_rotation_overlap_and_expiry(
    meta_client: FlaskClient, owner: Database, secret_key: str, database_url: str
) -> None:
    sealer = Sealer(Secret(secret_key))
    meta.rotate_signed(owner, sealer, "meta-acme", NEW_SECRET, new_verify_token=False)
    assert signed_post(meta_client, sig=signature(BODY, APP_SECRET)).status_code == 200
    assert signed_post(meta_client, sig=signature(BODY, NEW_SECRET)).status_code == 200
    with pytest.raises(channels.ChannelError, match="--expire-old"):
        meta.rotate_signed(
            owner, sealer, "meta-acme", "third-app-secret-of-it", new_verify_token=False
        )
    assert meta.expire_old_secrets(owner, "meta-acme") == 1
    assert signed_post(meta_client, sig=signature(BODY, APP_SECRET)).status_code == 401
    assert signed_post(meta_client, sig=signature(BODY, NEW_SECRET)).status_code == 200
    rotated = meta.rotate_signed(owner, sealer, "meta-acme", None, new_verify_token=True)
    assert rotated.verify_token
    assert handshake(meta_client).status_code == 403  # the old token ended
    assert handshake(meta_client, **{"hub.verify_token": rotated.verify_token}).status_code == 200
    assert count(database_url, "raw_events") == 3


# Sealed at rest ----------------------------------------------------------------------


def database_dump(url: str) -> bytes:
    """Every row of every table of the database, as COPY writes it (what a dump holds)."""
    out = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            " AND schemaname NOT LIKE 'pg\\_temp\\_%'"  # sessions' own: pg_dump skips them too
        ).fetchall()
        for (table,) in tables:
            out.append(table.encode())
            with conn.cursor().copy(f"COPY (SELECT * FROM {table}) TO STDOUT") as copy:
                out.extend(bytes(chunk) for chunk in copy)
    return b"\n".join(out)


def test_the_secrets_appear_nowhere_in_the_database_or_the_logs(
    meta_client: FlaskClient, database_url: str, caplog: pytest.LogCaptureFixture, tmp_path
) -> None:
    caplog.set_level(logging.DEBUG)
    assert handshake(meta_client).status_code == 200
    assert signed_post(meta_client).status_code == 200
    assert signed_post(meta_client, sig=signature(BODY, "wrong")).status_code == 401
    dump = database_dump(database_url)
    assert b"channel_meta_secrets" in dump  # the dump holds the table and its rows...
    for secret in (APP_SECRET, TOKEN):
        for form in (secret.encode(), secret.encode().hex().encode(),
                     base64.b64encode(secret.encode())):  # fmt: skip
            assert form not in dump  # ...but not the secrets, in any plain form
        assert secret not in caplog.text


def test_a_wrong_key_is_said_at_start_and_is_a_503_not_a_401(
    make_app: Callable[[dict[str, str]], Flask],
    app_env: dict[str, str],
    meta_channel: meta.IssuedMetaChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from receiver.config import Settings

    wrong = {**app_env, "WABAHOOK_SECRET_KEY": new_key()}
    assert "not the key" in (stored_key_problem(Settings.from_env(wrong)) or "")
    assert "is not set" in (stored_key_problem(Settings.from_env(app_env)) or "")
    for env in (wrong, app_env):
        client = make_app(env).test_client()
        response = signed_post(client)
        assert response.status_code == 503  # the server's fault: Meta retries, nothing lost
        assert response.headers["Retry-After"]
        assert handshake(client).status_code == 503
    assert "meta channel secrets unavailable" in caplog.text


def test_a_database_without_meta_channels_needs_no_key(app_env: dict[str, str]) -> None:
    from receiver.config import Settings

    assert stored_key_problem(Settings.from_env(app_env)) is None


# The CLI --------------------------------------------------------------------------------


@pytest.fixture
def meta_cli(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, secret_key: str, tmp_path
) -> Callable[..., Result]:
    monkeypatch.setenv("WABAHOOK_SECRET_KEY", secret_key)
    (tmp_path / "app-secret").write_text(APP_SECRET + "\n")
    (tmp_path / "new-secret").write_text(NEW_SECRET)
    monkeypatch.chdir(tmp_path)
    return cli


def test_channels_add_meta_prints_the_token_once_and_lists_the_kind(
    meta_cli: Callable[..., Result], database_url: str
) -> None:
    result = meta_cli("channels", "add", "hook", "--auth", "meta", "--app-secret-file",
                      "app-secret", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert set(made) == {"channel", "auth", "verify_token", "webhook_path"}
    assert (made["channel"], made["auth"], made["webhook_path"]) == (
        "hook",
        "meta",
        "/webhooks/hook",
    )
    assert len(base64.urlsafe_b64decode(made["verify_token"] + "=")) >= 16  # >= 128 bits
    text = meta_cli("channels", "add", "hook2", "--auth", "meta", "--app-secret-file",
                    "app-secret", "--public-url", "https://hooks.example.com").stdout  # fmt: skip
    assert "Callback URL: https://hooks.example.com/webhooks/hook2" in text
    assert "Verify token: " in text
    assert APP_SECRET not in text
    rows = {r["name"]: r for r in json.loads(meta_cli("channels", "list", "--json").stdout)}
    assert (rows["hook"]["auth"], rows["hook"]["valid_credentials"]) == ("meta", 1)
    listed = meta_cli("channels", "list").stdout
    assert made["verify_token"] not in listed
    assert "hook                     meta              enabled" in listed


def test_channels_rotate_and_disable_a_meta_channel(meta_cli: Callable[..., Result]) -> None:
    meta_cli("channels", "add", "hook", "--auth", "meta", "--app-secret-file", "app-secret")
    rotated = meta_cli("channels", "rotate", "hook", "--app-secret-file", "new-secret", "--json")
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.stdout)["verify_token"] is None
    listed = {r["name"]: r for r in json.loads(meta_cli("channels", "list", "--json").stdout)}
    assert listed["hook"]["valid_credentials"] == 2
    assert json.loads(meta_cli("channels", "rotate", "hook", "--expire-old", "--json").stdout) == {
        "channel": "hook", "expired": 1}  # fmt: skip
    token = json.loads(meta_cli("channels", "rotate", "hook", "--verify-token", "--json").stdout)
    assert token["verify_token"]
    assert meta_cli("channels", "disable", "hook").exit_code == 0
    bare = meta_cli("channels", "rotate", "hook")
    assert bare.exit_code == 1
    assert "--secret-file" in bare.stderr


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--auth", "meta"], {}, "needs --secret-file"),
        (["--auth", "meta", "--app-secret-file", "empty"], {}, "app secret is empty"),
        (["--auth", "meta", "--app-secret-file", "spaced"], {}, "visible ASCII"),
        (["--app-secret-file", "app-secret"], {}, "are for signed channels"),
        (["--auth", "meta", "--app-secret-file", "app-secret"], {"WABAHOOK_SECRET_KEY": ""},
         "need WABAHOOK_SECRET_KEY"),
        (["--auth", "meta", "--app-secret-file", "app-secret"], {"WABAHOOK_SECRET_KEY": "short"},
         "44 characters"),
    ],
)  # fmt: skip
def test_bad_meta_input_is_a_one_line_error(
    meta_cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,
    args: list[str],
    env: dict[str, str],
    said: str,
    database_url: str,
) -> None:
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "spaced").write_text("two words")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = meta_cli("channels", "add", "hook", *args)
    assert result.exit_code in (1, 2)
    assert said in result.stderr
    assert result.stderr.count("\n") == 1 or result.exit_code == 2
    assert APP_SECRET not in result.output
    assert count(database_url, "channels") == 0


def test_a_second_key_cannot_add_to_channels_sealed_with_the_first(
    meta_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert meta_cli("channels", "add", "hook", "--auth", "meta", "--app-secret-file",
                    "app-secret").exit_code == 0  # fmt: skip
    monkeypatch.setenv("WABAHOOK_SECRET_KEY", new_key())
    result = meta_cli("channels", "add", "hook2", "--auth", "meta", "--app-secret-file",
                      "app-secret")  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: WABAHOOK_SECRET_KEY is not the key the channels' secrets were sealed with\n"
    )


# Through the real gunicorn process -------------------------------------------------------


def test_meta_channel_through_gunicorn(
    start_gunicorn: Callable[..., str],
    app_env: dict[str, str],
    secret_key: str,
    meta_channel: meta.IssuedMetaChannel,
    database_url: str,
    tmp_path,
) -> None:
    from tests.integration.test_gunicorn import request

    log = tmp_path / "gunicorn.log"
    base = start_gunicorn({**app_env, "WABAHOOK_SECRET_KEY": secret_key}, stderr=log)
    query = f"hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=424242"
    status, headers, body = request(base, "GET", f"{PATH}?{query}")
    assert (status, body, headers["Content-Type"]) == (200, b"424242", "text/plain; charset=utf-8")
    wrong = request(base, "GET", f"{PATH}?{query.replace(TOKEN, 'nope')}")
    assert wrong[0] == 403
    status, _, _ = request(base, "POST", PATH, BODY, {"X-Hub-Signature-256": signature(BODY)})
    assert status == 200
    forged = request(base, "POST", PATH, BODY + b" ", {"X-Hub-Signature-256": signature(BODY)})
    assert forged[0] == 401
    unsigned = request(base, "POST", PATH, BODY)
    assert unsigned[0] == 401
    assert count(database_url, "raw_events") == 1
    said = log.read_text()
    assert APP_SECRET not in said
    assert TOKEN not in said.replace(f"hub.verify_token={TOKEN}", "")  # only as the URL had it


@pytest.mark.parametrize("key", ["", "wrong"])
def test_gunicorn_refuses_to_start_without_the_right_key(
    app_env: dict[str, str], meta_channel: meta.IssuedMetaChannel, key: str
) -> None:
    from processors.serving import gunicorn_command
    from tests.integration.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(app_env, WABAHOOK_BIND="127.0.0.1:1", WABAHOOK_WORKERS="1")
    env["WABAHOOK_SECRET_KEY"] = new_key() if key == "wrong" else ""
    done = subprocess.run(gunicorn_command(), env=env, cwd=ROOT, capture_output=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode != 0
    said = done.stderr.decode()
    expected = "not the key" if key == "wrong" else "WABAHOOK_SECRET_KEY is not set"
    assert expected in said
    assert "Traceback" not in said


def test_two_numbers_of_two_wabas_on_one_meta_channel_stay_apart(
    meta_client: FlaskClient, db: Database, database_url: str, cli: Callable[..., Result]
) -> None:
    """A Meta app posts every number it serves to one URL: one channel, numbers apart."""
    from processors.pipeline.drain import drain
    from tests.integration.processing_helpers import view

    def entry(waba: str, pn: str, display: str, message_id: str, state: str) -> str:
        return (
            f'{{"id":"{waba}","changes":[{{"field":"messages","value":{{"messaging_product":'
            f'"whatsapp","metadata":{{"display_phone_number":"{display}","phone_number_id":'
            f'"{pn}"}},"statuses":[{{"id":"{message_id}","status":"{state}",'
            f'"timestamp":"1750000000","recipient_id":"4917000000001"}}]}}}}]}}'
        )

    body = (
        '{"object":"whatsapp_business_account","entry":['
        + entry("300000000000001", "200000000000001", "15550001111", "wamid.M1", "sent") + ","
        + entry("300000000000002", "200000000000002", "15550002222", "wamid.M2", "failed")
        + "]}"
    ).encode()  # fmt: skip
    assert signed_post(meta_client, body=body).status_code == 200
    drain(db)
    numbers = sorted((r["channel"], r["phone_number_id"], r["waba_id"], r["display_phone_number"])
                     for r in view(database_url, "phone_numbers"))  # fmt: skip
    assert numbers == [
        ("meta-acme", "200000000000001", "300000000000001", "15550001111"),
        ("meta-acme", "200000000000002", "300000000000002", "15550002222"),
    ]
    statuses = {r["message_id"]: (r["phone_number_id"], r["status"])
                for r in view(database_url, "delivery_status")}  # fmt: skip
    assert statuses == {"wamid.M1": ("200000000000001", "sent"),
                        "wamid.M2": ("200000000000002", "failed")}  # fmt: skip
    one = json.loads(cli("stats", "--json", "--days", "3660",
                         "--phone-number-id", "200000000000002").stdout)  # fmt: skip
    assert (one["totals"]["sent"], one["totals"]["failed"]) == (1, 1)


# What the review of the first version found ------------------------------------------


def test_a_disabled_meta_channel_is_a_401_even_without_the_key(
    make_app: Callable[[dict[str, str]], Flask],
    app_env: dict[str, str],
    meta_channel: meta.IssuedMetaChannel,
    owner: Database,
) -> None:
    channels.set_enabled(owner, "meta-acme", False)
    client = make_app(app_env).test_client()  # no WABAHOOK_SECRET_KEY: nothing to open
    assert signed_post(client).status_code == 401
    assert handshake(client).status_code == 403


def test_basic_credential_commands_refuse_a_meta_channel(
    meta_cli: Callable[..., Result], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("D360_API_KEY", "d360-key-of-the-test")
    meta_cli("channels", "add", "hook", "--auth", "meta", "--app-secret-file", "app-secret")
    before = database_dump(database_url)
    for args in (["channels", "connect", "hook", "--public-url", "https://hooks.example.com"],
                 ["channels", "rotate", "hook", "--expire-old", "--verify-token"]):  # fmt: skip
        result = meta_cli(*args)
        assert result.exit_code == 1, args
        assert result.stderr.count("\n") == 1
    assert "is a meta channel" in meta_cli("channels", "connect", "hook", "--public-url",
                                           "https://hooks.example.com").stderr  # fmt: skip
    assert "give it alone" in meta_cli("channels", "rotate", "hook", "--expire-old",
                                       "--verify-token").stderr  # fmt: skip
    assert database_dump(database_url) == before  # no Basic credential, nothing expired


def test_a_secret_file_too_large_is_refused_unread(
    meta_cli: Callable[..., Result], tmp_path
) -> None:
    (tmp_path / "huge").write_text("a" * (64 * 1024 + 1))
    result = meta_cli("channels", "add", "hook", "--auth", "meta", "--app-secret-file", "huge")
    assert result.exit_code == 1
    assert result.stderr == "Error: --secret-file is larger than 64 KiB; is it the right file?\n"


def test_a_short_verify_token_is_refused(meta_cli: Callable[..., Result], tmp_path) -> None:
    (tmp_path / "short-token").write_text("guessable")
    result = meta_cli("channels", "add", "hook", "--auth", "meta", "--app-secret-file",
                      "app-secret", "--verify-token-file", "short-token")  # fmt: skip
    assert result.exit_code == 1
    assert "shorter than 16 characters" in result.stderr
