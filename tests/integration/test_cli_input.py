"""Hostile command-line input and unreachable databases: one-line errors, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from processors.cli import main
from receiver.db import Database
from tests.support.fake_http import Answer, FakeServer, Recorded
from tests.support.proxy import TcpProxy, closed_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "S3cretPW"
AGE_LIMIT = "an age may be at most 100 years (36525d)"
MAX_ID = 9223372036854775807
Cli = Callable[..., Result]
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(database_url: str, redis_url: str, queue_name: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("WABAHOOK_QUEUE", queue_name)
    monkeypatch.setenv("D360_API_KEY", "d360-test-key")
    runner = CliRunner()
    # catch_exceptions=False: a traceback fails the test instead of becoming exit code 1.
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def usage_error(result: Result, message: str) -> None:
    """Exit 2 (click's usage error) whose one error line is exactly `message`."""
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {message}"]
    assert result.stderr.endswith(f"Error: {message}\n")
    assert result.stdout == ""


def one_line_error(result: Result, message: str) -> None:
    """Exit 1 with exactly `message` as the only line on stderr."""
    assert (result.exit_code, result.stderr) == (1, f"Error: {message}\n"), result.output
    assert result.stdout == ""


# 1. Durations and times --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "--since", "999999999d"],
         f"Invalid value for '--since': '999999999d' is too long ago: {AGE_LIMIT}"),
        (["replay", "--until", "99999999999999999999999w"],
         f"Invalid value for '--until': '99999999999999999999999w' is too long ago: {AGE_LIMIT}"),
        (["replay", "--since", "36526d"],
         f"Invalid value for '--since': '36526d' is too long ago: {AGE_LIMIT}"),
        (["replay", "--since", "9" * 5000 + "s"],
         f"Invalid value for '--since': '99999999999999999999999999999999999...' is too long"
         f" ago: {AGE_LIMIT}"),
        (["forward", "--to", "http://127.0.0.1:9/", "--since", "999999999d"],
         f"Invalid value for '--since': '999999999d' is too long ago: {AGE_LIMIT}"),
        (["forward", "--to", "http://127.0.0.1:9/", "--until", "9999999999999h"],
         f"Invalid value for '--until': '9999999999999h' is too long ago: {AGE_LIMIT}"),
        (["retention", "--older-than", "99999999999w"],
         f"Invalid value for '--older-than': '99999999999w' is too long: {AGE_LIMIT}"),
        (["retention", "--older-than", "5218w"],
         f"Invalid value for '--older-than': '5218w' is too long: {AGE_LIMIT}"),
        (["replay", "--since", "0001-01-01T00:00+05:00"],
         "Invalid value for '--since': '0001-01-01T00:00+05:00' is outside the years 0001 to"
         " 9999 in UTC"),
        (["forward", "--to", "http://127.0.0.1:9/", "--until", "9999-12-31T23:00-05:00"],
         "Invalid value for '--until': '9999-12-31T23:00-05:00' is outside the years 0001 to"
         " 9999 in UTC"),
        (["replay", "--since", "10000-01-01"],
         "Invalid value for '--since': '10000-01-01' is neither an ISO 8601 time nor an age"
         " like 90m, 2h or 7d"),
        (["replay", "--since", ""],
         "Invalid value for '--since': '' is neither an ISO 8601 time nor an age like 90m, 2h"
         " or 7d"),
        (["replay", "--since", "-5d"],
         "Invalid value for '--since': '-5d' is neither an ISO 8601 time nor an age like 90m,"
         " 2h or 7d"),
        (["retention", "--older-than", "\x1b[2J5d"],
         "Invalid value for '--older-than': '\\x1b[2J5d' is not an age like 90d, 12w or 36h"),
        (["retention", "--older-than", "\u0665d"],  # an Arabic-Indic 5: \d would match it
         "Invalid value for '--older-than': '\u0665d' is not an age like 90d, 12w or 36h"),
    ],
)  # fmt: skip
def test_ages_and_times_out_of_range_are_usage_errors(
    cli: Cli, args: list[str], message: str
) -> None:
    usage_error(cli(*args), message)


