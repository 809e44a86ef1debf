"""Prometheus metrics: the receiver's (also across gunicorn workers) and a worker's."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from processors import channels
from processors.local.embedded import free_port
from receiver.db import Database
from tests.integration.conftest import wait_until
from tests.integration.helpers import basic
from tests.integration.processing_helpers import status_body, store

ROOT = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_receiver_counts_requests_by_channel_and_status(
    app: Flask, channel: channels.IssuedCredential
) -> None:
    client = app.test_client()
    auth = {"Authorization": basic("acme", channel.password)}
    for _ in range(3):
        client.post("/webhooks/acme", data=b"{}", headers=auth)
    client.post("/webhooks/acme", data=b"", headers=auth)
    client.post("/webhooks/made-up-name", data=b"{}", headers=auth)
    text = client.get("/metrics").get_data(as_text=True)
    found = samples(text)
    ok = ("wabahook_intake_requests_total", (("channel", "acme"), ("code", "200")))
    assert found[ok] == 3
    assert found[("wabahook_intake_requests_total", (("channel", "acme"), ("code", "400")))] == 1
    # Unauthenticated names never become label values.
    assert found[("wabahook_intake_requests_total", (("channel", "-"), ("code", "401")))] == 1
    assert "made-up-name" not in text
    assert found[("wabahook_intake_duration_seconds_count", ())] == 5


def test_metrics_add_up_across_gunicorn_workers(
    start_gunicorn: Callable[..., str],
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    tmp_path: Path,
) -> None:
    from tests.integration.test_gunicorn import request

    base = start_gunicorn(
        {**app_env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}, workers=3
    )
    auth = {"Authorization": basic("acme", channel.password)}
    for _ in range(12):
        assert request(base, "POST", "/webhooks/acme", b"{}", auth)[0] == 200
    found = samples(request(base, "GET", "/metrics")[2].decode())
    assert found[("wabahook_intake_requests_total", (("channel", "acme"), ("code", "200")))] == 12


def test_worker_serves_drain_and_queue_metrics(
    db,
    database_url: str,
    redis_url: str,
    queue_name: str,  # type: ignore[no-untyped-def]
) -> None:
    from processors.jobs import enqueue
    from receiver.config import Settings

    store(db, [status_body(f"m{i}", "sent", 1750000000) for i in range(20)] + [b"not json"])
    store(db, [status_body("m0", "sent", 1750000000)])  # a sender retry of the first body
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "WABAHOOK_QUEUE": queue_name, "WABAHOOK_METRICS_PORT": str(port)}  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "worker", "--quiet"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    return samples(r.read().decode())
            except OSError:
                return {}

        assert wait_until(lambda: ("wabahook_queued_events", ()) in scrape(), timeout=30)
        assert scrape()[("wabahook_queued_events", ())] == 22
        assert enqueue(Settings.from_env(env))
        processed = ("wabahook_events_total", (("outcome", "processed"),))
        assert wait_until(lambda: scrape().get(processed) == 21, timeout=30)
        found = scrape()
        assert found[("wabahook_events_total", (("outcome", "rejected"),))] == 1
        assert found[("wabahook_parse_rejections_total", (("reason", "invalid JSON"),))] == 1
        assert found[("wabahook_queued_events", ())] == 0
        assert found[("wabahook_drain_batch_size_count", ())] >= 1
        assert found[("wabahook_sender_retries_last_hour", ())] == 1
        # Operations gauges are served from the same port (no template notifications here).
        assert found[("wabahook_templates_paused", ())] == 0
        assert found[("wabahook_marketing_opt_outs_last_day", ())] == 0
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_scrapes_never_take_the_drains_connections(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prometheus_client import generate_latest

    from processors import jobs

    store(db, [status_body("m1", "sent", 1750000000)])
    monkeypatch.setenv("DATABASE_URL", database_url)
    for cached in (jobs.context, jobs.worker_metrics, jobs.scraped_registry):
        cached.cache_clear()
    _, drains = jobs.context()
    try:
        registry = jobs.scraped_registry()
        requests = drains.pool.get_stats().get("requests_num", 0)
        for _ in range(5):
            found = samples(generate_latest(registry).decode())
        assert found[("wabahook_queued_events", ())] == 1  # read from the database
        assert drains.pool.get_stats().get("requests_num", 0) == requests
    finally:
        drains.close()
        for cached in (jobs.context, jobs.worker_metrics, jobs.scraped_registry):
            cached.cache_clear()


@pytest.mark.parametrize("name", ["alerts.yml"])
def test_alert_rules_use_metrics_that_exist(name: str) -> None:
    import yaml

    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / name).read_text())
    expressions = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    for metric in ("wabahook_oldest_queued_event_age_seconds", "wabahook_intake_requests_total",
                   "wabahook_parse_rejections_total", "wabahook_refused_jobs_total",
                   "wabahook_relay_oldest_pending_age_seconds"):  # fmt: skip
        assert metric in expressions


def test_grafana_dashboard_charts_the_metrics() -> None:
    import json

    dashboard = json.loads((ROOT / "deploy" / "grafana" / "wabahook.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(dashboard["panels"]) >= 6
    charted = (
        "wabahook_intake_requests_total",
        "wabahook_intake_duration_seconds_bucket",
        "wabahook_queued_events",
        "wabahook_drain_batch_duration_seconds_bucket",
    )
    for metric in charted:
        assert any(metric in e for e in expressions)
