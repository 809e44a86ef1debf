"""`wabahook migrate`: from empty, idempotent, refusing edited files, partitions."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from processors.migrate import MigrationError, discover, migrate
from receiver.queries import sql_dir


def applied_versions(conninfo: str) -> dict[int, str]:
    """{version: checksum} of the migrations recorded in the database."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('wabahook.schema_migrations')").fetchone() == (None,):
            return {}
        rows = conn.execute("SELECT version, checksum FROM wabahook.schema_migrations").fetchall()
    return dict(rows)


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'wabahook'"
        ).fetchall()
    return {row[0] for row in rows}


def test_migrate_from_empty_creates_the_schema(empty_database_url: str) -> None:
    applied = migrate(empty_database_url)
    assert [m.path.name for m in applied] == [m.path.name for m in discover()]
    assert {"channels", "channel_credentials", "raw_events_default", "event_queue"} <= tables(
        empty_database_url
    )
    assert set(applied_versions(empty_database_url)) == {m.version for m in discover()}


def test_migrate_twice_is_a_no_op(empty_database_url: str) -> None:
    migrate(empty_database_url)
    before = tables(empty_database_url)
    assert migrate(empty_database_url) == []
    assert tables(empty_database_url) == before


def test_concurrent_migrations_apply_each_file_once(empty_database_url: str) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: migrate(empty_database_url), range(3)))
    assert sorted(len(r) for r in results) == [0, 0, len(discover())]


def copy_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(sql_dir() / "migrations", folder)
    return folder


def test_an_edited_applied_migration_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    folder = copy_migrations(tmp_path)
    migrate(empty_database_url, folder)
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="was edited after it was applied"):
        migrate(empty_database_url, folder)


def test_a_new_migration_is_applied_in_its_own_step(
    empty_database_url: str, tmp_path: Path
) -> None:
    folder = copy_migrations(tmp_path)
    migrate(empty_database_url, folder)
    (folder / "9001_extra.sql").write_text("CREATE TABLE wabahook.extra (id int);")
    assert [m.name for m in migrate(empty_database_url, folder)] == ["extra"]
    assert "extra" in tables(empty_database_url)


def test_a_failing_migration_leaves_nothing_half_done(
    empty_database_url: str, tmp_path: Path
) -> None:
    folder = copy_migrations(tmp_path)
    (folder / "9001_broken.sql").write_text(
        "CREATE TABLE wabahook.half (id int);\nSELECT no_such_function();"
    )
    with pytest.raises(MigrationError, match="no_such_function"):
        migrate(empty_database_url, folder)
    assert "half" not in tables(empty_database_url)
    assert 9001 not in applied_versions(empty_database_url)
    assert 1 in applied_versions(empty_database_url)


def test_badly_named_migration_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "1_x.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        discover(tmp_path)


def test_views_are_recreated_on_every_migrate(empty_database_url: str, tmp_path: Path) -> None:
    views = tmp_path / "views"
    views.mkdir()
    (views / "channel_names.sql").write_text(
        "CREATE VIEW wabahook.channel_names AS SELECT name FROM wabahook.channels;"
    )
    migrate(empty_database_url, views_folder=views)
    (views / "channel_names.sql").write_text(
        "CREATE VIEW wabahook.channel_names AS SELECT name, enabled FROM wabahook.channels;"
    )
    migrate(empty_database_url, views_folder=views)
    with psycopg.connect(empty_database_url) as conn:
        cursor = conn.execute("SELECT * FROM wabahook.channel_names")
        assert [c.name for c in cursor.description or []] == ["name", "enabled"]


def test_events_outside_prepared_months_are_kept_and_moved_into_their_partition(
    database_url: str,
) -> None:
    far = datetime.now(UTC).replace(day=15) + timedelta(days=31 * 7)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO wabahook.raw_events (channel, received_at, body, body_sha256, request_id)"
            " VALUES ('acme', %s, 'x', sha256('x'), 'r1')",
            [far],
        )
        in_default = "SELECT count(*) FROM wabahook.raw_events_default"
        assert conn.execute(in_default).fetchone() == (1,)
        created = conn.execute("SELECT wabahook.ensure_raw_event_partitions(8)").fetchone()
        assert created is not None
        assert created[0] >= 1
        assert conn.execute(in_default).fetchone() == (0,)
        partition = conn.execute(
            "SELECT tableoid::regclass::text FROM wabahook.raw_events WHERE request_id = 'r1'"
        ).fetchone()
    assert partition == (f"wabahook.raw_events_{far:%Y_%m}",)