def test_ages_up_to_a_century_are_accepted(cli: Cli) -> None:
    result = cli("retention", "--older-than", "36525d", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("no month is entirely older than")
    assert cli("replay", "--since", "5217w", "--dry-run").exit_code == 0
    widest = cli("replay", "--since", "0001-01-01", "--until", "9999-12-31", "--dry-run")
    assert widest.exit_code == 0, widest.output


# Every other number ----------------------------------------------------------------------


FORWARD = ["forward", "--to", "http://127.0.0.1:9/"]
HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "--ids", HUGE],
         f"Invalid value for '--ids': '{HUGE}': an id is at most {MAX_ID}"),
        (["replay", "--ids", f"1-{HUGE}"],
         f"Invalid value for '--ids': '1-{HUGE}': an id is at most {MAX_ID}"),
        ([*FORWARD, "--ids", "9" * 5000],
         f"Invalid value for '--ids': '{'9' * 35}...': an id is at most {MAX_ID}"),
        (["replay", "--ids", "1-1000000,5-10"],
         "Invalid value for '--ids': '1-1000000,5-10' names more than 1000000 ids"),
        (["replay", "--ids", "9-5"],
         "Invalid value for '--ids': '9-5' is not a range: 5 is below 9"),
        (["replay", "--ids", "²"],
         "Invalid value for '--ids': '²' is not an id or a range like 20-25"),
        (["replay", "--ids", "-3"],
         "Invalid value for '--ids': '-3' is not an id or a range like 20-25"),
        (["replay", "--ids", ""],
         "Invalid value for '--ids': '' is not an id or a range like 20-25"),
        ([*FORWARD, "--rate", "nan"],
         "Invalid value for '--rate': 'nan' is not a finite number"),
        ([*FORWARD, "--rate", "inf"],
         "Invalid value for '--rate': inf is not in the range 0.01<=x<=10000."),
        ([*FORWARD, "--rate", "-1"],
         "Invalid value for '--rate': -1.0 is not in the range 0.01<=x<=10000."),
        ([*FORWARD, "--timeout", "nan"],
         "Invalid value for '--timeout': 'nan' is not a finite number"),
        ([*FORWARD, "--max-attempts", HUGE],
         f"Invalid value for '--max-attempts': {HUGE} is not in the range 1<=x<=20."),
        (["failed", "list", "--limit", HUGE],
         f"Invalid value for '--limit': {HUGE} is not in the range 1<=x<=100000."),
        (["failed", "list", "--limit", "-1"],
         "Invalid value for '--limit': -1 is not in the range 1<=x<=100000."),
        (["failed", "show", HUGE],
         f"Invalid value for 'EVENT_ID': {HUGE} is not in the range 1<=x<={MAX_ID}."),
        (["failed", "retry", "1", HUGE],
         f"Invalid value for '[EVENT_IDS]...': {HUGE} is not in the range 1<=x<={MAX_ID}."),
        (["drain", "--batch-size", HUGE],
         f"Invalid value for '--batch-size': {HUGE} is not in the range 1<=x<=10000."),
        (["rebuild", "--batch-size", "0"],
         "Invalid value for '--batch-size': 0 is not in the range 1<=x<=10000."),
        (["rebuild", "--processes", "0"],
         "Invalid value for '--processes': 0 is not in the range 1<=x<=64."),
        (["rebuild", "--processes", HUGE],
         f"Invalid value for '--processes': {HUGE} is not in the range 1<=x<=64."),
        (["stats", "--days", HUGE],
         f"Invalid value for '--days': {HUGE} is not in the range 1<=x<=3660."),
        (["report", "--days", "-7"],
         "Invalid value for '--days': -7 is not in the range 1<=x<=3660."),
        (["channels", "connect", "acme", "--public-url", "https://h.example.com",
          "--timeout", "nan"],
         "Invalid value for '--timeout': 'nan' is not a finite number"),
    ],
)  # fmt: skip
def test_numbers_out_of_range_are_usage_errors(cli: Cli, args: list[str], message: str) -> None:
    usage_error(cli(*args), message)


# 3. Phone numbers --------------------------------------------------------------------------

