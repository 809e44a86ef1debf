"""The relay against a real HTTP destination on loopback: signed, retried, never lost."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from processors import channels
from processors.cli import main
from processors.relay import destinations
from processors.relay.attempt import backoff
from processors.relay.destinations import DestinationError, NewDestination
from processors.relay.engine import Relay
from processors.relay.http import refused
from processors.relay.signing import verify
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.support.fake_http import Answer, FakeServer, Recorded

KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
Cli = Callable[..., Result]


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(Secret(KEY))


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WABAHOOK_SECRET_KEY", KEY)
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(
        main, list(args), input=input, catch_exceptions=False
    )


def store(db: Database, channel: str, body: bytes, content_type: str | None = None) -> int:
    """Store a delivery as the receiver does (one store_event call)."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT wabahook.store_event(%s, %s, sha256(%s), %s, '{}', NULL, 'r') AS id",
            [channel, body, body, content_type],
        ).fetchone()
    assert row is not None
    assert row["id"] is not None
    return int(row["id"])


def ok(request: Recorded) -> Answer:
    return 200, {}, b"ok"


def rows(db: Database, statement: str) -> list[tuple[Any, ...]]:
    with db.connection() as conn, conn.cursor(row_factory=psycopg.rows.tuple_row) as cur:
        return cur.execute(statement.encode()).fetchall()


def relay_until_idle(db: Database, sealer: Sealer) -> Relay:
    relay = Relay(db, sealer)
    relay.run(until_idle=True)
    return relay


def test_each_event_arrives_byte_for_byte_signed_with_its_content_type(
    db: Database, sealer: Sealer
) -> None:
    channels.add_channel(db, "acme")
    channels.add_channel(db, "beta")
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("crm", app.url + "/hook"), SECRET)
        bodies = [b'{"statuses":[]}', b"\x00not json\xff", b'{"messages":[{"id":"1"}]}']
        ids = [store(db, "acme", body, "application/json") for body in bodies]
        other = store(db, "beta", b"{}", None)
        relay_until_idle(db, sealer)
        assert sorted(r.body for r in app.requests) == sorted([*bodies, b"{}"])
        for request in app.requests:
            assert request.path == "/hook"
            headers = request.headers
            assert verify(SECRET, headers["webhook-id"], int(headers["webhook-timestamp"]),
                          request.body, headers["webhook-signature"])  # fmt: skip
            event = int(headers["x-wabahook-event-id"])
            assert headers["webhook-id"].endswith(f"-{event}")
            assert headers["x-wabahook-channel"] == ("beta" if event == other else "acme")
            assert "authorization" not in headers
            expected = None if event == other else "application/json"
            assert headers.get("content-type") == expected
    states = rows(db, "SELECT raw_event_id, state, attempts FROM wabahook.relay_deliveries"
                      " ORDER BY 1")  # fmt: skip
    assert states == [(i, "delivered", 1) for i in sorted([*ids, other])]


def test_events_stored_before_the_destination_are_sent_only_when_asked(
    db: Database, sealer: Sealer, cli: Cli
) -> None:
    channels.add_channel(db, "acme")
    before = store(db, "acme", b'{"before":1}')
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("now", app.url), SECRET)
        after = store(db, "acme", b'{"after":1}')
        relay_until_idle(db, sealer)
        assert [r.body for r in app.requests] == [b'{"after":1}']
        result = cli("destinations", "add", "all", "--url", app.url, "--from-start")
        assert result.exit_code == 0, result.output
        assert "2 stored events queued" in result.output
        relay_until_idle(db, sealer)
    sent = rows(
        db,
        "SELECT d.name, r.raw_event_id FROM wabahook.relay_deliveries r JOIN"
        " wabahook.destinations d ON d.id = r.destination_id ORDER BY 1, 2",
    )
    assert sent == [("all", before), ("all", after), ("now", after)]