def test_stored_events_cannot_be_updated(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO wabahook.raw_events (channel, body, body_sha256, request_id)"
            " VALUES ('acme', 'x', sha256('x'), 'r1')"
        )
        with pytest.raises(psycopg.errors.RestrictViolation, match="immutable"):
            conn.execute("UPDATE wabahook.raw_events SET body = 'y'")
        # Nor by naming an erasure that is not under way, nor beyond the body.
        erasure = conn.execute(
            "INSERT INTO wabahook.erasure (key_kind, pseudonym, completed_at)"
            " VALUES ('wa_id', 'erased:x', now()) RETURNING id"
        ).fetchone()
        assert erasure is not None
        for setting in ("999", str(erasure[0])):
            conn.execute("SELECT set_config('wabahook.erasing', %s, false)", [setting])
            with pytest.raises(psycopg.errors.RestrictViolation, match="immutable"):
                conn.execute("UPDATE wabahook.raw_events SET body = 'y', body_sha256 = sha256('y'),"
                             " redacted_at = now()")  # fmt: skip
        conn.execute("UPDATE wabahook.erasure SET completed_at = NULL")
        with pytest.raises(psycopg.errors.RestrictViolation, match="immutable"):
            conn.execute("UPDATE wabahook.raw_events SET channel = 'other', redacted_at = now()")
        with pytest.raises(psycopg.errors.RestrictViolation, match="immutable"):  # digest lies
            conn.execute("UPDATE wabahook.raw_events SET body = 'y', redacted_at = now()")
        assert conn.execute("SELECT body FROM wabahook.raw_events").fetchone() == (b"x",)
        conn.execute(  # the erasure under way may rewrite the body, its digest alone
            "UPDATE wabahook.raw_events SET body = 'y', body_sha256 = sha256('y'),"
            " redacted_at = now()"
        )
        assert conn.execute("SELECT body FROM wabahook.raw_events").fetchone() == (b"y",)


def test_forward_destinations_lose_stored_credentials(
    empty_database_url: str, tmp_path: Path
) -> None:
    """0010: rows an earlier `forward --to https://user:pw@…` stored keep no password."""
    folder = copy_migrations(tmp_path)
    later = [p for p in folder.glob("*.sql") if p.name >= "0010"]
    for path in later:
        path.unlink()
    (tmp_path / "views").mkdir()  # today's views read tables that version did not have yet
    migrate(empty_database_url, folder, views_folder=tmp_path / "views")
    rows = [
        # destination, event, delivered
        ("https://u:pw@a.example/in", 1, True),
        ("https://a.example/in", 1, False),  # the same place, used without credentials
        ("https://u:pw@a.example/in", 2, False),
        ("https://u%40x:p@w@b.example:8443/in?q=@", 3, True),
        ("https://c.example/in?to=x@y", 4, True),  # an @ after the host stays
    ]
    with psycopg.connect(empty_database_url) as conn:
        for destination, event, delivered in rows:
            conn.execute(
                "INSERT INTO wabahook.forward_deliveries"
                " (destination, raw_event_id, status, attempts, delivered_at)"
                " VALUES (%s, %s, %s, 1, CASE WHEN %s THEN now() END)",
                [destination, event, 200 if delivered else 500, delivered],
            )
    migrate(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        found = conn.execute(
            "SELECT destination, raw_event_id, status, attempts, delivered_at IS NOT NULL"
            " FROM wabahook.forward_deliveries ORDER BY 1, 2"
        ).fetchall()
    assert found == [
        ("https://a.example/in", 1, 200, 2, True),
        ("https://a.example/in", 2, 500, 1, False),
        ("https://b.example:8443/in?q=@", 3, 200, 1, True),
        ("https://c.example/in?to=x@y", 4, 200, 1, True),
    ]


def test_partition_bounds_ignore_the_callers_time_settings(database_url: str) -> None:
    """0011: a session's TimeZone and DateStyle cannot shift a month's bounds."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'Asia/Kolkata'")
        conn.execute("SET DateStyle = 'SQL, DMY'")
        made = conn.execute("SELECT wabahook.create_raw_event_partition('2099-05-17')").fetchone()
        assert made == (True,)
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET DateStyle = 'ISO, YMD'")
        bounds = conn.execute(
            "SELECT pg_get_expr(relpartbound, oid) FROM pg_class"
            " WHERE oid = 'wabahook.raw_events_2099_05'::regclass"
        ).fetchone()
        conn.execute("DROP TABLE wabahook.raw_events_2099_05")
    assert bounds == ("FOR VALUES FROM ('2099-05-01 00:00:00+00') TO ('2099-06-01 00:00:00+00')",)


def test_wabahook_sessions_look_names_up_in_pg_catalog_only(database_url: str) -> None:
    """No function or operator another login put in `public` can stand in for a built-in."""
    from receiver.config import Secret
    from receiver.db import Database

    db = Database(Secret(database_url), application_name="wabahook-test", timeout=10)
    try:
        with db.connection() as conn:
            row = conn.execute("SHOW search_path").fetchone()
    finally:
        db.close()
    assert row == {"search_path": "pg_catalog,pg_temp"}
