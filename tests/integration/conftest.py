"""Real PostgreSQL and Redis: a template database per session, emptied again for each test."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
import redis
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from processors import channels
from processors.cli import main
from processors.local.embedded import free_port
from processors.local.local_files import terminate
from processors.migrate import migrate
from processors.serving import gunicorn_command
from receiver import create_app
from receiver.config import Secret
from receiver.db import Database
from tests.support.databases import TestDatabase
from tests.support.servers import (
    create_database,
    drop_database,
    postgres_server,
    redis_server,
    unique_name,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parents[2]


class _Recorded(logging.Handler):
    """Keeps what a logger said, for a test to check."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def people_joined() -> Iterator[list[logging.LogRecord]]:
    """A join of identity links that fails only logs (the links wait for the next drain),
    so every test checks that none failed: a bug there must not pass quietly. A test that
    makes a join fail takes what was logged, and empties it."""
    recorded = _Recorded()
    logger = logging.getLogger("wabahook.people")
    logger.addHandler(recorded)
    yield recorded.records
    logger.removeHandler(recorded)
    assert not recorded.records, [
        r.getMessage() + repr(r.__dict__.get("error")) for r in recorded.records
    ]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def template_db(pg_server: str) -> Iterator[str]:
    name = unique_name("wabahook_tpl")
    url = create_database(pg_server, name)
    migrate(url)
    yield name
    drop_database(pg_server, name)


@pytest.fixture(scope="session")
def test_database(pg_server: str, template_db: str) -> Iterator[TestDatabase]:
    database = TestDatabase(pg_server, template_db, unique_name("wabahook_t"))
    yield database
    database.drop()


@pytest.fixture
def database_url(test_database: TestDatabase) -> str:
    """This test's database: the template's schema and reference data, no other row."""
    return test_database.fresh()


@pytest.fixture
def empty_database_url(pg_server: str) -> Iterator[str]:
    name = unique_name("wabahook_e")
    url = create_database(pg_server, name)
    yield url
    drop_database(pg_server, name)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def queue_name(redis_url: str) -> Iterator[str]:
    """A queue name (and so a Redis key prefix) of this test alone; its keys go afterwards."""
    name = unique_name("wbtest").replace("_", "-")
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"*{name}*"))
        if keys:
            client.delete(*keys)
        client.srem("rq:queues", f"rq:queue:{name}")
        workers = [w for w in client.smembers("rq:workers") if name.encode() in w]
        if workers:
            client.srem("rq:workers", *workers)
    finally:
        client.close()


@pytest.fixture
def app_env(database_url: str, redis_url: str, queue_name: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WABAHOOK_QUEUE": queue_name,
        "WABAHOOK_CREDENTIAL_TTL": "0",
        "WABAHOOK_LOG_FORMAT": "json",
        "WABAHOOK_MAX_BODY_BYTES": "4096",
    }


@pytest.fixture
def make_app() -> Iterator[Callable[[dict[str, str]], Flask]]:
    apps: list[Flask] = []

    def make(env: dict[str, str]) -> Flask:
        app = create_app(env)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["wabahook"].db.close()


@pytest.fixture
def app(make_app: Callable[[dict[str, str]], Flask], app_env: dict[str, str]) -> Flask:
    return make_app(app_env)


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`wabahook` commands against this test's database (files needing more define their own)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(Secret(database_url), application_name="wabahook-test", timeout=10)
    yield database
    database.close()


@pytest.fixture
def channel(db: Database) -> channels.IssuedCredential:
    return channels.add_channel(db, "acme", "+4915100000000")


@pytest.fixture
def start_gunicorn(queue_name: str) -> Iterator[Callable[..., str]]:
    """Start the real receiver under gunicorn; returns its base URL.

    Depends on `queue_name` so that the test's Redis keys are removed only after
    gunicorn has stopped (a last nudge may still be on its way).
    """
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []

    def start(env: dict[str, str], workers: int = 2, stderr: Path | None = None) -> str:
        port = free_port()
        # A file, not a pipe: a full pipe would block the workers. Closed at teardown.
        log = open(stderr, "w+b") if stderr else tempfile.TemporaryFile()  # noqa: SIM115
        process = subprocess.Popen(
            gunicorn_command(),
            env={
                # Only what the test passes: never the session's own DATABASE_URL/REDIS_URL.
                **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
                **env,
                "WABAHOOK_BIND": f"127.0.0.1:{port}",
                "WABAHOOK_WORKERS": str(workers),
            },
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        logs.append(log)
        processes.append(process)
        if not wait_for_port("127.0.0.1", port, timeout=30):
            process.kill()
            log.seek(0)
            raise RuntimeError(f"gunicorn did not start: {log.read()[-2000:]!r}")
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        terminate(process)
    for log in logs:
        log.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def start_worker(
    env: dict[str, str], processes: list[subprocess.Popen[bytes]], *extra: str
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "worker", "--quiet", *extra],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes.append(process)
    return process
