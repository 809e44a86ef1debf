"""What the relay sent where (views and `wabahook deliveries`), and sending again."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from processors import channels
from processors.cli import main
from processors.relay import destinations
from processors.relay.destinations import NewDestination
from receiver.db import Database
from receiver.sealing import Sealer
from tests.integration.test_relay import KEY, SECRET, relay_until_idle, rows, store
from tests.support.fake_http import Answer, FakeServer, Recorded

Cli = Callable[..., Result]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WABAHOOK_SECRET_KEY", KEY)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_dead_deliveries_are_listed_counted_and_sent_again(db: Database, cli: Cli) -> None:
    from receiver.config import Secret

    sealer = Sealer(Secret(KEY))
    channels.add_channel(db, "acme")
    refusing = True

    def answer(request: Recorded) -> Answer:
        return (400, {}, b"no such tenant") if refusing else (200, {}, b"")

    with FakeServer(answer) as app:
        destinations.add(db, sealer, NewDestination("crm", app.url), SECRET)
        ids = [store(db, "acme", b"{}"), store(db, "acme", b"[]")]
        relay_until_idle(db, sealer)
        listed = cli("deliveries", "list", "--state", "dead", "--json")
        assert listed.exit_code == 0, listed.output
        dead = json.loads(listed.output)
        assert sorted(d["raw_event_id"] for d in dead) == ids
        assert {(d["last_status"], d["last_error"], d["attempts"]) for d in dead} == {
            (400, "HTTP 400: no such tenant", 1)
        }
        assert rows(db, "SELECT destination, pending, delivered_last_hour, dead_last_hour,"
                        " success_rate FROM wabahook.destinations_health") == [
            ("crm", 0, 0, 2, 0)]  # fmt: skip
        refusing = False
        retried = cli("deliveries", "retry", "--dead", "--destination", "crm")
        assert retried.output.startswith("2 deliveries due again now")
        relay_until_idle(db, sealer)
    done = rows(db, "SELECT raw_event_id, state, attempts, latency_ms IS NOT NULL"
                    " FROM wabahook.destination_deliveries ORDER BY 1")  # fmt: skip
    assert done == [(ids[0], "delivered", 2, True), (ids[1], "delivered", 2, True)]
    health = rows(db, "SELECT pending, delivered_last_hour, dead_last_hour, success_rate,"
                      " p50_latency_ms >= 0, p99_latency_ms >= p50_latency_ms"
                      " FROM wabahook.destinations_health")  # fmt: skip
    assert health == [(0, 2, 0, 1, True, True)]
    table = cli("deliveries", "list", "--destination", "crm")
    assert table.exit_code == 0
    assert table.output.count("delivered") == 2
    stats = json.loads(cli("stats", "--json").output)["destinations"]
    assert [(d["destination"], d["pending"], d["delivered_last_hour"], d["dead_last_hour"])
            for d in stats] == [("crm", 0, 2, 0)]  # fmt: skip
    assert stats[0]["success_rate"] == 1
    text = cli("stats").output
    assert "relay (all channels)" in text
    assert text.rstrip().splitlines()[-1].split()[:5] == ["crm", "0", "-", "2", "0"]


def test_retry_takes_ids_or_dead_and_names_what_is_wrong(cli: Cli) -> None:
    neither = cli("deliveries", "retry")
    assert neither.exit_code == 2
    assert "give event ids or --dead" in neither.stderr
    both = cli("deliveries", "retry", "5", "--dead")
    assert both.exit_code == 2
    unknown = cli("deliveries", "retry", "--dead", "--destination", "ghost")
    assert (unknown.exit_code, unknown.stderr) == (1, "Error: no destination named 'ghost'\n")
    nothing = cli("deliveries", "retry", "7")
    assert nothing.output.startswith("0 deliveries due again now")
    assert cli("deliveries", "list").output == "No deliveries match.\n"
    assert cli("deliveries", "list", "--state", "lost").exit_code == 2


def test_the_relay_backlog_and_outcomes_are_metrics(db: Database) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from processors.metrics import RelayCollector
    from receiver.config import Secret
    from tests.integration.test_metrics import samples

    sealer = Sealer(Secret(KEY))
    channels.add_channel(db, "acme")
    with FakeServer(lambda request: (404, {}, b"")) as app:
        destinations.add(db, sealer, NewDestination("gone", app.url), SECRET)
        destinations.add(db, sealer, NewDestination("later", app.url), SECRET)
        destinations.set_paused(db, "later", True)
        store(db, "acme", b"{}")
        relay_until_idle(db, sealer)
    registry = CollectorRegistry()
    registry.register(RelayCollector(db))
    found = samples(generate_latest(registry).decode())
    assert found[("wabahook_relay_deliveries_total",
                  (("destination", "gone"), ("outcome", "dead")))] == 1  # fmt: skip
    assert found[("wabahook_relay_pending", (("destination", "gone"),))] == 0
    assert found[("wabahook_relay_pending", (("destination", "later"),))] == 1
    age = found[("wabahook_relay_oldest_pending_age_seconds", (("destination", "later"),))]
    assert age > 0
