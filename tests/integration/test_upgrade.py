"""Upgrading a database that processed events before the operations projections existed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from processors.cli import main
from processors.migrate import migrate
from receiver.queries import sql_dir

# The last migration before the operations data: what a user upgrading from has.
BEFORE_OPERATIONS = 11
TEMPLATE_PAUSED = (
    b'{"object":"whatsapp_business_account","entry":[{"id":"1","time":1767225600,"changes":'
    b'[{"value":{"event":"PAUSED","message_template_id":7,"message_template_name":"sale",'
    b'"message_template_language":"en","reason":"NONE"},'
    b'"field":"message_template_status_update"}]}]}'
)


def test_migrate_says_which_new_tables_a_rebuild_fills_and_rebuild_fills_them(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "migrations"
    old.mkdir()
    for path in sorted((sql_dir() / "migrations").glob("*.sql")):
        if int(path.name[:4]) <= BEFORE_OPERATIONS:
            shutil.copy(path, old)
    (tmp_path / "views").mkdir()
    migrate(empty_database_url, folder=old, views_folder=tmp_path / "views")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO wabahook.channels (name) VALUES ('acme')")
        (event_id,) = conn.execute(
            "SELECT wabahook.store_event('acme', %s, sha256(%s), NULL, '{}', NULL, 'test')",
            [TEMPLATE_PAUSED, TEMPLATE_PAUSED],
        ).fetchone() or (None,)
        # As the drain of that version left it: processed, its template change only counted.
        conn.execute("DELETE FROM wabahook.event_queue")
        conn.execute(
            "INSERT INTO wabahook.event_results (raw_event_id, channel, received_at, state)"
            " SELECT id, channel, received_at, 'processed' FROM wabahook.raw_events"
        )
    assert event_id is not None
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    runner = CliRunner()

    upgraded = runner.invoke(main, ["migrate", "--json"], catch_exceptions=False)
    assert upgraded.exit_code == 0, upgraded.output
    needs = json.loads(upgraded.stdout)["needs_rebuild"]
    assert "template_event" in needs
    assert "inbound_message" not in needs  # it existed: events reached it when processed
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM wabahook.template_events").fetchone() == (0,)

    rebuilt = runner.invoke(main, ["rebuild"], catch_exceptions=False)
    assert rebuilt.exit_code == 0, rebuilt.output
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute(
            "SELECT template_id, event FROM wabahook.template_events"
        ).fetchall() == [("7", "PAUSED")]
    again = runner.invoke(main, ["migrate"], catch_exceptions=False)
    assert "rebuild" not in again.stdout  # nothing new: nothing to say


def test_migrate_of_a_fresh_database_suggests_nothing(empty_database_url: str) -> None:
    result = CliRunner(env={"DATABASE_URL": empty_database_url}).invoke(
        main, ["migrate", "--json"], catch_exceptions=False
    )
    assert json.loads(result.stdout)["needs_rebuild"] == []