def test_a_failing_destination_is_retried_honouring_retry_after_and_keeps_the_webhook_id(
    db: Database, sealer: Sealer
) -> None:
    channels.add_channel(db, "acme")
    answers = iter([(500, {}, b"boom"), (429, {"Retry-After": "0"}, b"slow down")])

    def flaky(request: Recorded) -> Answer:
        return next(answers, (204, {}, b""))

    with FakeServer(flaky) as app:
        destinations.add(db, sealer, NewDestination("crm", app.url), SECRET)
        store(db, "acme", b"{}")
        relay = Relay(db, sealer)
        relay.step()  # queue and send: 500
        relay.settle()
        assert rows(db, "SELECT state, attempts, last_status, last_error"
                        " FROM wabahook.relay_deliveries") == [
            ("retrying", 1, 500, "HTTP 500: boom")]  # fmt: skip
        with db.connection() as conn:  # the backoff, passed
            conn.execute("UPDATE wabahook.relay_deliveries SET next_attempt_at = now()")
        relay_until_idle(db, sealer)  # 429 with Retry-After: 0, then 204
        ids = {r.headers["webhook-id"] for r in app.requests}
        assert len(app.requests) == 3
        assert len(ids) == 1
    assert rows(db, "SELECT state, attempts, last_status FROM wabahook.relay_deliveries") == [
        ("delivered", 3, 204)
    ]


def test_a_refusal_is_dead_at_once_and_an_old_event_dies_after_max_age(
    db: Database, sealer: Sealer
) -> None:
    channels.add_channel(db, "acme")
    with FakeServer(lambda r: (400, {}, b"x" * 100_000)) as app:
        destinations.add(db, sealer, NewDestination("picky", app.url), SECRET)
        store(db, "acme", b"{}")
        relay_until_idle(db, sealer)
    destinations.set_paused(db, "picky", True)  # its server is gone from here on
    with FakeServer(lambda r: (503, {}, b"")) as app:
        destinations.add(db, sealer, NewDestination("down", app.url, max_age_seconds=60), SECRET)
        store(db, "acme", b"{}")
        Relay(db, sealer).scan()  # its delivery queued, then made two minutes old
        with db.connection() as conn:
            conn.execute(
                "UPDATE wabahook.relay_deliveries SET age_from = now() - '2 min'::interval"
                " WHERE state = 'pending'"
            )
        relay_until_idle(db, sealer)
    states = rows(db, "SELECT d.name, r.state, r.last_status, length(r.last_error)"
                      " FROM wabahook.relay_deliveries r JOIN wabahook.destinations d"
                      " ON d.id = r.destination_id ORDER BY 1, r.raw_event_id")  # fmt: skip
    # A refusal is not retried, and its answer is read no further than 1 KiB (200
    # characters kept); past --max-age a failure is final. A paused destination's
    # events wait for it.
    assert states == [("down", "dead", 503, 9), ("picky", "dead", 400, 200),
                      ("picky", "pending", None, None)]  # fmt: skip


def test_paused_destinations_queue_and_resume_in_order_when_ordered(
    db: Database, sealer: Sealer, cli: Cli
) -> None:
    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        assert cli("destinations", "add", "seq", "--url", app.url, "--ordered",
                   "--secret-file", "-", input=SECRET).exit_code == 0  # fmt: skip
        assert cli("destinations", "pause", "seq").exit_code == 0
        ids = [store(db, "acme", f'{{"n":{n}}}'.encode()) for n in range(5)]
        relay_until_idle(db, sealer)
        assert app.requests == []
        assert cli("destinations", "resume", "seq").exit_code == 0
        relay_until_idle(db, sealer)
        assert [int(r.headers["x-wabahook-event-id"]) for r in app.requests] == ids


def test_add_refuses_what_cannot_work(db: Database, sealer: Sealer, cli: Cli) -> None:
    cases = [
        (["--url", "ftp://x"], "--url must be an http:// or https:// URL, not 'ftp://x'"),
        (["--url", "http://u:p@h/"], "--url must not hold a user or password"),
        (["--url", "http://h/", "--kind", "message.status"], "--kind filters facts"),
        (["--url", "http://h/", "--allow-address", "nope"], "--allow-address takes"),
        (["--url", "http://h/", "--format", "facts", "--kind", "x"], "--kind 'x' is no type"),
    ]
    for args, message in cases:
        result = cli("destinations", "add", "d1", *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.output)
    bad_secret = cli("destinations", "add", "d1", "--url", "http://h/", "--secret-file", "-",
                     input="whsec_short")  # fmt: skip
    assert bad_secret.exit_code == 1
    assert "24 to 64 random bytes" in bad_secret.stderr
    assert cli("destinations", "add", "Bad!", "--url", "http://h/").exit_code == 1
    assert cli("destinations", "list").output.startswith("No destinations yet")
    assert cli("destinations", "add", "d1", "--url", "http://h/").exit_code == 0
    again = cli("destinations", "add", "d1", "--url", "http://h/")
    assert again.exit_code == 1
    assert "exists already" in again.stderr
    with pytest.raises(DestinationError, match="no destination named 'ghost'"):
        destinations.set_paused(db, "ghost", True)


