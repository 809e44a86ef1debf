"""The database watchdog severs an overrunning connection, and only that connection."""

from __future__ import annotations

import time

import psycopg

from receiver.db import Watchdog


def test_a_connection_closed_while_watched_is_not_severed_by_its_old_number(
    database_url: str,
) -> None:
    # A pool closed under a running block frees the connection's descriptor while the
    # block is still watched; the next connection opened takes the same number.
    watchdog = Watchdog()
    first = psycopg.connect(database_url, autocommit=True)
    with watchdog.guard(first, time.monotonic() + 0.2):
        number = first.fileno()
        first.close()
        with psycopg.connect(database_url, autocommit=True) as second:
            assert second.fileno() == number  # the case this test is about
            time.sleep(0.5)  # the watched block's deadline passes
            assert second.execute("SELECT 1").fetchone() == (1,)


def test_an_overrunning_connection_is_severed(database_url: str) -> None:
    watchdog = Watchdog()
    conn = psycopg.connect(database_url, autocommit=True)
    with conn, watchdog.guard(conn, time.monotonic() + 0.2):
        try:
            conn.execute("SELECT pg_sleep(5)")
        except psycopg.OperationalError:
            severed = True
        else:
            severed = False
    assert severed
