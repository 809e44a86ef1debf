"""sql/functions: each function of the schema in one file, as the migrations leave it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from processors.migrate import MigrationError, migrate
from receiver.queries import sql_dir
from tests.support.servers import create_database, drop_database, unique_name

# Everything that makes a function what it is, keyed by its signature: the whole
# definition (body, arguments, result, language, volatility, strictness, SECURITY
# DEFINER, SET settings), its rights, owner and comment. Aggregates have no
# pg_get_functiondef: their pg_aggregate row, with types and functions by name.
DEFINITIONS = """
SELECT p.oid::regprocedure::text AS signature,
       CASE WHEN p.prokind = 'a'
            THEN (to_jsonb(a) - 'aggfnoid' - 'aggtranstype' - 'aggmtranstype')::text
                 || a.aggtranstype::regtype::text || a.aggmtranstype::regtype::text
            ELSE pg_get_functiondef(p.oid) END AS definition,
       p.proacl::text AS rights,
       pg_get_userbyid(p.proowner) AS owner,
       obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc p
LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
WHERE p.pronamespace = 'wabahook'::regnamespace
"""
# A new pg_proc row version (xmin) or a new oid: the function was defined again.
VERSIONS = """
SELECT p.oid::regprocedure::text, p.oid::text || ':' || p.xmin::text
FROM pg_proc p WHERE p.pronamespace = 'wabahook'::regnamespace
"""

Definitions = dict[str, tuple[str | None, ...]]


def definitions(conn: psycopg.Connection[tuple[object, ...]]) -> Definitions:
    """{signature: (definition, rights, owner, comment)} of every function of the schema."""
    rows = conn.execute(DEFINITIONS).fetchall()
    return {str(row[0]): tuple(None if v is None else str(v) for v in row[1:]) for row in rows}


def versions(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, str]:
    """{signature: oid and row version} of every function of the schema."""
    return {str(sig): str(version) for sig, version in conn.execute(VERSIONS).fetchall()}


def defining_files(
    conn: psycopg.Connection[tuple[object, ...]], files: list[Path]
) -> dict[str, list[str]]:
    """{signature: the files that define it}, running `files` one by one in order."""
    found: dict[str, list[str]] = {}
    for path in files:
        before = versions(conn)
        # Its own subtransaction: a row written again in the same one keeps its xmin.
        with conn.transaction():
            conn.execute(path.read_bytes())
        for signature, version in versions(conn).items():
            if before.get(signature) != version:
                found.setdefault(signature, []).append(f"{path.parent.name}/{path.name}")
    return found


def drop_views(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Drop every view of the schema (and the functions of their row types)."""
    found = conn.execute("SELECT viewname FROM pg_views WHERE schemaname = 'wabahook'").fetchall()
    for (view,) in found:
        name = sql.Identifier("wabahook", str(view))
        conn.execute(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(name))


def problems(
    url: str, functions: Path, views: Path, changed: frozenset[str] = frozenset()
) -> list[str]:
    """How the files of `functions` and `views` fail to define the functions of `url`.

    Every function there must be defined by exactly one file, and running the files
    (as migrate does: views dropped first) must change no definition, except of the
    functions named in `changed`.
    """
    found = []
    with psycopg.connect(url) as conn:
        before = definitions(conn)
        drop_views(conn)
        files = [*sorted(functions.glob("*.sql")), *sorted(views.glob("*.sql"))]
        defined_by = defining_files(conn, files)
        after = definitions(conn)
    for signature in sorted(set(before) | set(after)):
        files_of = defined_by.get(signature, [])
        if len(files_of) != 1:
            found.append(f"{signature} is defined by {len(files_of)} files {files_of}")
        name = signature.partition("(")[0].removeprefix("wabahook.")
        differs = signature in before and before[signature] != after.get(signature)
        if differs and name not in changed:
            found.append(f"{signature} is defined otherwise by {files_of}")
    return found