def test_the_secret_is_shown_once_and_kept_sealed(database_url: str, cli: Cli) -> None:
    result = cli("destinations", "add", "crm", "--url", "http://127.0.0.1:9/", "--json")
    assert result.exit_code == 0, result.output
    import json

    secret = json.loads(result.output)["secret"]
    assert secret.startswith("whsec_")
    with psycopg.connect(database_url) as conn:
        dump = repr(conn.execute("SELECT * FROM wabahook.destination_secrets").fetchall())
    assert secret.removeprefix("whsec_") not in dump
    listed = cli("destinations", "show", "crm", "--json")
    assert secret not in listed.output
    assert '"url": "http://127.0.0.1:9/"' in listed.output


def test_rotation_signs_with_both_secrets_until_the_old_one_expires(
    db: Database, sealer: Sealer, cli: Cli
) -> None:
    channels.add_channel(db, "acme")
    new = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("crm", app.url), SECRET)
        assert cli("destinations", "rotate-secret", "crm", "--secret-file", "-",
                   input=new).exit_code == 0  # fmt: skip
        store(db, "acme", b"{}")
        relay_until_idle(db, sealer)
        assert cli("destinations", "rotate-secret", "crm", "--expire-old").exit_code == 0
        store(db, "acme", b"[]")
        relay_until_idle(db, sealer)
        first, second = app.requests
    for request, valid in ((first, (SECRET, new)), (second, (new,))):
        headers = request.headers
        for secret in (SECRET, new):
            signed = verify(secret, headers["webhook-id"], int(headers["webhook-timestamp"]),
                            request.body, headers["webhook-signature"])  # fmt: skip
            assert signed == (secret in valid)


def test_link_local_and_metadata_addresses_are_refused_unless_allowed() -> None:
    for address in ("169.254.169.254", "0.0.0.0", "fe80::1", "fd00:ec2::254",
                    "::ffff:169.254.169.254"):  # fmt: skip
        assert refused(address), address
        assert not refused(address, ("169.254.0.0/16", "0.0.0.0/8", "fe80::/10",
                                     "fd00:ec2::254/128")), address  # fmt: skip
    for address in ("127.0.0.1", "::1", "10.1.2.3", "192.168.0.9", "203.0.113.5"):
        assert not refused(address), address


def test_a_destination_whose_name_resolves_to_a_refused_address_gets_nothing(
    db: Database, sealer: Sealer
) -> None:
    """The check is on the connected peer: a loopback address counts as refused when a
    test narrows the rule, so nothing outside loopback is ever contacted."""
    from processors.relay import http

    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("meta", app.url), SECRET)
        store(db, "acme", b"{}")
        original = http.REFUSED_NETWORKS
        http.REFUSED_NETWORKS = (*original, __import__("ipaddress").ip_network("127.0.0.0/8"))
        try:
            relay = Relay(db, sealer)
            relay.step()
            relay.settle()
        finally:
            http.REFUSED_NETWORKS = original
        assert app.requests == []
    ((state, error),) = rows(db, "SELECT state, last_error FROM wabahook.relay_deliveries")
    assert state == "retrying"
    assert "refused to connect to 127.0.0.1" in error


