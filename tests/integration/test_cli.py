"""The `wabahook` command line: channels, migrate, errors and help."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from processors.cli import main
from receiver.auth import digest


@pytest.fixture
def cli(database_url: str, redis_url: str, queue_name: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("WABAHOOK_QUEUE", queue_name)  # this test's own Redis keys
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


def credential_digests(database_url: str, channel: str) -> list[bytes]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT secret_sha256 FROM wabahook.channel_credentials WHERE channel = %s"
            " AND (expires_at IS NULL OR expires_at > now()) ORDER BY id",
            [channel],
        ).fetchall()
    return [bytes(row[0]) for row in rows]


def test_channels_add_prints_credentials_once_and_stores_only_a_digest(cli, database_url) -> None:
    result = cli("channels", "add", "acme-de", "--phone-number", "+4915112345678")
    assert result.exit_code == 0, result.output
    password = next(line.split()[-1] for line in result.stdout.splitlines() if "password:" in line)
    assert "/webhooks/acme-de" in result.stdout
    curl_line = next(line.strip() for line in result.stdout.splitlines() if "curl " in line)
    assert f"-u acme-de:{password}" in curl_line
    assert curl_line.endswith("http://127.0.0.1:8080/webhooks/acme-de")
    assert credential_digests(database_url, "acme-de") == [digest(password)]


def test_channels_add_json_for_scripts(cli, database_url) -> None:
    result = cli("channels", "add", "acme", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"channel", "user", "password", "webhook_path"}
    assert data["channel"] == "acme"
    assert data["webhook_path"] == "/webhooks/acme"
    assert len(data["password"]) >= 22  # at least 128 bits, URL-safe base64
    assert credential_digests(database_url, "acme") == [digest(data["password"])]


@pytest.mark.parametrize("name", ["Acme", "acme_de", "-acme", "acme-", "a" * 64, "ä"])
def test_invalid_channel_names_are_refused_with_one_line(cli, name: str) -> None:
    result = cli("channels", "add", "--", name)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "invalid channel name" in result.stderr


def test_duplicate_channel_is_refused(cli) -> None:
    assert cli("channels", "add", "acme").exit_code == 0
    result = cli("channels", "add", "acme")
    assert result.exit_code == 1
    assert result.stderr == "Error: channel 'acme' already exists\n"


def test_list_shows_state_and_credentials(cli) -> None:
    assert "no channels yet" in cli("channels", "list").stdout
    cli("channels", "add", "acme", "--phone-number", "+4915112345678")
    cli("channels", "add", "beta")
    cli("channels", "disable", "beta")
    rows = json.loads(cli("channels", "list", "--json").stdout)
    assert [(r["name"], r["auth"], r["enabled"], r["valid_credentials"], r["phone_number"])
            for r in rows] == [
        ("acme", "basic", True, 1, "+4915112345678"),
        ("beta", "basic", False, 1, None),
    ]  # fmt: skip
    table = cli("channels", "list").stdout.splitlines()
    assert table[0].split()[:4] == ["CHANNEL", "KIND", "STATE", "CREDS"]
    assert table[2].split()[:4] == ["beta", "basic", "disabled", "1"]


def test_rotation_in_two_steps(cli, database_url) -> None:
    first = json.loads(cli("channels", "add", "acme", "--json").stdout)["password"]
    second = json.loads(cli("channels", "rotate", "acme", "--json").stdout)["password"]
    assert credential_digests(database_url, "acme") == [digest(first), digest(second)]
    refused = cli("channels", "rotate", "acme")
    assert refused.exit_code == 1
    assert "--expire-old" in refused.stderr
    finished = cli("channels", "rotate", "acme", "--expire-old")
    assert finished.exit_code == 0
    assert "1 old credential(s) expired" in finished.stdout
    assert credential_digests(database_url, "acme") == [digest(second)]


@pytest.mark.parametrize(
    "args",
    [
        ("channels", "rotate", "ghost"),
        ("channels", "disable", "ghost"),
        ("channels", "enable", "ghost"),
        ("channels", "rotate", "ghost", "--expire-old"),
    ],
)
def test_unknown_channel_is_a_one_line_error(cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 1
    assert result.stderr == "Error: no channel named 'ghost'\n"


def test_migrate_command_reports_up_to_date(cli) -> None:
    assert cli("migrate").stdout == "the database is up to date\n"
    assert json.loads(cli("migrate", "--json").stdout) == {"applied": [], "needs_rebuild": []}


def test_missing_database_url_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("WABAHOOK_VAR_DIR", str(tmp_path))  # a folder with no quickstart
    result = CliRunner().invoke(main, ["channels", "list"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: DATABASE_URL is not set")
    assert result.stderr.count("\n") == 1


def test_unreachable_database_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.proxy import closed_port

    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port()}/x")
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "2")
    result = CliRunner().invoke(main, ["migrate"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: migration failed: connection failed")
    assert result.stderr.count("\n") == 1


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
    return found


@pytest.mark.parametrize("path", all_commands(main), ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.stdout
    command = main
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    if not isinstance(command, click.Group):
        assert "Example" in result.stdout


def test_bad_usage_exits_2() -> None:
    result = CliRunner().invoke(main, ["channels", "add"])
    assert result.exit_code == 2
    assert "Missing argument 'NAME'" in result.stderr


def test_drain_and_sweep_commands(cli, db_with_events) -> None:
    health = json.loads(cli("sweep", "--json").stdout)
    assert (health["queued"], health["failed"]) == (12, 0)
    one = json.loads(cli("drain", "--json", "--batch-size", "5").stdout)
    assert one["processed"] == 5
    rest = cli("drain", "--until-empty", "--batch-size", "4")
    assert rest.exit_code == 0
    assert rest.stdout.startswith("processed 7, rejected 0, failed 0")
    assert json.loads(cli("sweep", "--json").stdout)["queued"] == 0


@pytest.fixture
def db_with_events(db):
    from tests.integration.processing_helpers import store

    body = b'{"statuses":[{"id":"m%d","status":"sent","timestamp":"1750000000"}]}'
    store(db, [body % i for i in range(12)])
    return db


def test_failed_list_show_and_retry(cli, db, database_url) -> None:
    import psycopg

    from tests.integration.processing_helpers import store

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION wabahook.test_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'poisoned'; END $$;"
            "CREATE TRIGGER test_poison BEFORE INSERT ON wabahook.status_event FOR EACH ROW"
            " EXECUTE FUNCTION wabahook.test_poison()"
        )
    (event_id,) = store(db, [b'{"statuses":[{"id":"p","status":"sent","timestamp":"1750000000"}]}'])
    assert "failed 1" in cli("drain").stdout
    listed = json.loads(cli("failed", "list", "--json").stdout)
    assert [(row["raw_event_id"], row["attempts"]) for row in listed] == [(event_id, 1)]
    assert "poisoned" in listed[0]["last_error"]
    shown = cli("failed", "show", str(event_id))
    assert '"id":"p"' in shown.stdout
    assert "poisoned" in shown.stdout
    assert cli("failed", "show", "999").stderr == "Error: no failed event 999\n"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER test_poison ON wabahook.status_event")
    assert cli("drain").stdout.startswith("processed 0")  # not due yet: backing off
    assert cli("failed", "retry", "--all").stdout == "1 event(s) due for a retry, drain enqueued\n"
    assert cli("drain").stdout.startswith("processed 1")
    assert cli("failed", "list").stdout == "no failed events\n"
    assert cli("failed", "retry").exit_code == 1
    not_failed = cli("failed", "retry", str(event_id), "999")
    assert not_failed.exit_code == 1
    assert not_failed.stderr == (
        f"Error: not failed: events {event_id}, 999 (wabahook failed list shows those that are)\n"
    )


def test_worker_and_cron_need_redis(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    for command in ("worker", "cron"):
        result = CliRunner().invoke(main, [command])
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: REDIS_URL is not set")


def test_stored_text_cannot_drive_the_operators_terminal(cli, db, database_url) -> None:
    import time

    import psycopg

    from tests.integration.processing_helpers import status_body, store

    title = "\\u001b]0;owned\\u0007\\u001b[2J\\r"  # set the title, clear the screen
    errors = '"errors":[{"code":131026,"title":"' + title + '"}]'
    store(db, [status_body("t1", "failed", int(time.time()) - 60, errors)])
    assert cli("drain").exit_code == 0
    (event_id,) = store(db, [b'{"statuses":[],"x":"\x1b[31m"}'])
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE wabahook.event_queue SET attempts = 1, last_error = %s,"
            " not_before = 'infinity' WHERE raw_event_id = %s",
            ["boom \x1b]0;owned\x07\r", event_id],
        )
    listed = cli("failed", "list").stdout
    shown = cli("failed", "show", str(event_id)).stdout
    stats = cli("stats", "--days", "2").stdout
    assert "owned" in listed
    assert "owned" in stats  # shown, but escaped
    for output in (listed, shown, stats):
        assert not {"\x1b", "\x07", "\r"} & set(output), output
