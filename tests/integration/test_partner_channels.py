"""360dialog partner channels: bodies signed with x-360dialog-signature, the CLI around them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable

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
from tests.integration.test_meta_channels import APP_SECRET, database_dump

PLATFORM_SECRET = "partner-platform-secret-0f1e2d3c4b5a"
NEW_SECRET = "partner-platform-secret-new-9a8b7c6d"
PATH = "/webhooks/partner"
CEILING = 16_384  # the default limit is 4,096 (app_env)
BODY = (
    b'{"id":"evt-0001","event":"channel_ready","data":{"client_id":"cl-1",'
    b'"phone_number":"+4915100000001","status":"ready"}}'
)


def signature(body: bytes, secret: str = PLATFORM_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def secret_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def owner(database_url: str) -> Database:
    db = Database(Secret(database_url), application_name="wabahook-test", timeout=10)
    yield db  # type: ignore[misc]
    db.close()


@pytest.fixture
def partner(owner: Database, secret_key: str) -> meta.IssuedMetaChannel:
    return meta.add_partner_channel(owner, Sealer(Secret(secret_key)), "partner", PLATFORM_SECRET)


@pytest.fixture
def client(
    make_app: Callable[[dict[str, str]], Flask],
    app_env: dict[str, str],
    secret_key: str,
    partner: meta.IssuedMetaChannel,
) -> FlaskClient:
    env = {**app_env, "WABAHOOK_SECRET_KEY": secret_key,
           "WABAHOOK_MAX_BODY_CEILING_BYTES": str(CEILING)}  # fmt: skip
    return make_app(env).test_client()


def signed_post(client: FlaskClient, body: bytes = BODY, sig: str | None = None, path: str = PATH):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/json"}
    headers["x-360dialog-signature"] = signature(body) if sig is None else sig
    return client.post(path, data=body, headers=headers)


@pytest.mark.parametrize(
    "form", [str.lower, str.upper, lambda hexdigest: "sha256=" + hexdigest],
    ids=["lower", "upper", "prefixed"],
)  # fmt: skip
def test_a_signed_delivery_is_stored_with_its_signature_header(
    client: FlaskClient, database_url: str, form: Callable[[str], str]
) -> None:
    response = signed_post(client, sig=form(signature(BODY)))
    assert response.status_code == 200
    assert response.json["status"] == "stored"
    assert count(database_url, "raw_events") == 1


@pytest.mark.parametrize(
    "sig",
    [
        signature(BODY, secret="another partner's secret"),
        signature(BODY + b" "),
        signature(BODY[:-1]),
        "sha1=" + signature(BODY),
        signature(BODY)[:-1],
        signature(BODY) + "0",
        "g" * 64,
        base64.b64encode(bytes.fromhex(signature(BODY))).decode(),
        "",
    ],
    ids=["wrong-secret", "body-plus-a-byte", "body-less-a-byte", "sha1-prefix", "short",
         "long", "not-hex", "base64", "empty"],
)  # fmt: skip
def test_a_wrong_or_malformed_signature_is_401_and_stores_nothing(
    client: FlaskClient, sig: str, database_url: str
) -> None:
    response = signed_post(client, sig=sig)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="wabahook"'
    assert response.json == {"error": "unauthorized"}
    assert count(database_url, "raw_events") == 0


def test_a_missing_signature_is_refused_before_the_body_is_read(client: FlaskClient) -> None:
    # A body past the ceiling would be 413 if it were read: a 401 says it was not.
    past = b"x" * (CEILING + 1)
    for headers in ({}, {"Authorization": basic("partner", PLATFORM_SECRET)},
                    {"x-360dialog-signature": "xyz"}):  # fmt: skip
        assert client.post(PATH, data=past, headers=headers).status_code == 401
    # Meta's signature is read and checked, as an unknown channel would: then refused.
    meta_signed = {"X-Hub-Signature-256": "sha256=" + signature(b"x" * 4096)}
    assert client.post(PATH, data=past, headers=meta_signed).status_code == 413
    assert client.post(PATH, data=b"x" * 10_000, headers=meta_signed).status_code == 401


def test_signed_bodies_keep_the_other_answers(client: FlaskClient, database_url: str) -> None:
    assert signed_post(client, body=b"").status_code == 400
    assert signed_post(client, body=b"x" * 4097).status_code == 413
    assert signed_post(client, body=b"x" * 4096).status_code == 200
    assert client.put(PATH, data=BODY).status_code == 405
    # No handshake: a partner channel answers a GET like any channel without a verify token.
    query = {"hub.mode": "subscribe", "hub.verify_token": PLATFORM_SECRET, "hub.challenge": "1"}
    assert client.get(PATH, query_string=query).status_code == 403
    assert count(database_url, "raw_events") == 1


def test_every_refusal_is_one_answer_and_the_same_work(
    client: FlaskClient,
    channel: channels.IssuedCredential,
    owner: Database,
    secret_key: str,
) -> None:
    """Unknown, Basic, meta, disabled partner channel, wrong signature: nothing tells them
    apart, and each reads the body and computes its signature (a body past the ceiling
    says so: 413 on every path; one over the channel's limit but within it: 401)."""
    meta.add_meta_channel(owner, Sealer(Secret(secret_key)), "meta-acme", APP_SECRET)
    paths = ["/webhooks/nobody", "/webhooks/acme", "/webhooks/meta-acme", PATH]
    over, past = b"x" * 4097, b"x" * (CEILING + 1)
    answers = [signed_post(client, path=path, sig=signature(BODY, "wrong")) for path in paths]
    answers += [signed_post(client, path=path, body=over, sig=signature(over, "wrong"))
                for path in paths]  # fmt: skip
    too_large = [signed_post(client, path=path, body=past) for path in paths]
    channels.set_enabled(owner, "partner", False)
    answers.append(signed_post(client))
    too_large.append(signed_post(client, body=past))
    assert {(a.status_code, a.data, a.headers["WWW-Authenticate"]) for a in answers} == {
        (401, b'{"error":"unauthorized"}\n', 'Basic realm="wabahook"')
    }
    assert {a.status_code for a in too_large} == {413}


def test_every_signed_refusal_reads_the_body_and_computes_two_signatures(
    client: FlaskClient,
    channel: channels.IssuedCredential,
    owner: Database,
    secret_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same work on every path, counted: each request signed either way has its whole
    body read and signed twice (the secrets a rotation holds, stand-ins filling up),
    whatever the channel, its kind, its state and its secrets."""
    meta.add_meta_channel(owner, Sealer(Secret(secret_key)), "meta-acme", APP_SECRET)
    meta.rotate_signed(owner, Sealer(Secret(secret_key)), "partner", NEW_SECRET, False,
                       meta.PARTNER)  # fmt: skip
    signed: list[int] = []
    real_new = hmac.new

    def counting(key: bytes, msg: bytes = b"", digestmod: object = None) -> object:
        signed.append(len(msg))
        return real_new(key, msg, digestmod)  # type: ignore[arg-type]

    monkeypatch.setattr(hmac, "new", counting)
    body = b"y" * 3000
    paths = ["/webhooks/nobody", "/webhooks/acme", "/webhooks/meta-acme", PATH, "/webhooks/x_"]
    for path in paths:
        for header in ("x-360dialog-signature", "X-Hub-Signature-256"):
            signed.clear()
            forged = ("sha256=" if header.startswith("X-Hub") else "") + "ab" * 32
            response = client.post(path, data=body, headers={header: forged})
            assert response.status_code == 401, (path, header)
            assert signed == [len(body), len(body)], (path, header)
    channels.set_enabled(owner, "partner", False)
    headers = {"x-360dialog-signature": signature(body)}  # signed here: counted too
    signed.clear()
    assert client.post(PATH, data=body, headers=headers).status_code == 401
    assert signed == [len(body), len(body)]


def test_a_meta_signature_does_not_open_a_partner_channel(client: FlaskClient) -> None:
    meta_signed = {"X-Hub-Signature-256": "sha256=" + signature(BODY)}
    assert client.post(PATH, data=BODY, headers=meta_signed).status_code == 401


def test_rotation_overlap_and_expiry(
    client: FlaskClient, owner: Database, secret_key: str, database_url: str
) -> None:
    sealer = Sealer(Secret(secret_key))
    meta.rotate_signed(owner, sealer, "partner", NEW_SECRET, False, meta.PARTNER)
    assert signed_post(client, sig=signature(BODY, PLATFORM_SECRET)).status_code == 200
    assert signed_post(client, sig=signature(BODY, NEW_SECRET)).status_code == 200
    with pytest.raises(channels.ChannelError, match="--expire-old"):
        meta.rotate_signed(owner, sealer, "partner", "a-third-platform-secret", False, meta.PARTNER)
    assert meta.expire_old_secrets(owner, "partner", meta.PARTNER) == 1
    assert signed_post(client, sig=signature(BODY, PLATFORM_SECRET)).status_code == 401
    assert signed_post(client, sig=signature(BODY, NEW_SECRET)).status_code == 200
    assert count(database_url, "raw_events") == 3


def test_the_platform_secret_appears_nowhere_in_the_database_or_the_logs(
    client: FlaskClient, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert signed_post(client).status_code == 200
    assert signed_post(client, sig=signature(BODY, "wrong")).status_code == 401
    dump = database_dump(database_url)
    assert b"channel_meta_secrets" in dump
    for form in (PLATFORM_SECRET.encode(), PLATFORM_SECRET.encode().hex().encode(),
                 base64.b64encode(PLATFORM_SECRET.encode())):  # fmt: skip
        assert form not in dump
    assert PLATFORM_SECRET not in caplog.text


# The CLI --------------------------------------------------------------------------------


@pytest.fixture
def partner_cli(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, secret_key: str, tmp_path
) -> Callable[..., Result]:
    monkeypatch.setenv("WABAHOOK_SECRET_KEY", secret_key)
    monkeypatch.setenv("D360_API_KEY", "a-360dialog-api-key")  # never sent: connect refuses first
    (tmp_path / "platform").write_text(PLATFORM_SECRET + "\n")
    (tmp_path / "new-platform").write_text(NEW_SECRET)
    monkeypatch.chdir(tmp_path)
    return cli


def test_channels_add_rotate_list_disable_a_partner_channel(
    partner_cli: Callable[..., Result],
    make_app: Callable[[dict[str, str]], Flask],
    app_env: dict[str, str],
    secret_key: str,
) -> None:
    added = partner_cli(
        "channels", "add", "hub", "--auth", "360dialog-partner", "--secret-file", "platform",
        "--public-url", "https://hooks.example.com",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Partner Hub" in added.stdout
    assert "https://hooks.example.com/webhooks/hub" in added.stdout
    assert PLATFORM_SECRET not in added.output
    client = make_app({**app_env, "WABAHOOK_SECRET_KEY": secret_key}).test_client()
    path = "/webhooks/hub"
    assert signed_post(client, path=path).status_code == 200

    rotated = partner_cli("channels", "rotate", "hub", "--secret-file", "new-platform", "--json")
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.stdout) == {"channel": "hub", "auth": "360dialog-partner",
                                          "verify_token": None, "webhook_path": path}  # fmt: skip
    listed = {r["name"]: r for r in json.loads(partner_cli("channels", "list", "--json").stdout)}
    assert (listed["hub"]["auth"], listed["hub"]["valid_credentials"]) == ("360dialog-partner", 2)
    assert (
        "hub                      360dialog-partner enabled"
        in partner_cli("channels", "list").stdout
    )
    assert signed_post(client, path=path, sig=signature(BODY, NEW_SECRET)).status_code == 200
    expired = partner_cli("channels", "rotate", "hub", "--expire-old", "--json")
    assert json.loads(expired.stdout) == {"channel": "hub", "expired": 1}
    assert signed_post(client, path=path).status_code == 401
    assert signed_post(client, path=path, sig=signature(BODY, NEW_SECRET)).status_code == 200

    assert partner_cli("channels", "disable", "hub").exit_code == 0
    assert signed_post(client, path=path, sig=signature(BODY, NEW_SECRET)).status_code == 401
    assert partner_cli("channels", "enable", "hub").exit_code == 0
    assert signed_post(client, path=path, sig=signature(BODY, NEW_SECRET)).status_code == 200


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["channels", "add", "p2", "--auth", "360dialog-partner"],
         "needs --secret-file FILE (the platform secret)"),
        (["channels", "add", "p2", "--auth", "360dialog-partner", "--secret-file", "platform",
          "--verify-token-file", "platform"], "360dialog runs no handshake"),
        (["channels", "add", "p2", "--auth", "360dialog-partner", "--secret-file", "short"],
         "platform secret is shorter than 16"),
        (["channels", "rotate", "hub"], "rotate its platform secret with --secret-file"),
        (["channels", "rotate", "hub", "--verify-token"], "has no verify token"),
        (["channels", "rotate", "hub", "--expire-old", "--secret-file", "platform"],
         "give it alone"),
        (["channels", "connect", "hub", "--public-url", "https://hooks.example.com"],
         "its URL is set in 360dialog's Partner Hub"),
        (["channels", "connect", "hub", "--provider", "meta", "--waba-id", "1",
          "--public-url", "https://hooks.example.com"], "Partner Hub"),
    ],
)  # fmt: skip
def test_bad_partner_input_is_a_one_line_error(
    partner_cli: Callable[..., Result], tmp_path, args: list[str], said: str
) -> None:
    (tmp_path / "short").write_text("tooshort")
    assert partner_cli("channels", "add", "hub", "--auth", "360dialog-partner",
                       "--secret-file", "platform").exit_code == 0  # fmt: skip
    result = partner_cli(*args)
    assert result.exit_code == 1, result.output
    assert said in result.stderr
    assert result.stderr.count("\n") == 1