@pytest.fixture(scope="module")
def migrations_only_db(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A template made by the migrations alone: what migrate has before it runs the files."""
    top = tmp_path_factory.mktemp("migrations-only")
    shutil.copytree(sql_dir() / "migrations", top / "migrations")
    (top / "views").mkdir()
    name = unique_name("wabahook_mig")
    # No `functions` folder beside the migrations, and no views: they may call functions
    # only the files define.
    migrate(create_database(pg_server, name), top / "migrations", top / "views")
    yield name
    drop_database(pg_server, name)


@pytest.fixture
def migrations_only_url(pg_server: str, migrations_only_db: str) -> Iterator[str]:
    name = unique_name("wabahook_m")
    yield create_database(pg_server, name, template=migrations_only_db)
    drop_database(pg_server, name)


def copy_functions(tmp_path: Path) -> Path:
    folder = tmp_path / "functions"
    shutil.copytree(sql_dir() / "functions", folder)
    return folder


def test_each_function_has_one_file_that_migrate_ran_last(database_url: str) -> None:
    """On a migrated database, running the files again changes nothing."""
    assert problems(database_url, sql_dir() / "functions", sql_dir() / "views") == []


# Functions whose file has changed them since the migrations stopped defining them (after
# 0020): their definitions differ from the migrations' on purpose.
# merge_delivery: 0022 (the recipient's user ids). refuse_raw_event_update: 0034 (an
# erasure, and a sender's retry of an erased delivery, may rewrite a body). replay_events:
# 0020 (since retention per channel, it locks what it queues: retention deletes none).
# fact_key (0002), history_chunk_key and management_key: STABLE, as their bodies are, so
# that the projection queries inline them.
CHANGED_SINCE_MIGRATIONS: frozenset[str] = frozenset(
    {
        "fact_key",
        "history_chunk_key",
        "management_key",
        "merge_delivery",
        "refuse_raw_event_update",
        "replay_events",
    }
)


def test_the_files_took_the_definitions_over_from_the_migrations(
    migrations_only_url: str,
) -> None:
    """Rights, owner, SECURITY DEFINER and settings included, as installs have them."""
    functions, views = sql_dir() / "functions", sql_dir() / "views"
    assert problems(migrations_only_url, functions, views, CHANGED_SINCE_MIGRATIONS) == []


def test_a_database_made_by_migrations_alone_is_migrated_to_a_fresh_ones_functions(
    migrations_only_url: str, database_url: str
) -> None:
    """An install from before the function files: its next migrate runs them."""
    migrate(migrations_only_url)
    with psycopg.connect(migrations_only_url) as upgraded, psycopg.connect(database_url) as fresh:
        assert definitions(upgraded) == definitions(fresh)


def test_a_function_left_only_in_a_migration_is_found(
    migrations_only_url: str, tmp_path: Path
) -> None:
    functions = copy_functions(tmp_path)
    (functions / "10_body_json.sql").unlink()
    views = sql_dir() / "views"
    assert problems(migrations_only_url, functions, views, CHANGED_SINCE_MIGRATIONS) == [
        "wabahook.body_json(bytea) is defined by 0 files []"
    ]


def test_a_file_that_differs_from_the_migrations_is_found(
    migrations_only_url: str, tmp_path: Path
) -> None:
    functions = copy_functions(tmp_path)
    path = functions / "10_store_event.sql"
    path.write_text(path.read_text().replace("SECURITY DEFINER ", ""))
    views = sql_dir() / "views"
    assert problems(migrations_only_url, functions, views, CHANGED_SINCE_MIGRATIONS) == [
        "wabahook.store_event(text,bytea,bytea,text,jsonb,inet,text) is defined otherwise"
        " by ['functions/10_store_event.sql']"
    ]


def test_a_function_defined_twice_is_found(migrations_only_url: str, tmp_path: Path) -> None:
    functions = copy_functions(tmp_path)
    shutil.copy(functions / "10_fact_key.sql", functions / "30_fact_key_again.sql")
    views = sql_dir() / "views"
    assert problems(migrations_only_url, functions, views, CHANGED_SINCE_MIGRATIONS) == [
        "wabahook.fact_key(timestamp with time zone,text) is defined by 2 files"
        " ['functions/10_fact_key.sql', 'functions/30_fact_key_again.sql']"
    ]


def test_an_upgraded_database_ends_with_the_same_functions(
    empty_database_url: str, database_url: str, tmp_path: Path
) -> None:
    """From a release before management events (0011): the files run after 0012-0020."""
    old = tmp_path / "migrations"
    old.mkdir()
    for path in sorted((sql_dir() / "migrations").glob("*.sql")):
        if int(path.name[:4]) <= 11:
            shutil.copy(path, old)
    (tmp_path / "views").mkdir()
    migrate(empty_database_url, old, tmp_path / "views")
    migrate(empty_database_url)
    with psycopg.connect(empty_database_url) as upgraded, psycopg.connect(database_url) as fresh:
        assert definitions(upgraded) == definitions(fresh)


PROBE = """
CREATE OR REPLACE FUNCTION wabahook.probe({arguments}) RETURNS {result}
LANGUAGE sql IMMUTABLE AS $$ SELECT a::{result} $$;
REVOKE ALL ON FUNCTION wabahook.probe({types}) FROM PUBLIC;
"""


def write_probe(folder: Path, arguments: str, types: str, result: str) -> None:
    """A function file of the test's own: wabahook.probe(`arguments`) returning `result`."""
    text = PROBE.format(arguments=arguments, types=types, result=result)
    (folder / "90_probe.sql").write_text(text)


def probes(url: str) -> list[tuple[str, str, str | None]]:
    """(signature, result type, rights) of each wabahook.probe function."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT oid::regprocedure::text, pg_get_function_result(oid), proacl::text"
            " FROM pg_proc WHERE oid::regprocedure::text LIKE 'wabahook.probe(%'"
        ).fetchall()
    return [(str(sig), str(result), None if acl is None else str(acl)) for sig, result, acl in rows]


def test_a_changed_argument_list_leaves_no_old_overload(database_url: str, tmp_path: Path) -> None:
    functions = copy_functions(tmp_path)
    write_probe(functions, "a integer", "integer", "integer")
    migrate(database_url, functions_folder=functions)
    write_probe(functions, "a integer, b integer DEFAULT 0", "integer, integer", "integer")
    migrate(database_url, functions_folder=functions)
    assert [sig for sig, _, _ in probes(database_url)] == ["wabahook.probe(integer,integer)"]


def test_a_changed_result_type_is_created_anew_with_its_rights(
    database_url: str, tmp_path: Path
) -> None:
    """Even with a view using it: the views are dropped first, and re-created after."""
    functions = copy_functions(tmp_path)
    views = tmp_path / "views"
    shutil.copytree(sql_dir() / "views", views)
    (views / "90_probe.sql").write_text(
        "CREATE VIEW wabahook.probe_view AS SELECT wabahook.probe(7) AS p;"
    )
    write_probe(functions, "a integer", "integer", "integer")
    migrate(database_url, views_folder=views, functions_folder=functions)
    write_probe(functions, "a integer", "integer", "text")
    migrate(database_url, views_folder=views, functions_folder=functions)
    ((_, result, rights),) = probes(database_url)
    assert result == "text"
    assert rights is not None
    assert not any(entry.startswith("=") for entry in rights.strip("{}").split(","))  # no PUBLIC
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT p FROM wabahook.probe_view").fetchone() == ("7",)


def test_a_function_a_table_uses_is_not_dropped_to_change_its_result(
    database_url: str, tmp_path: Path
) -> None:
    functions = copy_functions(tmp_path)
    write_probe(functions, "a integer", "integer", "integer")
    migrate(database_url, functions_folder=functions)
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE wabahook.probe_t (x integer DEFAULT wabahook.probe(1))")
    write_probe(functions, "a integer", "integer", "text")
    with pytest.raises(MigrationError, match="depend"):
        migrate(database_url, functions_folder=functions)
    assert [result for _, result, _ in probes(database_url)] == ["integer"]  # all rolled back
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM wabahook.raw_event_log").fetchone() == (0,)