PHONE_RULE = (
    "use an optional +, then 7 to 15 digits (spaces, dashes, dots and parentheses are dropped)"
)


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("not a phone'; drop", '"not a phone\'; drop"'),
        ("", "''"),
        ("123", "'123'"),
        ("+1234567890123456", "'+1234567890123456'"),
        ("++4915112345678", "'++4915112345678'"),
        ("49+15112345678", "'49+15112345678'"),
        ("+49\n15112345678", "'+49\\n15112345678'"),
        ("+49\t15112345678", "'+49\\t15112345678'"),
        ("+49 151 1234567x", "'+49 151 1234567x'"),
        ("٤٩١٥١١٢٣٤٥٦٧٨", "'٤٩١٥١١٢٣٤٥٦٧٨'"),
        ("1" * 10_000, "'" + "1" * 35 + "...'"),
    ],
)
def test_channels_add_refuses_what_is_no_phone_number(
    cli: Cli, database_url: str, number: str, shown: str
) -> None:
    result = cli("channels", "add", "acme", "--phone-number", number)
    usage_error(
        result, f"Invalid value for '--phone-number': {shown} is not a phone number: {PHONE_RULE}"
    )
    assert cli("channels", "list", "--json").stdout == "[]\n"  # nothing was created


@pytest.mark.parametrize(
    ("number", "stored"),
    [
        ("+4915112345678", "+4915112345678"),
        ("+49 (151) 123-45.678", "+4915112345678"),
        (" 4915112345678 ", "4915112345678"),
        ("1234567", "1234567"),
        ("+123456789012345", "+123456789012345"),
    ],
)
def test_channels_add_stores_the_number_without_separators(
    cli: Cli, number: str, stored: str
) -> None:
    assert cli("channels", "add", "acme", "--phone-number", number).exit_code == 0
    (row,) = json.loads(cli("channels", "list", "--json").stdout)
    assert row["phone_number"] == stored


def test_channels_add_help_states_the_phone_rule(cli: Cli) -> None:
    help_text = " ".join(cli("channels", "add", "--help").stdout.split())
    assert "an optional +, then 7 to 15 digits (spaces, dashes, dots and parentheses are" in (
        help_text
    )


class Fake360Number:
    """A 360dialog that accepts the webhook and reports `number` as the phone number."""

    def __init__(self, number: object) -> None:
        self.number = number
        self.webhook = b"{}"

    def __call__(self, request: Recorded) -> Answer:
        json_type = {"Content-Type": "application/json"}
        if request.method == "POST":
            self.webhook = request.body
            return 200, json_type, request.body
        if request.path == "/v1/configs/webhook":
            return 200, json_type, self.webhook
        return 200, json_type, json.dumps({"phone_number": self.number}).encode()


def connect(cli: Cli, number: object) -> Result:
    """`channels connect acme` against a 360dialog that reports `number`."""
    with FakeServer(Fake360Number(number)) as server:
        return cli("channels", "connect", "acme", "--public-url", "https://hooks.example.com",
                   "--base-url", server.url)  # fmt: skip


@pytest.mark.parametrize(
    ("number", "shown"),
    [("not a phone'; drop", '"not a phone\'; drop"'), ("12", "'12'"), ({"n": 1}, "\"{'n': 1}\"")],
)
def test_connect_refuses_a_bad_number_from_360dialog(
    cli: Cli, database_url: str, number: object, shown: str
) -> None:
    assert cli("channels", "add", "acme", "--phone-number", "+4915100000000").exit_code == 0
    one_line_error(
        connect(cli, number),
        f"the webhook is connected, but 360dialog reported {shown} as the phone number, which"
        " is not one; it was not stored",
    )
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT phone_number FROM wabahook.channels").fetchall()
    assert stored == [("+4915100000000",)]


def test_connect_stores_the_number_from_360dialog_without_separators(
    cli: Cli, database_url: str
) -> None:
    assert cli("channels", "add", "acme").exit_code == 0
    assert connect(cli, "+49 151 1234-5678").exit_code == 0
    (row,) = json.loads(cli("channels", "list", "--json").stdout)
    assert row["phone_number"] == "+4915112345678"


