"""A test database per test process, emptied between tests instead of copied for each one.

Copying the template for every test cost about 0.5 s under parallel load (CREATE DATABASE
checkpoints or writes the whole copy to the WAL); emptying the few tables a test wrote costs
a few milliseconds. A test that changed more than rows (a dropped partition, an altered
function or grant, edited reference data) leaves a database whose fingerprint differs from
the template's, and that one is dropped and copied afresh.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.support.servers import create_database, drop_database, with_dbname

# Whether anything besides rows changed: every DDL statement (and GRANT, ALTER DATABASE SET)
# writes new versions of catalog rows, each with the id of its transaction (xmin), which
# VACUUM and ANALYZE leave as they are. So the count and sum of those ids stand for the
# schema, and a few milliseconds of summing replace deparsing every object. Temporary
# objects (the drain stages rows in temporary tables) come and go with their sessions.
FINGERPRINT = """
WITH temporary AS (
    SELECT oid FROM pg_namespace WHERE nspname ~ '^pg_(toast_)?temp_'
), relation AS (
    SELECT oid, xmin FROM pg_class WHERE relnamespace NOT IN (SELECT oid FROM temporary)
), version(catalog, xid) AS (
    SELECT 'namespace', xmin FROM pg_namespace WHERE oid NOT IN (SELECT oid FROM temporary)
    UNION ALL SELECT 'class', xmin FROM relation
    UNION ALL SELECT 'attribute', a.xmin FROM pg_attribute a JOIN relation r ON r.oid = attrelid
    UNION ALL SELECT 'default', d.xmin FROM pg_attrdef d JOIN relation r ON r.oid = adrelid
    UNION ALL SELECT 'index', i.xmin FROM pg_index i JOIN relation r ON r.oid = indrelid
    UNION ALL SELECT 'trigger', t.xmin FROM pg_trigger t JOIN relation r ON r.oid = tgrelid
    UNION ALL SELECT 'rule', w.xmin FROM pg_rewrite w JOIN relation r ON r.oid = ev_class
    UNION ALL SELECT 'policy', p.xmin FROM pg_policy p JOIN relation r ON r.oid = polrelid
    UNION ALL SELECT 'constraint', xmin FROM pg_constraint
    WHERE connamespace NOT IN (SELECT oid FROM temporary)
    UNION ALL SELECT 'type', xmin FROM pg_type
    WHERE typnamespace NOT IN (SELECT oid FROM temporary)
    UNION ALL SELECT 'function', xmin FROM pg_proc
    UNION ALL SELECT 'extension', xmin FROM pg_extension
    UNION ALL SELECT 'event trigger', xmin FROM pg_event_trigger
    UNION ALL SELECT 'default acl', xmin FROM pg_default_acl
    UNION ALL SELECT 'database', d.xmin FROM pg_database d WHERE datname = current_database()
    UNION ALL SELECT 'settings', s.xmin FROM pg_db_role_setting s
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
)
SELECT catalog, count(*), sum(xid::text::bigint) FROM version GROUP BY catalog ORDER BY catalog
"""

TABLES = """
SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\\_%'
"""


def table_digest(conn: psycopg.Connection, table: str) -> str:
    """A digest of every row of `table`, in a stable order."""
    query = sql.SQL("SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                    " FROM {} t").format(sql.SQL(table))  # fmt: skip
    row = conn.execute(query).fetchone()
    return str(row[0]) if row else ""


class TestDatabase:
    """One database of a test process: handed to each test empty, as the template left it."""

    def __init__(self, server_url: str, template: str, name: str) -> None:
        self.server_url, self.template, self.name = server_url, template, name
        self.url = with_dbname(server_url, name)
        self._conn: psycopg.Connection | None = None
        with psycopg.connect(with_dbname(server_url, template), autocommit=True) as conn:
            self.tables = [row[0] for row in conn.execute(TABLES)]
            self.filled = [t for t in self.tables if not self._empty(conn, t)]
        self.emptied = [t for t in self.tables if t not in self.filled]
        self._copy()

    def _copy(self) -> None:
        """Copy the template, and take the fingerprint every test must leave."""
        create_database(self.server_url, self.name, template=self.template)
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(
                    sql.Identifier(self.name)
                )
            )
        self.expected = self._fingerprint(self._connection(), self.filled)

    @staticmethod
    def _empty(conn: psycopg.Connection, table: str) -> bool:
        query = sql.SQL("SELECT NOT EXISTS (SELECT FROM {})").format(sql.SQL(table))
        row = conn.execute(query).fetchone()
        return bool(row and row[0])

    @staticmethod
    def _fingerprint(conn: psycopg.Connection, filled: list[str]) -> str:
        catalogs = [str(row) for row in conn.execute(FINGERPRINT)]
        return " ".join(catalogs + [table_digest(conn, t) for t in filled])

    def fresh(self) -> str:
        """The database's URL, emptied (or copied afresh when a test changed more)."""
        conn = self._connection()
        try:
            self._disconnect_others(conn)
        except psycopg.OperationalError:  # a test ended this session too
            conn = self._connection()
            self._disconnect_others(conn)
        if self._fingerprint(conn, self.filled) == self.expected:
            self._empty_tables(conn)
            return self.url
        conn.close()
        drop_database(self.server_url, self.name)
        self._copy()
        return self.url

    def _connection(self) -> psycopg.Connection:
        """The one session this process keeps on the database, between tests."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            # Named: tests that count sessions count those of wabahook's programs.
            url = make_conninfo(self.url, application_name="wabahook-test-reset")
            self._conn = psycopg.connect(url, autocommit=True)
        return self._conn

    def _empty_tables(self, conn: psycopg.Connection) -> None:
        # DELETE, not TRUNCATE: a few rows go in about a millisecond, where TRUNCATE makes
        # new files for every table. Foreign keys are not checked meanwhile (the replica
        # role), so the order does not matter: every table ends empty.
        deletes = [sql.SQL("DELETE FROM {}").format(sql.SQL(t)) for t in self.emptied]
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute(sql.SQL("; ").join(deletes))
            # Ids start again at 1, as in a copy of the template.
            conn.execute(
                "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass,"
                " start_value, false) FROM pg_sequences WHERE last_value IS NOT NULL"
            )

    def _disconnect_others(self, conn: psycopg.Connection) -> None:
        """End every session a test left on the database (a pool, a killed process's)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            if not row or row[0] == 0:
                return
            time.sleep(0.01)

    def drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        drop_database(self.server_url, self.name)