def test_two_relays_share_the_work_and_send_each_event_once(
    db: Database, sealer: Sealer, database_url: str
) -> None:
    channels.add_channel(db, "acme")
    lock = threading.Lock()
    seen: list[bytes] = []

    def record(request: Recorded) -> Answer:
        with lock:
            seen.append(request.body)
        return 200, {}, b""

    with FakeServer(record) as app:
        destinations.add(db, sealer, NewDestination("crm", app.url, max_in_flight=4), SECRET)
        bodies = [f'{{"n":{n}}}'.encode() for n in range(60)]
        for body in bodies:
            store(db, "acme", body)
        others = [Database(Secret(database_url), application_name="t", timeout=10) for _ in "ab"]
        try:
            threads = [threading.Thread(target=relay_until_idle, args=(o, sealer)) for o in others]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        finally:
            for other in others:
                other.close()
    assert sorted(seen) == sorted(bodies)


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    assert backoff(1, 7.0) == 7.0
    assert backoff(3, 10**9) == 3600.0
    first = [backoff(1, None) for _ in range(50)]
    assert all(0.5 <= b <= 1.0 for b in first)
    assert len(set(first)) > 1
    assert all(1800 <= backoff(10_000, None) <= 3600 for _ in range(20))


def test_an_event_committed_late_is_sent_and_others_transactions_hold_nothing_back(
    db: Database, sealer: Sealer, database_url: str
) -> None:
    """Event ids commit out of order: one whose storing transaction is still open holds
    the events stored after it back (for the milliseconds an intake takes), and is sent
    with them once committed; a long transaction that stores no events delays nothing."""
    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("crm", app.url), SECRET)
        with psycopg.connect(database_url) as other:
            other.execute("SELECT pg_current_xact_id()")  # someone else's long transaction
            store(db, "acme", b'{"first":1}')
            relay_until_idle(db, sealer)
            assert [r.body for r in app.requests] == [b'{"first":1}']
        with psycopg.connect(database_url) as slow:
            early = slow.execute(
                "SELECT wabahook.store_event('acme', %s, sha256(%s), NULL, '{}', NULL, 'r')",
                [b'{"early":1}', b'{"early":1}'],
            ).fetchone()  # its id taken, not committed yet
            late = store(db, "acme", b'{"late":1}')
            relay_until_idle(db, sealer)
            assert len(app.requests) == 1  # "late" waits: "early" may still come below it
            slow.commit()
        relay_until_idle(db, sealer)
        assert early is not None
        assert early[0] < late
        assert sorted(r.body for r in app.requests[1:]) == [b'{"early":1}', b'{"late":1}']


def test_the_test_command_posts_one_signed_message_and_tells_the_answer(
    db: Database, sealer: Sealer, cli: Cli
) -> None:
    answers = iter([(204, {}, b""), (500, {}, b"down for maintenance")])
    with FakeServer(lambda r: next(answers)) as app:
        destinations.add(db, sealer, NewDestination("crm", app.url + "/in"), SECRET)
        good = cli("destinations", "test", "crm")
        assert good.exit_code == 0, good.output
        assert "answered 204" in good.output
        bad = cli("destinations", "test", "crm")
        assert (bad.exit_code, bad.stderr) == (
            1, f"Error: {app.url}/in answered 500: down for maintenance\n")  # fmt: skip
        request = app.requests[0]
    headers = request.headers
    assert verify(SECRET, headers["webhook-id"], int(headers["webhook-timestamp"]), request.body,
                  headers["webhook-signature"])  # fmt: skip
    assert b'"type": "wabahook.test"' in request.body
    gone = cli("destinations", "test", "crm")  # its server is down now
    assert gone.exit_code == 1
    assert "Failed to connect" in gone.stderr
    assert cli("destinations", "test", "ghost").stderr == "Error: no destination named 'ghost'\n"


def test_a_relay_without_the_key_keeps_deliveries_waiting_and_says_why(
    db: Database, sealer: Sealer, cli: Cli, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("crm", app.url), SECRET)
        store(db, "acme", b"{}")
        monkeypatch.delenv("WABAHOOK_SECRET_KEY")
        result = cli("relay", "--until-idle", "--quiet")
        assert result.exit_code == 0, result.output
        assert app.requests == []
    assert rows(db, "SELECT state FROM wabahook.relay_deliveries") == [("pending",)]
    assert "destination crm waits: its signing secret is sealed with WABAHOOK_SECRET_KEY" in (
        caplog.text
    )


