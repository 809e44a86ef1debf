"""`wabahook up`: everything on one machine, in the foreground, for a first try."""

from __future__ import annotations

import json
import os
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
from processors.embedded import EmbeddedPostgres, EmbeddedValkey
from processors.migrate import migrate
from processors.serving import gunicorn_command
from receiver.auth import Authenticator, BasicCredentials
from receiver.config import Secret
from receiver.db import Database
from receiver.intake import channel_auth_loader

DEMO_CHANNEL = "demo"
DATABASE_NAME = "wabahook"


class QuickstartError(RuntimeError):
    """Something the quickstart needs did not start."""


@dataclass
class Quickstart:
    """Starts the servers it needs, remembers what it started, stops it all."""

    var_dir: Path
    host: str
    port: int
    echo: Callable[[str], None]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    _stops: list[Callable[[], None]] = field(default_factory=list)
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """Where the receiver listens."""
        return f"http://{self.host}:{self.port}"

    def run(self) -> int:
        """Start everything, print how to use it, wait for Ctrl-C; return an exit code."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        stop_requested = False

        def request_stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stop_requested
            stop_requested = True

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            database_url = self._database()
            redis_url = self._redis()
            self.echo("Migrating the database ...")
            migrate(database_url)
            credential = self._demo_credential(database_url)
            self._start_services(database_url, redis_url)
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

    def _database(self) -> str:
        if self.env.get("DATABASE_URL"):
            self.echo("Using PostgreSQL at DATABASE_URL")
            return self.env["DATABASE_URL"]
        self.echo(f"Starting embedded PostgreSQL in {self.var_dir / 'postgres'} ...")
        server = EmbeddedPostgres(self.var_dir / "postgres")
        server.start()
        self._stops.append(server.stop)
        return server.create_database(DATABASE_NAME)

    def _redis(self) -> str:
        if self.env.get("REDIS_URL"):
            self.echo("Using Redis at REDIS_URL")
            return self.env["REDIS_URL"]
        self.echo("Starting embedded Valkey ...")
        server = EmbeddedValkey(self.var_dir / "valkey")
        server.start()
        self._stops.append(server.stop)
        return server.url

    def _demo_credential(self, database_url: str) -> channels.IssuedCredential:
        """The demo channel's credential, kept in var/ so the printed curl line keeps working."""
        saved = self.var_dir / "demo-credentials.json"
        db = Database(Secret(database_url), application_name="wabahook-up", timeout=30, max_size=1)
        try:
            if not channels.exists(db, DEMO_CHANNEL):
                issued = channels.add_channel(db, DEMO_CHANNEL)
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
        saved.touch(mode=0o600)
        saved.chmod(0o600)
        saved.write_text(json.dumps(issued.as_json()) + "\n")
        return issued

    def _start_services(self, database_url: str, redis_url: str) -> None:
        env = {
            **self.env,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "WABAHOOK_BIND": f"{self.host}:{self.port}",
            "WABAHOOK_WORKERS": self.env.get("WABAHOOK_WORKERS", "2"),
            "WABAHOOK_LOG_FORMAT": self.env.get("WABAHOOK_LOG_FORMAT", "text"),
            # Requests are logged by the app; gunicorn's start-up chatter would bury the banner.
            "GUNICORN_CMD_ARGS": self.env.get("GUNICORN_CMD_ARGS", "--log-level warning"),
            "WABAHOOK_ACCESS_LOG": self.env.get("WABAHOOK_ACCESS_LOG", ""),
        }
        self.echo("Starting a worker and the cron scheduler ...")
        cli = [sys.executable, "-m", "processors.cli"]
        self._spawn([*cli, "worker", "--quiet"], env)
        self._spawn([*cli, "cron", "--quiet"], env)
        self.echo(f"Starting the receiver on {self.base_url} ...")
        receiver = self._spawn(gunicorn_command(), env)
        if not _wait_healthy(f"{self.base_url}/healthz", timeout=30) or receiver.poll() is not None:
            raise QuickstartError(f"the receiver did not start on {self.base_url}")

    def _spawn(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, env=env)
        self._children.append(process)
        self._stops.append(lambda: _terminate(process))
        return process

    def _banner(self, credential: channels.IssuedCredential) -> None:
        self.echo("")
        self.echo(f"wabahook is up: {self.base_url}{credential.webhook_path}")
        self.echo(f"  user:     {credential.username}")
        self.echo(
            f"  password: {credential.password}   (kept in {self.var_dir}/demo-credentials.json)"
        )
        self.echo("Post a sample notification (paste this line into another terminal):")
        self.echo("")
        self.echo(credential.curl(self.base_url))
        self.echo("")
        self.echo("Press Ctrl-C to stop everything this command started.")

    def _stop_all(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the rest
                self.echo(f"wabahook: while stopping: {exc}")


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


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read_credential(path: Path) -> channels.IssuedCredential | None:
    try:
        data = json.loads(path.read_text())
        return channels.IssuedCredential(data["channel"], data["user"], data["password"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
