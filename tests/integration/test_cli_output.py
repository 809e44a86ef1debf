"""What the CLI prints: unknown channels as errors, tables with headers, times in UTC with Z,
an en dash for a missing value."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg.conninfo import make_conninfo

from processors.channels import add_channel
from processors.cli import main
from processors.cli.common import MISSING, check_channels
from processors.migrate import migrate
from processors.pipeline.drain import drain
from receiver.config import Secret
from receiver.db import Database
from tests.integration.processing_helpers import status_body, store
from tests.support.bodies import T0, earlier_today
from tests.support.servers import own_postgres

Cli = Callable[..., Result]
FAILED = '"errors":[{"code":131047,"title":"Re-engagement message"}]'
# An ISO 8601 time in UTC as the CLI prints it (fractions of a second only in JSON).
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@pytest.fixture
def cli(database_url: str, redis_url: str, queue_name: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("WABAHOOK_QUEUE", queue_name)  # this test's own Redis keys
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def with_channel(channel: str, out: Path) -> list[list[str]]:
    """Every command that takes --channel, for `channel`."""
    return [
        ["stats", "--channel", channel],
        ["stats", "--channel", channel, "--json"],
        ["report", "--channel", channel, "--out", str(out)],
        ["events", "list", "--channel", channel],
        ["events", "list", "--channel", channel, "--json"],
        ["replay", "--channel", channel, "--dry-run"],
        ["replay", "--channel", channel],
        ["forward", "--to", "http://127.0.0.1:9/", "--channel", channel],
        ["failed", "list", "--channel", channel],
        ["messages", "show", "wamid.A", "--channel", channel],
    ]


def test_an_unknown_channel_is_a_one_line_error_everywhere(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    store(db, [status_body("wamid.A", "sent", T0)])
    drain(db)
    out = tmp_path / "report.html"
    for args in with_channel("nope", out):
        result = cli(*args)
        assert (result.exit_code, result.stderr, result.stdout) == (
            1, "Error: no channel named 'nope'\n", ""), args  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["events", "show", "99"], "no stored event 99"),
        (["events", "show", "99", "--json"], "no stored event 99"),
        (["messages", "show", "wamid.none"], "no message 'wamid.none'"),
        (["failed", "show", "99"], "no failed event 99"),
        (["failed", "retry", "99"],
         "not failed: event 99 (wabahook failed list shows those that are)"),
    ],
)  # fmt: skip
def test_an_unknown_id_is_a_one_line_error(cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args)
    assert (result.exit_code, result.stderr, result.stdout) == (1, f"Error: {message}\n", "")


def test_a_channel_that_stored_nothing_yet_is_no_error(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    store(db, [status_body("wamid.A", "sent", T0)])
    drain(db)
    add_channel(db, "quiet")
    for args in with_channel("quiet", tmp_path / "report.html"):
        result = cli(*args)
        if args[:2] == ["messages", "show"]:  # the message is not the channel's
            assert result.stderr == "Error: no message 'wamid.A' on channel quiet\n"
            continue
        assert result.exit_code == 0, (args, result.output)
    assert (tmp_path / "report.html").exists()


def test_failed_list_has_a_header_a_channel_filter_and_dashes(
    cli: Cli, db: Database, database_url: str
) -> None:
    acme, beta = store(db, [b'{"statuses":[]}']) + store(db, [b'{"x":1}'], channel="beta")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE wabahook.event_queue SET attempts = 2, last_error = 'boom',"
            " not_before = 'infinity'"
        )
    header, *lines = cli("failed", "list").stdout.splitlines()
    assert header.split() == ["ID", "CHANNEL", "RECEIVED", "ATTEMPTS", "NEXT", "ATTEMPT", "ERROR"]
    assert [line.split()[:2] for line in lines] == [[str(acme), "acme"], [str(beta), "beta"]]
    # Waiting for `failed retry`: no next attempt, shown as a dash rather than None.
    assert lines[0].split()[2:] == [lines[0].split()[2], "2", MISSING, "boom"]
    assert UTC_TIME.fullmatch(lines[0].split()[2])
    assert "None" not in cli("failed", "list").stdout
    (only,) = cli("failed", "list", "--channel", "beta").stdout.splitlines()[1:]
    assert only.split()[:2] == [str(beta), "beta"]
    shown = cli("failed", "show", str(acme)).stdout
    assert f"   not_before: {MISSING}\n" in shown
    assert re.search(r"  received_at: \S+Z\n", shown)
    assert "None" not in shown
    listed = json.loads(cli("failed", "list", "--json").stdout)
    assert listed[0]["received_at"].endswith("Z")
    assert listed[0]["not_before"] is None


def test_replay_dry_run_has_a_header(cli: Cli, db: Database) -> None:
    store(db, [b'{"statuses":[]}', b"not json"])
    drain(db)
    lines = cli("replay", "--all", "--dry-run").stdout.splitlines()
    assert [line.split() for line in lines] == [
        ["CHANNEL", "STATE", "EVENTS"],
        ["acme", "processed", "1"],
        ["acme", "rejected", "1"],
        ["2", "event(s)", "would", "be", "replayed"],
    ]
    assert cli("replay", "--state", "failed", "--dry-run").stdout == (
        "0 event(s) would be replayed\n"
    )


def test_stats_tables_have_headers_and_dashes(cli: Cli, db: Database) -> None:
    now = earlier_today(60)
    no_code = '"errors":[{"title":"no code given"}]'
    store(db, [status_body("wamid.A", "sent", now), status_body("wamid.B", "failed", now, FAILED),
               status_body("wamid.C", "failed", now, no_code)])  # fmt: skip
    drain(db)
    text = cli("stats", "--days", "1").stdout
    lines = text.splitlines()
    header = [line.split() for line in lines].index(
        ["DAY", "SENT", "DELIVERED", "READ", "FAILED", "DELIV", "%", "READ", "%"]
    )
    assert re.fullmatch(rf"total\s+3\s+0\s+0\s+2\s+0\.0%\s+{MISSING}", lines[header + 2])
    failures = lines.index("top failures")
    assert lines[failures + 1].split() == ["MESSAGES", "CODE", "TITLE"]
    assert sorted(line.split()[:2] for line in lines[failures + 2 : failures + 4]) == [
        ["1", "131047"], ["1", MISSING]]  # fmt: skip
    classes = lines.index("failures by class")
    assert lines[classes + 1].split() == ["MESSAGES", "CLASS"]
    assert f"delivered→read p50 {MISSING}, p90 {MISSING}" in text
    assert "None" not in text


def test_every_time_printed_is_utc_with_a_z(cli: Cli, db: Database) -> None:
    first, _ = store(db, [status_body("wamid.A", "failed", T0, FAILED)] * 2)
    drain(db)
    outputs = [
        cli("events", "list").stdout,
        cli("events", "list", "--json").stdout,
        cli("events", "show", str(first)).stdout,
        cli("events", "show", str(first), "--json").stdout,
        cli("messages", "show", "wamid.A").stdout,
        cli("messages", "show", "wamid.A", "--json").stdout,
        cli("stats", "--json", "--days", "3660").stdout,
        cli("retention", "--older-than", "1d", "--dry-run", "--json").stdout,
    ]
    for output in outputs:
        assert "+00:00" not in output, output
        assert not re.search(r"\d\d:\d\d(:\d\d)? UTC|\d \d\d:\d\d", output), output
    assert UTC_TIME.search(outputs[0])
    data = json.loads(outputs[3])
    assert UTC_TIME.fullmatch(data["received_at"])
    (month,) = json.loads(outputs[7])["months"] or [{"from": "2000-01-01T00:00:00Z"}]
    assert UTC_TIME.fullmatch(month["from"])


# The analyst's login reads the public views only: not the channels table.


@pytest.fixture(scope="module")
def analyst_server() -> Iterator[str]:
    """A database of a PostgreSQL of its own (roles are cluster-wide), with an analyst login."""
    with own_postgres() as server:
        with psycopg.connect(make_conninfo(server, dbname="postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE wabahook")
        url = make_conninfo(server, dbname="wabahook")
        migrate(url, roles=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE USER bi LOGIN IN ROLE wabahook_analyst")
        owner = Database(Secret(url), application_name="wabahook-test", timeout=10)
        try:
            store(owner, [status_body("wamid.A", "sent", T0)])
            drain(owner)
            add_channel(owner, "quiet")
        finally:
            owner.close()
        yield url


def test_an_analyst_is_told_of_channels_from_what_it_may_read(
    analyst_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyst = Database(
        Secret(make_conninfo(analyst_server, user="bi")), application_name="test", timeout=10
    )
    try:
        with (
            psycopg.connect(make_conninfo(analyst_server, user="bi")) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute("SELECT name FROM wabahook.channels")
        check_channels(analyst, ["acme"])  # seen in the public views: no error
        with pytest.raises(click.ClickException, match=r"^no channel named 'nope'$"):
            check_channels(analyst, ["acme", "nope"])
        # One that stored nothing is nothing an analyst could see anything of.
        with pytest.raises(click.ClickException, match=r"^no channel named 'quiet'$"):
            check_channels(analyst, ["quiet"])
    finally:
        analyst.close()
    monkeypatch.setenv("DATABASE_URL", make_conninfo(analyst_server, user="bi"))
    result = CliRunner().invoke(main, ["stats", "--channel", "nope"])
    assert (result.exit_code, result.stderr) == (1, "Error: no channel named 'nope'\n")
