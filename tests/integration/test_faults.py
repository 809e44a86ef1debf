"""Intake when PostgreSQL or Redis fail: 503 fast without PostgreSQL, 200 without Redis."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from rq.serializers import JSONSerializer

from processors import channels
from receiver.nudge import GATE_MILLISECONDS, drain_job_id
from tests.integration.helpers import basic, count
from tests.support.proxy import TcpProxy, closed_port
from tests.support.servers import own_valkey, server_port, with_dbname

pytestmark = pytest.mark.slow  # servers cut off under gunicorn

PATH = "/webhooks/acme"
BODY = b'{"statuses":[{"id":"gBGG1","status":"sent","timestamp":"1700000000"}]}'
# 360dialog gives up after 5 s; every failure must be answered well before that.
SENDER_PATIENCE = 4.5

MakeApp = Callable[[dict[str, str]], Flask]


def post(client: FlaskClient, channel: channels.IssuedCredential):
    started = time.monotonic()
    response = client.post(
        PATH, data=BODY, headers={"Authorization": basic("acme", channel.password)}
    )
    response.close()  # runs the after-response work (the Redis nudge), as a server does
    return response, time.monotonic() - started


@pytest.fixture
def pg_proxy(database_url: str) -> TcpProxy:
    with TcpProxy(server_port(database_url)) as proxy:
        yield proxy


def proxied_url(database_url: str, proxy: TcpProxy) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(database_url)
    return make_conninfo(
        with_dbname(database_url, str(params["dbname"])), host="127.0.0.1", port=proxy.port
    )


def test_postgres_unreachable_answers_503_with_retry_after(
    make_app: MakeApp, app_env: dict[str, str], channel: channels.IssuedCredential
) -> None:
    port = closed_port()
    app = make_app({**app_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/nowhere"})
    response, elapsed = post(app.test_client(), channel)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert elapsed < SENDER_PATIENCE
    assert app.test_client().get("/readyz").status_code == 503
    assert app.test_client().get("/healthz").status_code == 200


def test_postgres_black_hole_answers_503_instead_of_hanging(
    make_app: MakeApp, app_env: dict[str, str], channel: channels.IssuedCredential
) -> None:
    with TcpProxy(None) as hole:
        app = make_app(
            {**app_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{hole.port}/x"}
        )
        response, elapsed = post(app.test_client(), channel)
    assert response.status_code == 503
    assert elapsed < SENDER_PATIENCE


def test_postgres_that_stalls_mid_connection_answers_503_then_recovers(
    make_app: MakeApp,
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    database_url: str,
    pg_proxy: TcpProxy,
) -> None:
    env = {
        **app_env,
        "DATABASE_URL": proxied_url(database_url, pg_proxy),
        "WABAHOOK_CREDENTIAL_TTL": "3600",
    }
    client = make_app(env).test_client()
    assert post(client, channel)[0].status_code == 200  # pool connected, credentials cached
    pg_proxy.stall()
    response, elapsed = post(client, channel)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert elapsed < SENDER_PATIENCE
    pg_proxy.resume()
    assert post(client, channel)[0].status_code == 200
    # Both acknowledged deliveries are stored. The stalled statement had already left
    # the receiver: the resumed network may still carry it to PostgreSQL, so the 503'd
    # delivery may land late (at most once); the sender's retry is then a duplicate
    # delivery of identical bytes, never a loss.
    assert count(database_url, "raw_events") in (2, 3)


def test_postgres_restart_drops_connections_and_intake_recovers(
    make_app: MakeApp,
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    database_url: str,
    pg_proxy: TcpProxy,
) -> None:
    client = make_app(
        {**app_env, "DATABASE_URL": proxied_url(database_url, pg_proxy)}
    ).test_client()
    assert post(client, channel)[0].status_code == 200
    pg_proxy.drop_connections()
    statuses = [post(client, channel)[0].status_code for _ in range(3)]
    # The broken pooled connection may cost one 503 (the sender retries it); never a 200 unstored.
    assert statuses[-1] == 200
    assert set(statuses) <= {200, 503}
    assert count(database_url, "raw_events") == 1 + statuses.count(200)


def test_redis_nudge_enqueues_one_drain_job_for_a_burst(
    client: FlaskClient, channel: channels.IssuedCredential, redis_url: str, queue_name: str
) -> None:
    for _ in range(5):
        assert post(client, channel)[0].status_code == 200
    connection = redis.Redis.from_url(redis_url)
    try:
        queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
        assert queue.job_ids == [f"wabahook-{queue_name}-drain-0"]
        assert queue.jobs[0].func_name == "processors.jobs.drain"
    finally:
        connection.close()


def test_redis_stopped_still_answers_200_and_stores(
    make_app: MakeApp,
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    database_url: str,
) -> None:
    with own_valkey() as valkey_url:
        app = make_app({**app_env, "REDIS_URL": valkey_url})
        client = app.test_client()
        assert post(client, channel)[0].status_code == 200
        nudger = app.extensions["wabahook"].nudger
        with redis.Redis.from_url(valkey_url) as valkey:  # the drain job is queued
            assert valkey.exists(f"rq:job:{drain_job_id(app_env['WABAHOOK_QUEUE'])}") == 1
    # The private Valkey is stopped now; wait out this process's own nudge gate.
    time.sleep(GATE_MILLISECONDS / 1000 + 0.1)
    response, elapsed = post(client, channel)
    assert response.status_code == 200
    assert elapsed < SENDER_PATIENCE
    assert nudger.failures == 1
    assert count(database_url, "raw_events") == 2
    assert count(database_url, "event_queue") == 2


def test_redis_hung_costs_at_most_one_timeout_then_is_left_alone(
    make_app: MakeApp,
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    database_url: str,
) -> None:
    with TcpProxy(None) as hung_redis:
        app = make_app({**app_env, "REDIS_URL": f"redis://127.0.0.1:{hung_redis.port}/0"})
        client = app.test_client()
        statuses = [post(client, channel)[0].status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert app.extensions["wabahook"].nudger.failures == 1  # backed off after the first timeout
    assert count(database_url, "raw_events") == 3


def test_without_redis_configured_intake_still_works(
    make_app: MakeApp,
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    database_url: str,
) -> None:
    env = {k: v for k, v in app_env.items() if k != "REDIS_URL"}
    app = make_app(env)
    assert post(app.test_client(), channel)[0].status_code == 200
    assert count(database_url, "event_queue") == 1


def test_a_foreign_key_where_the_gate_lives_never_silences_the_nudges(
    client: FlaskClient, channel: channels.IssuedCredential, redis_url: str, queue_name: str
) -> None:
    """Redis contents are input too: a key without an expiry at the gate's name (another
    type, left by someone) would hold a plain SET NX gate shut for good."""
    connection = redis.Redis.from_url(redis_url)
    try:
        connection.rpush(f"wabahook:{queue_name}:nudge", "someone else's")
        assert post(client, channel)[0].status_code == 200
        queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
        assert queue.job_ids == [f"wabahook-{queue_name}-drain-0"]
    finally:
        connection.close()