def test_replay_to_a_destination_sends_the_selected_stored_events_again(
    db: Database, sealer: Sealer, cli: Cli
) -> None:
    channels.add_channel(db, "acme")
    channels.add_channel(db, "beta")
    with FakeServer(ok) as app:
        first = store(db, "acme", b'{"n":1}')
        second = store(db, "acme", b'{"n":2}')
        store(db, "beta", b'{"n":3}')
        destinations.add(db, sealer, NewDestination("crm", app.url), SECRET)
        result = cli("replay", "--ids", f"{first}-{second}", "--to-destination", "crm")
        assert result.exit_code == 0, result.output
        assert result.output.startswith("2 event(s) queued for crm")
        relay_until_idle(db, sealer)
        again = cli("replay", "--channel", "acme", "--to-destination", "crm", "--json")
        assert '"queued": 2' in again.output  # delivered ones go again when asked
        relay_until_idle(db, sealer)
        assert sorted(r.body for r in app.requests) == [b'{"n":1}'] * 2 + [b'{"n":2}'] * 2
    destinations.add(db, sealer, NewDestination("bot", "http://127.0.0.1:9/", format="facts"),
                     SECRET)  # fmt: skip
    facts = cli("replay", "--all", "--to-destination", "bot")
    assert facts.exit_code == 1
    assert "bot takes facts" in facts.stderr
    ghost = cli("replay", "--all", "--to-destination", "ghost")
    assert ghost.stderr == "Error: no destination named 'ghost'\n"