# 4. Other hostile input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "--channel", "a\x00b"],
         "Invalid value for '--channel': invalid channel name 'a\\x00b': use 1-63 lowercase"
         " letters, digits and inner hyphens"),
        ([*FORWARD, "--channel", "Acme"],
         "Invalid value for '--channel': invalid channel name 'Acme': use 1-63 lowercase letters,"
         " digits and inner hyphens"),
        (["stats", "--channel", "x" * 10_000],
         f"Invalid value for '--channel': invalid channel name '{'x' * 35}...': use 1-63"
         " lowercase letters, digits and inner hyphens"),
        (["report", "--channel", "acme\n"],
         "Invalid value for '--channel': invalid channel name 'acme\\n': use 1-63 lowercase"
         " letters, digits and inner hyphens"),
        (["worker", "--burst", "--name", "a\nb"],
         "Invalid value for '--name': 'a\\nb' is not a worker name: use 1-100 letters, digits"
         " and . _ : @ -"),
        (["worker", "--burst", "--name", ""],
         "Invalid value for '--name': '' is not a worker name: use 1-100 letters, digits and ."
         " _ : @ -"),
        (["people", "erase", "--wa-id", "a\tb", "--dry-run"],
         "Invalid value for '--wa-id': 'a\\tb' is not an id: 1 to 512 printable characters,"
         " no spaces"),
        (["people", "export", "--person-id", "x" * 600],
         f"Invalid value for '--person-id': '{'x' * 35}...' is not an id: 1 to 512 printable"
         " characters, no spaces"),
        (["people", "erase", "--resume", "0"],
         "Invalid value for '--resume': 0 is not in the range x>=1."),
    ],
)  # fmt: skip
def test_hostile_names_are_usage_errors(cli: Cli, args: list[str], message: str) -> None:
    usage_error(cli(*args), message)


NAME_RULE = "use 1-63 lowercase letters, digits and inner hyphens"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["channels", "add", "acme\n"], f"invalid channel name 'acme\\n': {NAME_RULE}"),
        (["channels", "add", "--", "x" * 100_000],
         f"invalid channel name '{'x' * 35}...': {NAME_RULE}"),
        (["channels", "disable", "a\x00b"], f"invalid channel name 'a\\x00b': {NAME_RULE}"),
        (["channels", "enable", ""], f"invalid channel name '': {NAME_RULE}"),
        (["channels", "rotate", "acme\r"], f"invalid channel name 'acme\\r': {NAME_RULE}"),
        (["channels", "add", "acme", "--public-url", "https://[::1"],
         "--public-url must be an http:// or https:// URL, not 'https://[::1'"),
        (["channels", "rotate", "acme", "--public-url", "x'; rm -rf ~"],
         "--public-url must be an http:// or https:// URL, not \"x'; rm -rf ~\""),
        (["channels", "connect", "acme", "--public-url", "https://[::1"],
         "--public-url must be an https:// URL, not 'https://[::1'"),
        (["channels", "connect", "acme", "--public-url", "https://h.example.com/\n"],
         "--public-url must be an https:// URL, not 'https://h.example.com/\\n'"),
        (["channels", "connect", "acme", "--public-url", "https://h.example.com",
          "--base-url", "not a url"],
         "--base-url must be an http:// or https:// URL, not 'not a url'"),
        ([*FORWARD[:2], "http://h:99999/"],
         "--to must be an http:// or https:// URL, not 'http://h:99999/'"),
        ([*FORWARD[:2], "http://"], "--to must be an http:// or https:// URL, not 'http://'"),
        ([*FORWARD, "--header", "Bad Name: v"],
         "'Bad Name' is not a header name: use letters, digits and - (no spaces)"),
        ([*FORWARD, "--header", "X-Key: a\r\nInjected: 1"],
         "the value of header X-Key may hold only printable ASCII"),
        ([*FORWARD, "--header", "X-Key: \x00"],
         "the value of header X-Key may hold only printable ASCII"),
        (["report", "--out", "/nonexistent-dir/report.html"],
         "cannot write '/nonexistent-dir/report.html': no directory '/nonexistent-dir'"),
        (["channels", "set", "Acme", "--max-body", "1"],
         f"invalid channel name 'Acme': {NAME_RULE}"),
        (["channels", "set", "acme", "--max-body", "1\x00"],
         "'1\\x00' is no size: give bytes, or a number with KiB, MiB, GiB, kB, MB or GB"),
        (["channels", "set", "acme", "--retention", "\x1b[2J5d"],
         "--retention '\\x1b[2J5d' is not an age like 90d or 12w (or off)"),
        (["channels", "set", "acme", "--retention", "\u0665d"],
         "--retention '\u0665d' is not an age like 90d or 12w (or off)"),
        (["channels", "set", "acme", "--retention", "9" * 5000 + "d"],
         "--retention '99999999999999999999999999999999999...' is too long: an age may be at"
         f" most {AGE_LIMIT.removeprefix('an age may be at most ')}"),
        (["channels", "set", "acme", "--retention", "0d"],
         "--retention '0d': at least 1d, the sender retries for days"),
        (["people", "export", "--wa-id", "15550000000", "--out", "/nonexistent-dir/p.json"],
         "cannot write '/nonexistent-dir/p.json': no directory '/nonexistent-dir'"),
    ],
)  # fmt: skip
def test_hostile_values_are_one_line_errors(cli: Cli, args: list[str], message: str) -> None:
    one_line_error(cli(*args), message)


