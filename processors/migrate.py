"""Forward-only migrations from `sql/migrations/`, then functions and views re-created.

The files of `sql/functions/` and `sql/views/` hold the current definitions; every
migrate runs them again after the pending migrations (processors/schema_objects.py;
docs/design/sql-layout.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from processors.pipeline.projections import projection_tables
from processors.schema_objects import recreate_functions_and_views
from receiver.config import ROLE_COMPONENTS, Secret
from receiver.db import connect, first_line
from receiver.errors import WabahookError
from receiver.queries import query, sql_dir

MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# pg_advisory_lock key: ASCII "wabahook" as a 64-bit integer.
LOCK_KEY = int.from_bytes(b"wabahook", "big") & 0x7FFF_FFFF_FFFF_FFFF
PARTITION_MONTHS_AHEAD = 3


class MigrationError(WabahookError):
    """The migrations on disk and those applied to the database disagree."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    path: Path
    text: bytes

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's bytes, recorded when it is applied."""
        return hashlib.sha256(self.text).hexdigest()


def discover(folder: Path | None = None) -> list[Migration]:
    """The migrations in `folder`, in order; malformed names and duplicates are errors."""
    folder = folder or sql_dir() / "migrations"
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, match.group(2), path, path.read_bytes())
    return [found[v] for v in sorted(found)]


def migrate(
    conninfo: str,
    folder: Path | None = None,
    views_folder: Path | None = None,
    on_apply: Callable[[Migration], None] | None = None,
    roles: bool = False,
    logins: Sequence[tuple[str, Secret]] = (),
    functions_folder: Path | None = None,
) -> list[Migration]:
    """Apply pending migrations (each in its own transaction), then re-create functions and views.

    Runs under an advisory lock so concurrent calls queue up instead of racing.
    With `roles`, creates the roles of sql/roles.sql; their grants are re-applied on
    every run once they exist. `logins` ((role, password) pairs) creates the roles too
    and lets each log in with its password. `functions_folder` defaults to the `functions`
    folder beside the migrations' one. Returns the migrations applied by this call.
    """
    migrations = discover(folder)
    views_folder = views_folder or sql_dir() / "views"
    # The function files define the functions as the migrations beside them leave them: a
    # folder of other migrations (an older release's, in the upgrade tests) goes without.
    functions_folder = functions_folder or (folder or sql_dir() / "migrations").parent / "functions"
    try:
        with _connect(conninfo) as conn:
            conn.execute(query("lock_migrations"), {"key": LOCK_KEY})
            try:
                applied = _apply(conn, migrations, on_apply)
                recreate_functions_and_views(conn, functions_folder, views_folder)
                apply_roles(conn, create=roles or bool(logins))
                set_login_passwords(conn, logins)
                conn.execute(query("ensure_partitions"), {"months_ahead": PARTITION_MONTHS_AHEAD})
            finally:
                if not conn.closed:
                    conn.execute(query("unlock_migrations"), {"key": LOCK_KEY})
    except psycopg.Error as exc:
        raise MigrationError(f"migration failed: {str(exc).strip().splitlines()[0]}") from None
    return applied


def present_projection_tables(conninfo: str) -> frozenset[str]:
    """The projection tables that exist now (before a migrate: which ones it adds)."""
    try:
        with _connect(conninfo) as conn:
            rows = conn.execute(query("present_tables"), {"tables": list(projection_tables())})
            return frozenset(name for (name,) in rows)
    except psycopg.Error as exc:
        raise MigrationError(f"migration failed: {first_line(exc)}") from None


def unfilled_projection_tables(conninfo: str, before: frozenset[str]) -> list[str]:
    """Projection tables added since `before` while stored events were already processed.

    Events processed before a table existed never reached it: `wabahook rebuild`
    fills it from the stored raw events.
    """
    added = [table for table in projection_tables() if table not in before]
    if not added:
        return []
    try:
        with _connect(conninfo) as conn:
            row = conn.execute(query("any_processed_event")).fetchone()
    except psycopg.Error as exc:
        raise MigrationError(f"migration failed: {first_line(exc)}") from None
    return added if row and row[0] else []


def _connect(conninfo: str) -> psycopg.Connection[Any]:
    return connect(conninfo, application_name="wabahook-migrate")


def _apply(
    conn: psycopg.Connection[tuple[object, ...]],
    migrations: list[Migration],
    on_apply: Callable[[Migration], None] | None,
) -> list[Migration]:
    conn.execute(query("bootstrap"))
    recorded: dict[int, tuple[str, str]] = {
        int(str(version)): (str(name), str(checksum))
        for version, name, checksum in conn.execute(query("applied_migrations")).fetchall()
    }
    on_disk = {m.version for m in migrations}
    missing = sorted(set(recorded) - on_disk)
    if missing:
        names = ", ".join(f"{v:04d}_{recorded[v][0]}.sql" for v in missing)
        raise MigrationError(f"the database has migrations this version lacks: {names}")
    for migration in migrations:
        if migration.version in recorded and recorded[migration.version][1] != migration.checksum:
            raise MigrationError(
                f"{migration.path.name} was edited after it was applied "
                "(checksum differs); add a new migration instead"
            )
    applied = []
    for migration in migrations:
        if migration.version in recorded:
            continue
        with conn.transaction():
            conn.execute(migration.text)
            conn.execute(
                query("record_migration"),
                {"version": migration.version, "name": migration.name,
                 "checksum": migration.checksum},
            )  # fmt: skip
        applied.append(migration)
        if on_apply is not None:
            on_apply(migration)
    return applied


ROLES = tuple(f"wabahook_{component}" for component in ROLE_COMPONENTS)
# Whose presence says `migrate --roles` ran here. The console's role came later: an
# install made before it is given it by the next migrate whose login may create roles.
FIRST_ROLES = ROLES[:3]


def apply_roles(conn: psycopg.Connection[Any], create: bool = False) -> bool:
    """Run sql/roles.sql if asked to create the roles or if they all exist already."""
    if not create:
        row = (
            conn.cursor(row_factory=tuple_row)
            .execute(query("existing_roles"), {"roles": list(FIRST_ROLES)})
            .fetchone()
        )
        if row is None or row[0] < len(FIRST_ROLES):
            return False
    conn.execute((sql_dir() / "roles.sql").read_bytes())
    tables = sql.SQL(", ").join(sql.Identifier("wabahook", t) for t in projection_tables())
    conn.execute(query("grant_projection_tables").format(tables=tables))
    return True


def set_login_passwords(
    conn: psycopg.Connection[Any], logins: Sequence[tuple[str, Secret]]
) -> None:
    """Let each role log in with its password, sent as a SCRAM verifier only.

    libpq hashes the password here, so it never reaches the server's statement log.
    """
    for role, password in logins:
        if role not in ROLES:
            raise MigrationError(f"{role} is not one of wabahook's roles")
        verifier = conn.pgconn.encrypt_password(
            password.reveal().encode(), role.encode(), b"scram-sha-256"
        )
        try:
            conn.execute(
                query("set_login_password").format(
                    role=sql.Identifier(role), verifier=sql.Literal(verifier.decode())
                )
            )
        except psycopg.errors.InsufficientPrivilege:
            # PostgreSQL 16+: CREATEROLE alone may not change a role another user made.
            raise MigrationError(
                f"cannot set {role}'s password: this login may not alter that role; run as"
                f" a superuser, or GRANT {role} TO the login running migrate WITH ADMIN OPTION"
            ) from None
