"""`wabahook channels connect --provider meta` against a fake Graph API on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from click.testing import Result

from processors.channels import graph, meta
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.integration.test_meta_channels import APP_SECRET, new_key
from tests.support.fake_http import Answer, FakeServer, Recorded

ACCESS_TOKEN = "EAAG-test-access-token-0123456789"
WABA = "102290129340398"
PUBLIC = "https://hooks.example.com"
CALLBACK = f"{PUBLIC}/webhooks/hook"
JSON = {"Content-Type": "application/json"}
UNKNOWN_PATH = b'{"error":{"message":"Unknown path","type":"GraphMethodException","code":100}}'
PERMISSION = b'{"error":{"message":"(#200) Permissions error","type":"OAuthException","code":200}}'
SUBSCRIBE = f"POST /v24.0/{WABA}/subscribed_apps"


class FakeGraph:
    """Answers like Graph's WABA subscribed_apps edge: keeps the override it is given."""

    def __init__(self, fail: dict[str, tuple[int, bytes]] | None = None, delay: float = 0.0,
                 keep: bool = True) -> None:  # fmt: skip
        self.override: dict[str, str] = {}
        self.fail = fail or {}
        self.delay = delay
        self.keep = keep

    def __call__(self, request: Recorded) -> Answer:
        time.sleep(self.delay)
        key = f"{request.method} {request.path}"
        if request.headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
            return 401, JSON, (b'{"error":{"message":"Invalid OAuth access token - Cannot parse'
                               b' access token","type":"OAuthException","code":190}}')  # fmt: skip
        if key in self.fail:
            status, body = self.fail[key]
            return status, JSON, body
        if key == f"POST /v24.0/{WABA}/subscribed_apps":
            form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
            if self.keep:
                self.override = form
            return 200, JSON, b'{"success":true}'
        if key == f"GET /v24.0/{WABA}/subscribed_apps":
            about = {"id": "670843887433847", "name": "Acme Support"}
            app: dict[str, object] = {"whatsapp_business_api_data": about}
            if "override_callback_uri" in self.override:
                app["override_callback_uri"] = self.override["override_callback_uri"]
            return 200, JSON, json.dumps({"data": [app]}).encode()
        return (
            404,
            JSON,
            b'{"error":{"message":"Unknown path","type":"GraphMethodException","code":100}}',
        )


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = new_key()
    monkeypatch.setenv("WABAHOOK_SECRET_KEY", key)
    return key


@pytest.fixture
def hook(database_url: str, secret_key: str) -> meta.IssuedMetaChannel:
    db = Database(Secret(database_url), application_name="wabahook-test", timeout=10)
    try:
        return meta.add_meta_channel(db, Sealer(Secret(secret_key)), "hook", APP_SECRET)
    finally:
        db.close()


def connect(cli: Callable[..., Result], server: FakeServer, *extra: str) -> Result:
    return cli("channels", "connect", "hook", "--provider", "meta", "--waba-id", WABA,
               "--public-url", PUBLIC, "--graph-url", server.url, *extra)  # fmt: skip