def test_binary_files_are_one_line_errors(cli: Cli, tmp_path: Path) -> None:
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00\xd0 not text")
    one_line_error(
        cli(*FORWARD, "--header-file", str(binary)), "--header-file is not a UTF-8 text file"
    )
    one_line_error(
        cli("channels", "connect", "acme", "--public-url", "https://h.example.com",
            "--api-key-file", str(binary)),
        "--api-key-file is not a text file",
    )  # fmt: skip


@pytest.mark.parametrize("key", ["äöü", "key with spaces", "a\x01b"])
def test_an_api_key_that_cannot_travel_in_a_header_is_refused_unshown(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("D360_API_KEY", key)
    result = cli("channels", "connect", "acme", "--public-url", "https://h.example.com")
    one_line_error(
        result, "the 360dialog API key may hold only visible ASCII characters, no spaces"
    )
    assert key not in result.output


def test_hostile_header_values_never_reach_the_destination(cli: Cli, db: Database) -> None:
    from tests.integration.processing_helpers import store

    store(db, [b'{"statuses":[]}'])
    with FakeServer(lambda _: (200, {}, b"")) as server:
        result = cli("forward", "--to", server.url, "--header", "X-Key: ok\x7f")
        assert server.requests == []
    one_line_error(result, "the value of header X-Key may hold only printable ASCII")


# 2. Unreachable databases, in a real process -----------------------------------------------

DATABASE_COMMANDS = [
    ["rebuild"],
    ["retention", "--older-than", "90d"],
    ["channels", "add", "acme"],
    ["channels", "list"],
    ["channels", "rotate", "acme"],
    ["channels", "disable", "acme"],
    ["channels", "enable", "acme"],
    ["channels", "connect", "acme", "--public-url", "https://h.example.com"],
    ["drain", "--until-empty"],
    ["sweep"],
    ["worker", "--burst"],
    ["cron"],
    ["replay", "--all"],
    ["forward", "--to", "http://127.0.0.1:9/", "--all"],
    ["failed", "list"],
    ["failed", "show", "1"],
    ["failed", "retry", "--all"],
    ["stats"],
    ["report", "--out", os.devnull],
]


@pytest.fixture
def wabahook(redis_url: str, queue_name: str) -> Run:
    """Run `wabahook ARGS` with DATABASE_URL=`url`, in this process, for at most 10 s.

    In this process, not a new one: these tests run about 60 commands, and a Python start-up
    for each was most of their time. `test_the_installed_command_says_it_on_one_line` runs
    the real program once. A traceback fails the test (it would be exit code 1 otherwise).
    """

    def run(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        removed = {k: None for k in os.environ if k.startswith(("PG", "DATABASE_URL"))}
        environment = {
            **removed, "DATABASE_URL": url, "REDIS_URL": redis_url,
            "WABAHOOK_QUEUE": queue_name, "D360_API_KEY": "d360-test-key", **env,
        }  # fmt: skip
        with hang_guard(10):  # before the fix a command waited 30 s for the pool
            result = CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)
        return subprocess.CompletedProcess(
            args, result.exit_code, stdout=result.stdout, stderr=result.stderr
        )

    return run


@contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in this (the main) thread if the block runs longer than `seconds`."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_installed(url: str, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real program in a process of its own, at most 10 s."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PG", "DATABASE_URL"))},
        "DATABASE_URL": url, "REDIS_URL": redis_url,
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "processors.cli", *args],
        env=environment, cwd=ROOT, capture_output=True, text=True, timeout=10,
    )  # fmt: skip


def test_the_installed_command_says_it_on_one_line(redis_url: str) -> None:
    """One line, exit 1, no traceback from the program itself."""
    port = closed_port()
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/x"
    done = run_installed(url, redis_url, "channels", "list")
    assert_one_line(done, f"cannot reach the database: connection refused (127.0.0.1:{port})")