@pytest.mark.slow  # relays in processes of their own, one killed mid-delivery
def test_a_relay_killed_mid_delivery_and_a_destination_down_for_a_while_lose_nothing(
    db: Database, sealer: Sealer, database_url: str
) -> None:
    """Every event reaches the destination at least once; a repeat carries the same
    webhook-id, so the application can tell it is one."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.integration.conftest import wait_until

    channels.add_channel(db, "acme")
    lock = threading.Lock()
    seen: list[tuple[str, bytes]] = []
    phase = {"answer": "slow"}

    def answer(request: Recorded) -> Answer:
        if phase["answer"] == "down":
            return 503, {"Retry-After": "0"}, b""
        if phase["answer"] == "slow":
            time.sleep(1.0)  # the relay is killed while these are in flight
        with lock:
            seen.append((request.headers["webhook-id"], request.body))
        return 204, {}, b""

    env = {**os.environ, "DATABASE_URL": database_url, "WABAHOOK_SECRET_KEY": KEY}
    env.pop("REDIS_URL", None)
    root = Path(__file__).resolve().parents[2]

    def relay() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "relay", "--quiet"], env=env, cwd=root,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    with FakeServer(answer) as app:
        destinations.add(db, sealer, NewDestination("app", app.url, max_in_flight=4), SECRET)
        bodies = [f'{{"n":{n}}}'.encode() for n in range(40)]
        for body in bodies[:20]:
            store(db, "acme", body)
        first = relay()
        try:
            assert wait_until(lambda: len(app.requests) >= 2, timeout=30)
            first.send_signal(signal.SIGKILL)  # no chance to record anything
            first.wait(timeout=10)
        finally:
            first.kill()
        phase["answer"] = "down"  # and the application goes down for a while
        for body in bodies[20:]:
            store(db, "acme", body)
        second = relay()
        try:
            with db.connection() as conn:  # the killed relay's leases run out
                conn.execute("UPDATE wabahook.relay_deliveries SET leased_until = now()"
                             " WHERE leased_until IS NOT NULL")  # fmt: skip
            assert wait_until(lambda: len(app.requests) >= 30, timeout=30)  # refused for now
            phase["answer"] = "up"
            with db.connection() as conn:  # its backoff, passed
                conn.execute("UPDATE wabahook.relay_deliveries SET next_attempt_at = now()")
            done = "SELECT count(*) FROM wabahook.relay_deliveries WHERE state = 'delivered'"
            assert wait_until(lambda: rows(db, done) == [(40,)], timeout=60)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
    received = {body for _, body in seen}
    assert received == set(bodies)
    ids_by_body: dict[bytes, set[str]] = {}
    for webhook_id, body in seen:
        ids_by_body.setdefault(body, set()).add(webhook_id)
    assert all(len(ids) == 1 for ids in ids_by_body.values())


def one_signed_delivery(db: Database, sealer: Sealer) -> Recorded:
    """One event relayed to a destination whose secret is SECRET, as the application got it."""
    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("crm", app.url), SECRET)
        store(db, "acme", b'{"statuses":[]}')
        relay_until_idle(db, sealer)
        (request,) = app.requests
    return request


def test_the_docs_python_check_accepts_a_real_delivery_and_refuses_a_forged_one(
    db: Database, sealer: Sealer
) -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "relay.md").read_text()
    code = page.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/relay.md", "exec"), namespace)  # noqa: S102  (our own docs)
    genuine = namespace["genuine"]
    request = one_signed_delivery(db, sealer)
    assert genuine(SECRET, request.headers, request.body)
    assert not genuine(SECRET, request.headers, request.body + b" ")
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    assert not genuine(other, request.headers, request.body)


def test_the_docs_node_check_accepts_a_real_delivery_and_refuses_a_forged_one(
    db: Database, sealer: Sealer, tmp_path: Any
) -> None:
    import json
    import subprocess
    from pathlib import Path

    from tests.support.servers import require_command

    node = require_command("node", "nodejs")
    page = (Path(__file__).resolve().parents[2] / "docs" / "relay.md").read_text()
    code = page.split("```js", 1)[1].split("```", 1)[0]
    script = tmp_path / "check.js"
    script.write_text(code + "\nconst [secret, headers, body] = process.argv.slice(2);\n"
                      "console.log(genuine(secret, JSON.parse(headers),"
                      " Buffer.from(body, 'base64')));\n")  # fmt: skip
    request = one_signed_delivery(db, sealer)

    def check(secret: str, body: bytes) -> str:
        done = subprocess.run(
            [node, str(script), secret, json.dumps(request.headers),
             base64.b64encode(body).decode()],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    assert check(SECRET, request.body) == "true"
    assert check(SECRET, request.body + b" ") == "false"


def test_a_redirect_is_not_followed_and_a_silent_destination_times_out(
    db: Database, sealer: Sealer
) -> None:
    import time

    channels.add_channel(db, "acme")
    with FakeServer(ok) as elsewhere:

        def answer(request: Recorded) -> Answer:
            if request.path == "/slow":
                time.sleep(2)  # longer than the destination's --timeout
                return 204, {}, b""
            return 302, {"Location": elsewhere.url + "/stolen"}, b""

        with FakeServer(answer) as app:
            destinations.add(db, sealer, NewDestination("moved", app.url + "/"), SECRET)
            destinations.add(db, sealer, NewDestination(
                "silent", app.url + "/slow", timeout_seconds=0.5), SECRET)  # fmt: skip
            store(db, "acme", b"{}")
            relay_until_idle(db, sealer)
        assert elsewhere.requests == []  # the body never went where the redirect said
    states = rows(db, "SELECT d.name, r.state, r.last_status, r.last_error"
                      " FROM wabahook.relay_deliveries r JOIN wabahook.destinations d"
                      " ON d.id = r.destination_id ORDER BY 1")  # fmt: skip
    assert states[0][:3] == ("moved", "dead", 302)
    assert states[1][:3] == ("silent", "retrying", None)
    assert "timed out" in states[1][3]


def test_a_destination_trickling_its_answer_is_cut_off_at_the_attempt_deadline(
    db: Database, sealer: Sealer
) -> None:
    """--timeout bounds the whole attempt: an answer sent a byte at a time does not hold
    the slot for as long as it likes (here it would take 10 s; the attempt has 0.5 s)."""
    import socket
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    sent: list[int] = []

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            count = 0
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")  # the head never ends in time
                for _ in range(100):
                    time.sleep(0.1)
                    conn.sendall(b"x")
                    count += 1
            except OSError:  # the relay hung up: the answer was cut off
                pass
            sent.append(count)

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    channels.add_channel(db, "acme")
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    destinations.add(db, sealer, NewDestination("drip", url, timeout_seconds=0.5), SECRET)
    store(db, "acme", b"{}")
    relay_until_idle(db, sealer)
    server.join(timeout=30)
    listener.close()
    ((state, status, error),) = rows(
        db, "SELECT state, last_status, last_error FROM wabahook.relay_deliveries"
    )
    assert (state, status) == ("retrying", None)
    assert "timed out" in error
    assert len(sent) == 1
    assert sent[0] < 100  # the rest of the answer was never waited for


def test_a_url_past_ascii_is_stored_as_requested_and_a_bad_port_is_refused(
    db: Database, sealer: Sealer
) -> None:
    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("intl", app.url + "/caf\u00e9 bar"), SECRET)
        store(db, "acme", b"{}")
        relay_until_idle(db, sealer)
        assert [r.path for r in app.requests] == ["/caf%C3%A9%20bar"]
    assert rows(db, "SELECT url, state FROM wabahook.destinations d"
                    " JOIN wabahook.relay_deliveries r ON r.destination_id = d.id") == [
        (app.url + "/caf%C3%A9%20bar", "delivered")]  # fmt: skip
    with pytest.raises(DestinationError, match="cannot be requested"):
        destinations.add(db, sealer, NewDestination("bad", "http://127.0.0.1:99999/"), SECRET)


def test_a_raw_delivery_whose_event_retention_dropped_is_dead_not_sent_empty(
    db: Database, sealer: Sealer
) -> None:
    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("app", app.url), SECRET)
        kept = store(db, "acme", b'{"kept":1}')
        dropped = store(db, "acme", b'{"dropped":1}')
        Relay(db, sealer).scan()  # both queued
        with db.connection() as conn:  # as a dropped partition would leave it
            conn.execute("DELETE FROM wabahook.event_queue WHERE raw_event_id = %s", [dropped])
            conn.execute("DELETE FROM wabahook.raw_events WHERE id = %s", [dropped])
        relay_until_idle(db, sealer)
        assert [r.body for r in app.requests] == [b'{"kept":1}']
    assert rows(db, "SELECT raw_event_id, state, last_error FROM wabahook.relay_deliveries"
                    " ORDER BY raw_event_id") == [
        (kept, "delivered", None), (dropped, "dead", "the event is no longer stored")]  # fmt: skip


def test_a_delivery_in_flight_is_not_claimed_again_and_a_taken_over_one_not_recorded(
    db: Database, sealer: Sealer
) -> None:
    """Its lease run out while its attempt is still under way here (a stalled loop): the
    relay does not send it a second time; and when another relay has taken it over, this
    one's late outcome is not recorded over that relay's."""
    import time

    channels.add_channel(db, "acme")
    release = threading.Event()

    def slow(request: Recorded) -> Answer:
        release.wait(10)
        return 204, {}, b""

    with FakeServer(slow) as app:
        destinations.add(db, sealer, NewDestination("app", app.url), SECRET)
        store(db, "acme", b"{}")
        relay = Relay(db, sealer)
        relay.step()  # claimed and sent; the answer is held back
        with db.connection() as conn:  # its lease runs out meanwhile
            conn.execute(
                "UPDATE wabahook.relay_deliveries SET leased_until = now() - '1s'::interval"
            )
        relay._refresh_at = 0.0  # look for due deliveries again now
        relay.step()
        time.sleep(0.2)
        assert len(app.requests) == 1  # not sent again
        with db.connection() as conn:  # another relay takes it over
            conn.execute(
                "UPDATE wabahook.relay_deliveries SET leased_until = now() + '1h'::interval"
            )
        release.set()
        relay.settle()
    assert rows(db, "SELECT state, attempts FROM wabahook.relay_deliveries") == [("pending", 0)]


def test_a_destination_stored_with_a_url_past_ascii_is_requested_in_ascii(
    db: Database, sealer: Sealer
) -> None:
    channels.add_channel(db, "acme")
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("old", app.url + "/x"), SECRET)
        with db.connection() as conn:  # as a destination added before URLs were kept in ASCII
            conn.execute("UPDATE wabahook.destinations SET url = %s", [app.url + "/caf\u00e9"])
        store(db, "acme", b"{}")
        relay_until_idle(db, sealer)
        assert [r.path for r in app.requests] == ["/caf%C3%A9"]