def test_connect_subscribes_the_waba_with_the_channels_url_and_token(
    cli: Callable[..., Result], hook: meta.IssuedMetaChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("META_ACCESS_TOKEN", ACCESS_TOKEN)
    fake = FakeGraph()
    with FakeServer(fake) as server:
        result = connect(cli, server, "--json")
    assert result.exit_code == 0, result.output
    expected = {"channel": "hook", "waba_id": WABA, "callback_url": CALLBACK,
                "app": "Acme Support"}  # fmt: skip
    assert json.loads(result.stdout) == expected
    post, get = server.requests
    assert (post.method, post.path) == ("POST", f"/v24.0/{WABA}/subscribed_apps")
    assert parse_qs(post.body.decode()) == {
        "override_callback_uri": [CALLBACK], "verify_token": [hook.verify_token]}  # fmt: skip
    assert post.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert (get.method, get.path) == ("GET", f"/v24.0/{WABA}/subscribed_apps")
    assert ACCESS_TOKEN not in result.output
    assert ACCESS_TOKEN not in post.path + get.path  # a header, never the URL


def test_the_access_token_can_come_from_a_file_and_the_version_is_chosen(
    cli: Callable[..., Result], hook: meta.IssuedMetaChannel, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text(ACCESS_TOKEN + "\n")
    fake = FakeGraph()
    with FakeServer(fake) as server:
        result = connect(cli, server, "--access-token-file", str(tmp_path / "token"),
                         "--graph-version", "v25.0")  # fmt: skip
    assert result.exit_code == 1  # our fake speaks v24.0 only: the path shows the version
    assert server.requests[0].path == f"/v25.0/{WABA}/subscribed_apps"
    assert "Unknown path (GraphMethodException 100)" in result.stderr
    with FakeServer(FakeGraph()) as server:
        ok = connect(cli, server, "--access-token-file", str(tmp_path / "token"))
    assert ok.exit_code == 0, ok.output
    assert f"Meta now posts WABA {WABA}'s notifications to {CALLBACK}" in ok.stdout


@pytest.mark.parametrize(
    ("fake", "token", "said"),
    [
        (FakeGraph(), "wrong-token",
         f"Meta refused POST /{WABA}/subscribed_apps (HTTP 401): Invalid OAuth access token"),
        (FakeGraph(fail={SUBSCRIBE: (403, PERMISSION)}),
         ACCESS_TOKEN, "(#200) Permissions error (OAuthException 200)"),
        (FakeGraph(fail={SUBSCRIBE: (500, b"<html>oops</html>")}),
         ACCESS_TOKEN, "(HTTP 500): no reason given"),
        (FakeGraph(fail={SUBSCRIBE: (200, b'{"success":false}')}),
         ACCESS_TOKEN, "Meta did not confirm the subscription"),
        (FakeGraph(keep=False), ACCESS_TOKEN,
         f"Meta lists no app of WABA {WABA} posting to {CALLBACK}"),
        (FakeGraph(delay=2.0), ACCESS_TOKEN, "no answer from Meta within 0.5 s"),
    ],
    ids=["oauth", "permission", "server-error", "not-confirmed", "not-kept", "timeout"],
)  # fmt: skip
def test_graph_failures_are_one_line_and_change_nothing(
    cli: Callable[..., Result],
    hook: meta.IssuedMetaChannel,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    fake: FakeGraph,
    token: str,
    said: str,
) -> None:
    monkeypatch.setenv("META_ACCESS_TOKEN", token)
    before = channel_rows(database_url)
    with FakeServer(fake) as server:
        result = connect(cli, server, "--timeout", "0.5")
    assert result.exit_code == 1
    assert said in result.stderr
    assert result.stderr.count("\n") == 1
    assert token not in result.output
    assert channel_rows(database_url) == before


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--waba-id", "12ab"], {}, "numeric id"),
        (["--public-url", "http://hooks.example.com"], {}, "https"),
        (["--graph-url", "http://graph.example.com"], {}, "clear text"),
        (["--graph-version", "24"], {}, "like v24.0"),
        (["--public-url", "https://[::1"], {}, "must be an https:// URL"),
        (["--graph-url", "https://user:pw@graph.example.com"], {}, "no user:password"),
        ([], {"META_ACCESS_TOKEN": ""}, "no Meta access token"),
        ([], {"META_ACCESS_TOKEN": "two words"}, "visible ASCII"),
    ],
)
def test_bad_connect_input_is_a_one_line_error_before_any_request(
    cli: Callable[..., Result],
    hook: meta.IssuedMetaChannel,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    said: str,
) -> None:
    monkeypatch.setenv("META_ACCESS_TOKEN", ACCESS_TOKEN)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with FakeServer(FakeGraph()) as server:
        base = ["channels", "connect", "hook", "--provider", "meta", "--waba-id", WABA,
                "--public-url", PUBLIC, "--graph-url", server.url]  # fmt: skip
        result = cli(*base, *args)
    assert result.exit_code in (1, 2)
    assert said in result.stderr
    assert server.requests == []


def test_a_basic_channel_cannot_be_connected_to_meta(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, secret_key: str
) -> None:
    monkeypatch.setenv("META_ACCESS_TOKEN", ACCESS_TOKEN)
    assert cli("channels", "add", "basic-one").exit_code == 0
    with FakeServer(FakeGraph()) as server:
        result = cli("channels", "connect", "basic-one", "--provider", "meta", "--waba-id", WABA,
                     "--public-url", PUBLIC, "--graph-url", server.url)  # fmt: skip
    assert result.exit_code == 1
    assert "uses Basic credentials" in result.stderr
    assert server.requests == []


def channel_rows(url: str) -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT c.name, c.enabled, c.auth, s.kind, s.sealed, s.expires_at"
            " FROM wabahook.channels c JOIN wabahook.channel_meta_secrets s ON s.channel = c.name"
            " ORDER BY s.id"
        ).fetchall()


def test_the_graph_module_refuses_what_meta_would(database_url: str) -> None:
    with pytest.raises(graph.GraphError, match="https"):
        graph.callback_url("http://x.example.com", "hook")
    assert graph.check_graph_url("http://127.0.0.1:9/", "v24.0") == "http://127.0.0.1:9/v24.0"
