"""`wabahook forward` against a real local HTTP server that fails some requests first."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from processors.cli import main
from receiver.db import Database
from tests.corpus import CASES
from tests.support.fake_http import Answer, FakeServer, Recorded


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def stored(db: Database, database_url: str) -> list[tuple[int, bytes, str | None]]:
    import psycopg

    bodies = [case.body for case in CASES[:12]]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for i, body in enumerate(bodies):
            conn.execute(
                "INSERT INTO wabahook.raw_events"
                " (channel, body, body_sha256, content_type, request_id)"
                " VALUES (%s, %s, sha256(%s), %s, 'r')",
                ["acme" if i % 4 else "beta", body, body, "application/json" if i % 3 else None],
            )
        rows = conn.execute(
            "SELECT id, body, content_type FROM wabahook.raw_events ORDER BY id"
        ).fetchall()
    return [(row[0], bytes(row[1]), row[2]) for row in rows]


def flaky(failures_per_event: int) -> Callable[[Recorded], Answer]:
    """503 for the first tries of every event, then 200."""
    seen: Counter[str] = Counter()

    def answer(request: Recorded) -> Answer:
        event = request.headers["x-wabahook-event-id"]
        seen[event] += 1
        if seen[event] <= failures_per_event:
            return 503, {"Retry-After": "0"}, b"busy"
        return 200, {}, b"ok"

    return answer


def test_exact_bytes_and_content_type_arrive_despite_failures_then_resume(
    cli: Callable[..., Result], stored: list[tuple[int, bytes, str | None]]
) -> None:
    with FakeServer(flaky(2)) as server:
        result = cli("forward", "--to", f"{server.url}/hook", "--rate", "1000", "--header",
                     "Authorization: Bearer t0ken", "--json")  # fmt: skip
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert (report["delivered"], report["failed"]) == (12, 0)
        assert {r["attempts"] for r in report["results"]} == {3}
        # Every attempt of an event carries the same bytes; keep the last one per event.
        delivered = {r.headers["x-wabahook-event-id"]: r for r in server.requests}
        for raw_event_id, body, content_type in stored:
            request = delivered[str(raw_event_id)]
            assert request.body == body
            assert request.headers.get("content-type") == content_type
            assert request.headers["authorization"] == "Bearer t0ken"
            assert request.path == "/hook"
        sent = len(server.requests)
        again = cli("forward", "--to", f"{server.url}/hook", "--rate", "1000")
        assert again.stdout.strip().endswith(f"0 delivered, 0 failed, to {server.url}/hook")
        assert len(server.requests) == sent  # nothing acknowledged is sent twice
        forced = cli("forward", "--to", f"{server.url}/hook", "--rate", "1000", "--again",
                     "--channel", "beta", "--json")  # fmt: skip
        assert json.loads(forced.stdout)["delivered"] == 3


def test_an_interrupted_forward_continues_where_it_stopped(
    cli: Callable[..., Result], stored: list[tuple[int, bytes, str | None]]
) -> None:
    down_after = 5

    def answer(request: Recorded) -> Answer:
        ok = int(request.headers["x-wabahook-event-id"]) <= down_after
        return (200, {}, b"ok") if ok else (400, {}, b"not today")

    with FakeServer(answer) as server:
        first = cli("forward", "--to", server.url, "--rate", "1000", "--json")
        assert first.exit_code == 1
        report = json.loads(first.stdout)
        assert (report["delivered"], report["failed"]) == (5, 7)
        assert {r["attempts"] for r in report["results"] if r["outcome"] == "failed"} == {1}
        assert "HTTP 400: not today" in report["results"][-1]["error"]
        server.answer = lambda request: (200, {}, b"ok")
        second = json.loads(cli("forward", "--to", server.url, "--rate", "1000", "--json").stdout)
        assert [r["raw_event_id"] for r in second["results"]] == [6, 7, 8, 9, 10, 11, 12]


def test_rate_is_respected(
    cli: Callable[..., Result], stored: list[tuple[int, bytes, str | None]]
) -> None:
    with FakeServer(lambda request: (200, {}, b"ok")) as server:
        assert cli("forward", "--to", server.url, "--rate", "20", "--ids", "1-6").exit_code == 0
        times = [r.at for r in server.requests]
    assert len(times) == 6
    # Six requests at 20/s cannot take less than five intervals of 50 ms.
    assert times[-1] - times[0] >= 5 * 0.05 * 0.9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "ftp://x"], "--to must be an http:// or https:// URL"),
        (["--to", "http://x", "--header", "no colon"], "a header must look like 'Name: value'"),
    ],
)
def test_bad_forward_arguments(cli: Callable[..., Result], args: list[str], message: str) -> None:
    result = cli("forward", *args)
    assert result.exit_code == 1
    assert message in result.stderr
