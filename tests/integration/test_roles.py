"""Least privilege: the receiver's role stores deliveries and can do nothing else.

Roles are cluster-wide, so this test uses a PostgreSQL of its own.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from processors import channels
from processors.migrate import migrate
from processors.pipeline.drain import drain
from processors.pipeline.rebuild import rebuild
from receiver import create_app
from receiver.config import Secret
from receiver.db import Database
from tests.integration.conftest import start_worker, wait_until
from tests.support.servers import own_postgres


@pytest.fixture(scope="module")
def own_server() -> Iterator[str]:
    with own_postgres() as server:
        url = make_conninfo(server, dbname="postgres")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE wabahook")
        url = make_conninfo(server, dbname="wabahook")
        migrate(url, roles=True)
        with psycopg.connect(url, autocommit=True) as conn:
            for user, role in (("intake", "receiver"), ("worker", "processor"), ("bi", "analyst")):
                conn.execute(f"CREATE USER {user} LOGIN IN ROLE wabahook_{role}".encode())
        yield url


def assert_refused(conn: psycopg.Connection[Any], statements: Iterable[str]) -> None:
    """Each statement is refused to this login for want of a privilege."""
    for statement in statements:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement.encode())


def as_user(url: str, user: str) -> str:
    return make_conninfo(url, user=user)


def test_receiver_role_stores_but_cannot_read_or_change_events(own_server: str) -> None:
    owner = Database(Secret(own_server), application_name="wabahook-test", timeout=10)
    credential = channels.add_channel(owner, "acme")
    app = create_app(
        {"DATABASE_URL": as_user(own_server, "intake"), "WABAHOOK_CREDENTIAL_TTL": "0"}
    )
    auth = base64.b64encode(f"acme:{credential.password}".encode()).decode()
    response = app.test_client().post(
        "/webhooks/acme", data=b'{"statuses":[]}', headers={"Authorization": f"Basic {auth}"}
    )
    assert response.status_code == 200
    app.extensions["wabahook"].db.close()
    forbidden = [
        "SELECT body FROM wabahook.raw_events",
        "SELECT * FROM wabahook.event_queue",
        "UPDATE wabahook.raw_events SET channel = 'x'",
        "DELETE FROM wabahook.raw_events",
        "DELETE FROM wabahook.event_queue",
        "SELECT * FROM wabahook.messages_inbound",
        "SELECT secret_sha256, created_at FROM wabahook.channel_credentials",
        "UPDATE wabahook.channels SET enabled = true",
    ]
    channels.add_channel(owner, "off")
    channels.set_enabled(owner, "off", False)
    with psycopg.connect(as_user(own_server, "intake"), autocommit=True) as conn:
        assert_refused(conn, forbidden)
        # The receiver's login alone cannot store for a made-up or a disabled channel.
        for name in ("nosuch", "off"):
            stored = conn.execute(
                "SELECT wabahook.store_event(%s, '\\x7b7d', sha256('\\x7b7d'), NULL, '{}',"
                " NULL, 'r')",
                [name],
            ).fetchone()
            assert stored == (None,), name
    with psycopg.connect(own_server) as conn:
        row = conn.execute("SELECT body FROM wabahook.raw_events").fetchone()
    assert row == (b'{"statuses":[]}',)
    owner.close()


def test_a_meta_channel_works_with_the_receivers_login_alone(own_server: str) -> None:
    """Handshake and signed delivery as wabahook_receiver; the processor cannot touch secrets."""
    import hashlib
    import hmac

    from processors.channels import meta
    from receiver.sealing import Sealer

    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    owner = Database(Secret(own_server), application_name="wabahook-test", timeout=10)
    try:
        made = meta.add_meta_channel(owner, Sealer(Secret(key)), "meta-roles",
                                     "app-secret-for-the-roles")  # fmt: skip
    finally:
        owner.close()
    app = create_app({"DATABASE_URL": as_user(own_server, "intake"),
                      "WABAHOOK_CREDENTIAL_TTL": "0", "WABAHOOK_SECRET_KEY": key})  # fmt: skip
    client = app.test_client()
    try:
        query = {"hub.mode": "subscribe", "hub.verify_token": made.verify_token,
                 "hub.challenge": "5"}  # fmt: skip
        handshake = client.get("/webhooks/meta-roles", query_string=query)
        assert (handshake.status_code, handshake.data) == (200, b"5")
        body = b'{"statuses":[]}'
        mac = hmac.new(b"app-secret-for-the-roles", body, hashlib.sha256).hexdigest()
        signed = client.post("/webhooks/meta-roles", data=body,
                             headers={"X-Hub-Signature-256": f"sha256={mac}"})  # fmt: skip
        assert signed.status_code == 200
    finally:
        app.extensions["wabahook"].db.close()
    with psycopg.connect(as_user(own_server, "worker"), autocommit=True) as conn:
        assert_refused(
            conn,
            (
                "DELETE FROM wabahook.channel_meta_secrets",
                "DELETE FROM wabahook.secret_key_check",
                "SELECT sealed FROM wabahook.channel_meta_secrets",
                "UPDATE wabahook.channel_credentials SET expires_at = now()",
            ),
        )
    with psycopg.connect(own_server, autocommit=True) as conn:
        # The module's other receivers start without a key: no meta channel may stay.
        conn.execute("DELETE FROM wabahook.channel_meta_secrets")
        conn.execute("DELETE FROM wabahook.channels WHERE auth = 'meta'")


def ensure_channel(url: str, name: str) -> None:
    """Channel `name` exists (each test may run first, or alone in its test process)."""
    owner = Database(Secret(url), application_name="wabahook-test", timeout=10)
    try:
        if not channels.exists(owner, name):
            channels.add_channel(owner, name)
    finally:
        owner.close()


def test_processor_drains_and_analyst_reads_views_only(own_server: str) -> None:
    ensure_channel(own_server, "acme-processor")

    def deliver(body: bytes) -> None:
        with psycopg.connect(own_server, autocommit=True) as conn:
            conn.execute(
                "SELECT wabahook.store_event('acme-processor', %s, sha256(%s), NULL, '{}',"
                " NULL, 'r')",
                [body, body],
            )

    deliver(b'{"statuses":[{"id":"m1","status":"sent","timestamp":"1750000000"}]}')
    deliver(b'{"statuses":[],"n":1e999999}')  # jsonb refuses it: checked body by body
    deliver(b'{"statuses":[{"id":"p1","status":"sent","timestamp":"1750000000"}]}')
    with psycopg.connect(own_server, autocommit=True) as conn:  # a projection that fails
        conn.execute(
            "CREATE FUNCTION wabahook.test_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'poisoned'; END $$;"
            "CREATE TRIGGER test_poison BEFORE INSERT ON wabahook.status_event FOR EACH ROW"
            " WHEN (NEW.message_id = 'p1') EXECUTE FUNCTION wabahook.test_poison()"
        )
    worker = Database(Secret(as_user(own_server, "worker")), application_name="t", timeout=10)
    owner = Database(Secret(own_server), application_name="t", timeout=10)
    try:
        # Failure isolation (staging indexes, the server-side loop) works with its rights.
        stats = drain(worker)
        assert (stats.rejected, stats.failed) == (1, 1)
        assert stats.processed >= 1  # m1, and what other tests stored before
        with psycopg.connect(own_server, autocommit=True) as conn:
            conn.execute("DROP TRIGGER test_poison ON wabahook.status_event")
            conn.execute("UPDATE wabahook.event_queue SET not_before = now()")
        assert drain(worker).processed == 1  # the retried event, apart from the others
        rebuild(owner)  # a maintenance step of the owner; grants come back on the new tables
        deliver(b'{"statuses":[{"id":"m2","status":"read","timestamp":"1750000001"}]}')
        assert drain(worker).processed == 1  # the processor still writes the new tables
    finally:
        worker.close()
        owner.close()
    with psycopg.connect(as_user(own_server, "bi"), autocommit=True) as conn:
        statuses = conn.execute(
            "SELECT message_id, status FROM wabahook.delivery_status"
            " WHERE channel = 'acme-processor' ORDER BY 1"
        )
        assert statuses.fetchall() == [("m1", "sent"), ("m2", "read"), ("p1", "sent")]
        assert conn.execute("SELECT count(*) FROM wabahook.delivery_funnel_daily").fetchone() == (
            1,
        )
        assert_refused(
            conn,
            (
                "SELECT * FROM wabahook.raw_events",
                "SELECT * FROM wabahook.event_queue",
                "SELECT * FROM wabahook.channel_credentials",
                "DELETE FROM wabahook.message_delivery",
            ),
        )


def test_gunicorn_receiver_runs_with_the_receiver_role(
    own_server: str, start_gunicorn: Callable[..., str], redis_url: str, queue_name: str
) -> None:
    from tests.integration.test_gunicorn import request

    owner = Database(Secret(own_server), application_name="wabahook-test", timeout=10)
    credential = channels.add_channel(owner, "beta")
    owner.close()
    base = start_gunicorn(
        {
            "DATABASE_URL": as_user(own_server, "intake"),
            "REDIS_URL": redis_url,
            "WABAHOOK_QUEUE": queue_name,
        }
    )
    auth = base64.b64encode(f"beta:{credential.password}".encode()).decode()
    status, _, body = request(
        base, "POST", "/webhooks/beta", b"{}", {"Authorization": f"Basic {auth}"}
    )
    assert status == 200
    with psycopg.connect(own_server) as conn:
        row = conn.execute(
            "SELECT channel, body FROM wabahook.raw_events WHERE id = %s",
            [json.loads(body)["event_id"]],
        ).fetchone()
        sessions = conn.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity"
            " WHERE application_name = 'wabahook-receiver'"
        ).fetchall()
    assert row == ("beta", b"{}")
    assert sessions == [("intake",)]  # the receiver's pool connects as the receiver role only


def test_each_component_runs_with_its_own_login(
    own_server: str,
    start_gunicorn: Callable[..., str],
    redis_url: str,
    queue_name: str,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    """Receiver, worker and cron each log in as their own role and do their whole job."""
    from tests.integration.test_gunicorn import request

    passwords = {"receiver": secrets.token_urlsafe(16), "processor": secrets.token_urlsafe(16)}
    migrated = subprocess.run(
        [sys.executable, "-m", "processors.cli", "migrate"],
        env={
            **os.environ,
            "DATABASE_URL": own_server,
            "WABAHOOK_RECEIVER_DB_PASSWORD": passwords["receiver"],
            "WABAHOOK_PROCESSOR_DB_PASSWORD": passwords["processor"],
        },
        capture_output=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    for password in passwords.values():
        assert password.encode() not in migrated.stdout + migrated.stderr
    with psycopg.connect(own_server, autocommit=True) as conn:
        logins = conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper, left(rolpassword, 14) FROM pg_authid"
            " WHERE rolname IN ('wabahook_receiver', 'wabahook_processor') ORDER BY 1"
        ).fetchall()
        # The partition job must make this month again, as the processor.
        last = conn.execute(
            "SELECT c.oid::regclass::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'wabahook.raw_events'::regclass"
            " AND c.relname <> 'raw_events_default'"
            " ORDER BY c.relname DESC LIMIT 1"
        ).fetchone()
        assert last is not None
        conn.execute(f"ALTER TABLE wabahook.raw_events DETACH PARTITION {last[0]}".encode())
        conn.execute(f"DROP TABLE {last[0]}".encode())
    assert logins == [
        ("wabahook_processor", True, False, "SCRAM-SHA-256$"),
        ("wabahook_receiver", True, False, "SCRAM-SHA-256$"),
    ]

    def login(component: str) -> str:
        return make_conninfo(
            own_server, user=f"wabahook_{component}", password=passwords[component]
        )

    owner = Database(Secret(own_server), application_name="wabahook-test", timeout=10)
    credential = channels.add_channel(owner, "gamma")
    owner.close()
    env = {"REDIS_URL": redis_url, "WABAHOOK_QUEUE": queue_name, "WABAHOOK_LOG_FORMAT": "json"}
    base = start_gunicorn({**env, "DATABASE_URL": login("receiver")})
    processing_env = {**os.environ, **env, "DATABASE_URL": login("processor")}
    start_worker(processing_env, processes)
    cron = subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "cron", "--quiet"],
        env=processing_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes.append(cron)
    body = b'{"statuses":[{"id":"e2e","status":"delivered","timestamp":"1750000000"}]}'
    auth = base64.b64encode(f"gamma:{credential.password}".encode()).decode()
    status, _, _ = request(
        base, "POST", "/webhooks/gamma", body, {"Authorization": f"Basic {auth}"}
    )
    assert status == 200

    def projected() -> bool:
        with psycopg.connect(own_server) as conn:
            return conn.execute(
                "SELECT status FROM wabahook.delivery_status WHERE message_id = 'e2e'"
            ).fetchone() == ("delivered",)

    def partition_back() -> bool:
        with psycopg.connect(own_server) as conn:
            return conn.execute("SELECT to_regclass(%s)", [last[0]]).fetchone() != (None,)

    assert wait_until(projected, timeout=30)
    assert wait_until(partition_back, timeout=30)
    with psycopg.connect(own_server) as conn:
        sessions = set(
            conn.execute(
                "SELECT application_name, usename::text FROM pg_stat_activity"
                " WHERE application_name LIKE 'wabahook-%' AND application_name <> 'wabahook-test'"
            ).fetchall()
        )
    assert ("wabahook-receiver", "wabahook_receiver") in sessions
    assert ("wabahook-worker", "wabahook_processor") in sessions
    assert {user for _, user in sessions} == {"wabahook_receiver", "wabahook_processor"}


def test_processor_cannot_take_a_partition_name(own_server: str) -> None:
    """No CREATE on the schema; a table put under a partition's name is an error, not a skip."""
    with psycopg.connect(as_user(own_server, "worker"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE wabahook.raw_events_2099_01 (id bigint)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT wabahook.create_raw_event_partition('1999-01-01')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE wabahook.raw_events")
    with psycopg.connect(own_server, autocommit=True) as conn:
        conn.execute("CREATE TABLE wabahook.raw_events_2099_01 (id bigint)")
        try:
            with pytest.raises(psycopg.errors.RaiseException, match="not a partition"):
                conn.execute("SELECT wabahook.create_raw_event_partition('2099-01-15')")
        finally:
            conn.execute("DROP TABLE wabahook.raw_events_2099_01")


def test_processor_cannot_touch_the_migration_record(own_server: str) -> None:
    with psycopg.connect(as_user(own_server, "worker"), autocommit=True) as conn:
        assert_refused(
            conn,
            (
                "SELECT * FROM wabahook.schema_migrations",
                "INSERT INTO wabahook.schema_migrations (version, name, checksum)"
                " VALUES (9999, 'planted', 'x')",
            ),
        )


def test_a_login_that_may_not_alter_the_roles_is_told_how_to_fix_it(own_server: str) -> None:
    from processors.migrate import MigrationError, set_login_passwords

    with psycopg.connect(own_server, autocommit=True) as conn:
        conn.execute("CREATE USER creator LOGIN CREATEROLE")
    try:
        with (
            psycopg.connect(as_user(own_server, "creator"), autocommit=True) as conn,
            pytest.raises(MigrationError, match="WITH ADMIN OPTION") as raised,
        ):
            set_login_passwords(conn, [("wabahook_receiver", Secret("not-this"))])
        assert "not-this" not in str(raised.value)
    finally:
        with psycopg.connect(own_server, autocommit=True) as conn:
            conn.execute("DROP USER creator")


def test_the_console_runs_with_its_own_role(own_server: str) -> None:
    """Pages and replay under wabahook_console; its login reads no credential and can
    change no stored event or queue row but through replay_events()."""
    from processors.console import create_app as create_console

    with psycopg.connect(own_server, autocommit=True) as conn:
        conn.execute("CREATE USER ops LOGIN IN ROLE wabahook_console")
        conn.execute("INSERT INTO wabahook.channels (name) VALUES ('desk') ON CONFLICT DO NOTHING")
        stored = conn.execute(
            "SELECT wabahook.store_event('desk', %s, sha256(%s), NULL, '{}', NULL, 'r')",
            [b"not json", b"not json"],
        ).fetchone()
        # A message of its own for the message page (whichever test ran first here).
        conn.execute(
            "SELECT wabahook.store_event('desk', %s, sha256(%s), NULL, '{}', NULL, 'r')",
            [b'{"statuses":[{"id":"c1","status":"sent","timestamp":"1750000000"}]}'] * 2,
        )
    assert stored is not None
    event_id = stored[0]
    owner = Database(Secret(own_server), application_name="t", timeout=10)
    try:
        drain(owner)  # rejected: not JSON
    finally:
        owner.close()
    app = create_console({"DATABASE_URL": as_user(own_server, "ops")})
    client = app.test_client()
    for page in ("/", "/problems", f"/events/{event_id}", "/events?text=not+json",
                 "/events?channel=desk&state=rejected", "/messages/c1", "/retention",
                 "/history", "/destinations", "/people"):  # fmt: skip
        assert client.get(page).status_code == 200, page
    token = client.get_cookie("wabahook_csrf")
    assert token is not None
    replayed = client.post(f"/events/{event_id}/replay", data={"csrf_token": token.value})
    assert replayed.status_code == 303
    with psycopg.connect(own_server) as conn:
        queued = conn.execute(
            "SELECT count(*) FROM wabahook.event_queue WHERE raw_event_id = %s", [event_id]
        ).fetchone()
    assert queued == (1,)
    with psycopg.connect(as_user(own_server, "ops"), autocommit=True) as conn:
        assert_refused(
            conn,
            (
                "SELECT * FROM wabahook.channel_credentials",
                "SELECT * FROM wabahook.channel_meta_secrets",
                "DELETE FROM wabahook.raw_events",
                "DELETE FROM wabahook.event_queue",
                "INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)"
                " VALUES (1, now(), 'desk')",
                "UPDATE wabahook.channels SET enabled = false",
                "UPDATE wabahook.channels SET retention = '1 day'",
                "SELECT wabahook.store_event('desk', '\\x00', '\\x00', NULL, '{}', NULL, 'r')",
            ),
        )


def test_only_the_owner_login_exports_people(
    own_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The analysts' and the processors' logins read or write every person's rows, yet
    may not export or erase a person: the owner's login may."""
    from click.testing import CliRunner

    from processors.cli import main

    runner = CliRunner()
    monkeypatch.setenv("WABAHOOK_SECRET_KEY", "A" * 43 + "=")
    for user in ("bi", "worker", "intake"):
        monkeypatch.setenv("DATABASE_URL", as_user(own_server, user))
        for command in ("export", "erase"):
            args = ["people", command, "--wa-id", "15550100001", "--yes"][
                : 4 + (command == "erase")
            ]
            result = runner.invoke(main, args)
            assert result.exit_code == 1, (user, command, result.output)
            assert result.stderr == (
                "Error: only the owner login (the one that runs migrate) exports or erases people\n"
            ), (user, command)
    monkeypatch.setenv("DATABASE_URL", own_server)
    result = runner.invoke(main, ["people", "export", "--wa-id", "15550100001"])
    assert result.stderr == "Error: no person is known by that wa id\n"  # past the check