def assert_one_line(done: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit 1 with exactly one line on stderr, `message`, and no password anywhere."""
    assert (done.returncode, done.stderr, done.stdout) == (1, f"Error: {message}\n", "")
    assert PASSWORD not in done.stderr + done.stdout


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_every_database_command_fails_fast_on_a_closed_port(wabahook: Run, args: list[str]) -> None:
    port = closed_port()
    done = wabahook(f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/x", *args)
    assert_one_line(done, f"cannot reach the database: connection refused (127.0.0.1:{port})")


def server_url(pg_server: str, **changes: str) -> tuple[str, str]:
    """The test server with other connection parameters, and its 'host:port'."""
    params = conninfo_to_dict(pg_server)
    where = f"{params.get('host') or 'local socket'}:{params.get('port') or 5432}"
    return make_conninfo(pg_server, **changes), where


SOME_COMMANDS = [["channels", "list"], ["drain"], ["sweep"], ["worker"], ["stats", "--json"]]


@pytest.mark.parametrize("args", SOME_COMMANDS, ids=" ".join)
def test_an_unknown_role_is_named(wabahook: Run, pg_server: str, args: list[str]) -> None:
    url, where = server_url(pg_server, user="nosuchrole", password=PASSWORD)
    done = wabahook(url, *args)
    assert_one_line(done, f'cannot reach the database: role "nosuchrole" does not exist ({where})')


@pytest.mark.parametrize("args", SOME_COMMANDS, ids=" ".join)
def test_a_missing_database_is_named(wabahook: Run, pg_server: str, args: list[str]) -> None:
    url, where = server_url(pg_server, dbname="no_such_database_x")  # the server's password
    done = wabahook(url, *args)
    message = f'cannot reach the database: database "no_such_database_x" does not exist ({where})'
    assert_one_line(done, message)


MALFORMED = (
    "DATABASE_URL is malformed: use postgresql://USER:PASSWORD@HOST:PORT/DBNAME"
    " (percent-encode special characters) or key=value pairs"
)


@pytest.mark.parametrize(
    "url",
    [f"postgresql:/x:{PASSWORD}@host", "not a url", f"postgresql://u:{PASSWORD}%zz@h/x",
     f"postgresql://u:{PASSWORD}@[::1/x", f"http://u:{PASSWORD}@h/x"],
)  # fmt: skip
@pytest.mark.parametrize("args", [*SOME_COMMANDS, ["migrate"]], ids=" ".join)
def test_a_malformed_url_is_reported_without_echoing_it(
    wabahook: Run, url: str, args: list[str]
) -> None:
    assert_one_line(wabahook(url, *args), MALFORMED)


def test_migrate_names_the_cause_on_one_line_without_the_password(
    wabahook: Run, pg_server: str
) -> None:
    url, _ = server_url(pg_server, user="nosuchrole", password=PASSWORD)
    done = wabahook(url, "migrate")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: migration failed: connection failed: ")
    assert done.stderr.endswith('role "nosuchrole" does not exist\n')
    assert done.stderr.count("\n") == 1
    assert PASSWORD not in done.stderr + done.stdout


@pytest.mark.slow  # waits out a server that never answers
def test_a_server_that_never_answers_is_given_up_on_within_seconds(
    wabahook: Run,
) -> None:
    silent = TcpProxy(None)  # accepts the connection, never says a word
    try:
        started = time.monotonic()
        done = wabahook(f"postgresql://u:{PASSWORD}@127.0.0.1:{silent.port}/x", "channels", "list")
        waited = time.monotonic() - started
    finally:
        silent.close()
    message = f"cannot reach the database: no answer within 5 s (127.0.0.1:{silent.port})"
    assert_one_line(done, message)
    assert waited >= 4  # the connect timeout, not some other failure


def test_a_malformed_redis_url_is_one_line(wabahook: Run, database_url: str) -> None:
    for command in ("worker", "cron", "sweep"):
        done = wabahook(database_url, command, REDIS_URL=f"redis//:{PASSWORD}@h")
        assert_one_line(
            done,
            "REDIS_URL is malformed: use redis://[:PASSWORD@]HOST:PORT/DB, rediss:// or unix://",
        )


def test_a_metrics_address_that_cannot_be_served_is_one_line(
    redis_url: str, database_url: str
) -> None:
    # The program itself: the worker serves metrics from a process of its own.
    args = ("worker", "--burst", "--metrics-port", "9", "--metrics-host", "no such host")
    done = run_installed(database_url, redis_url, *args)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot serve metrics on 'no such host' port 9: ")
    assert done.stderr.count("\n") == 1
