"""`wabahook up` on a machine without PostgreSQL or Redis settings: embedded servers.

The machine may be shared: logins need passwords, secrets stay 0600 in var/, our
files there are never followed through symbolic links, no folder above var/ is
opened up. Started as root (as the tests are here), under a folder only root may
enter, the servers run as their unprivileged user with their data outside var/,
and root follows no link that user leaves in the servers' folders.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from processors.channels import meta
from processors.local import var_files
from processors.local.embedded import free_port
from processors.local.local_files import SERVER_USER, EmbeddedError, as_user, service_user
from processors.local.postgres import EmbeddedPostgres, postgres_bin_dir
from processors.local.state import STATE_ROOT
from processors.local.valkey import EmbeddedValkey
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.integration.conftest import wait_until
from tests.support.fake_http import FakeServer
from tests.support.servers import reachable_folder

pytestmark = pytest.mark.slow  # `wabahook up` with its servers

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 90
REFUSAL_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class Stopped:
    code: int
    seconds: float


class Running:
    """A `wabahook up` process whose output is read line by line."""

    def __init__(
        self,
        var_dir: Path,
        port: int,
        *,
        console_port: int = 0,
        options: tuple[str, ...] = (),
        **settings: str,
    ) -> None:
        given = ("DATABASE_URL", "REDIS_URL", "DATABASE_URL_FILE", "REDIS_URL_FILE")
        env = {k: v for k, v in os.environ.items() if k not in given} | settings
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "processors.cli",
                "up",
                "--port",
                str(port),
                "--var-dir",
                str(var_dir),
                "--console-port",
                str(console_port),
                *options,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for_curl_line(self) -> str:
        while True:
            try:
                line = self.lines.get(timeout=STARTUP_SECONDS)
            except queue.Empty:
                raise AssertionError("no curl line:\n" + "".join(self.output)) from None
            if line.startswith("curl "):
                return line.strip()

    def valkey_port(self) -> int:
        found = re.search(r"Starting embedded Valkey on 127\.0\.0\.1:(\d+)", "".join(self.output))
        assert found, "".join(self.output)
        return int(found.group(1))

    def refusal(self) -> str:
        """The one-line error of an `up` that must stop before starting anything."""
        try:
            code = self.process.wait(timeout=REFUSAL_SECONDS)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("started instead of refusing:\n" + "".join(self.output)) from None
        self.reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        output = "".join(self.output)
        assert code == 1, output
        assert "Traceback" not in output
        return output.strip().splitlines()[-1]

    def stop_timed(self) -> Stopped:
        """Ctrl-C, as a terminal sends it to `up`; how it ended and how long it took."""
        began = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=30)  # a hang guard, not a speed target
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError("up did not stop:\n" + "".join(self.output)) from None
        seconds = time.monotonic() - began
        self.reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return Stopped(code, seconds)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


@pytest.fixture
def var_dir() -> Iterator[Path]:
    """A var/ in a folder only we may enter (as /root is): `up` needs nothing above it."""
    folder = Path(tempfile.mkdtemp(prefix="wabahook-up-"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    yield folder
    servers = [folder]
    for pointer in folder.rglob(var_files.SERVERS_POINTER):
        servers.append(Path(pointer.read_text().strip()))
    stop_leftovers(servers)
    for found in servers:
        shutil.rmtree(found, ignore_errors=True)


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A folder that the embedded servers' unprivileged user may pass through."""
    folder = reachable_folder("wabahook-servers-")
    yield folder
    stop_leftovers([folder])
    shutil.rmtree(folder, ignore_errors=True)


def stop_leftovers(folders: list[Path]) -> None:
    """A failed test must not leave a server running."""
    for folder in folders:
        for pid_file in folder.rglob("postmaster.pid"):
            with contextlib.suppress(ProcessLookupError, ValueError, OSError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
        for pid_file in folder.rglob("valkey.pid"):
            with contextlib.suppress(ProcessLookupError, ValueError, OSError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)


def run_curl(line: str) -> dict[str, object]:
    result = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def database_url(var_dir: Path, *, password: bool = True) -> str:
    port = (var_dir / "postgres.port").read_text().strip()
    secret = ":" + (var_dir / "postgres.password").read_text().strip() if password else ""
    return f"postgresql://postgres{secret}@127.0.0.1:{port}/wabahook"


def stored_bodies(var_dir: Path) -> list[bytes]:
    with psycopg.connect(database_url(var_dir)) as conn:
        rows = conn.execute("SELECT body FROM wabahook.raw_events ORDER BY id").fetchall()
    return [bytes(row[0]) for row in rows]


def processed_texts(var_dir: Path) -> list[str]:
    with psycopg.connect(database_url(var_dir)) as conn:
        rows = conn.execute("SELECT text FROM wabahook.messages_inbound").fetchall()
    return [row[0] for row in rows]


def status_of(pid: int) -> dict[str, list[int]]:
    """Uid, Gid, Groups and PPid of a process, from /proc."""
    fields: dict[str, list[int]] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Uid", "Gid", "Groups", "PPid"):
            fields[key] = [int(v) for v in value.split()]
    return fields


def descendants(root: int) -> list[int]:
    """Every living process below `root`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, KeyError, IndexError):  # gone meanwhile
                parents[int(entry.name)] = status_of(int(entry.name))["PPid"][0]
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def assert_unprivileged(pid: int, what: str) -> None:
    fields = status_of(pid)
    assert 0 not in fields["Uid"], f"{what} (pid {pid}) runs as root: {fields}"
    assert 0 not in fields["Gid"] + fields["Groups"], f"{what} (pid {pid}) keeps root's group"


def assert_secret_file(path: Path) -> None:
    info = path.lstat()
    assert stat.S_ISREG(info.st_mode), path
    assert stat.S_IMODE(info.st_mode) == 0o600, path
    assert info.st_uid == os.geteuid(), path


def test_up_serves_the_printed_curl_line_and_stops_cleanly_then_restarts(var_dir: Path) -> None:
    assert os.geteuid() == 0, "this test checks what `up` does when started as root"
    port = free_port()
    first = Running(var_dir, port)
    try:
        curl_line = first.wait_for_curl_line()
        assert "\n" not in curl_line
        answer = run_curl(curl_line)
        assert answer["status"] == "stored"
        bodies = stored_bodies(var_dir)
        assert len(bodies) == 4  # three seeded demo bodies, then the curl line's
        # The worker and cron that `up` started process it without further ado.
        assert wait_until(lambda: processed_texts(var_dir) == ["Hello from wabahook"], timeout=30)
        pasted = json.loads(bodies[-1])
        sent = int(pasted["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"])
        assert abs(sent - time.time()) < STARTUP_SECONDS  # stamped now: today's figures
        saved = var_dir / "demo-credentials.json"
        assert_secret_file(saved)
        assert json.loads(saved.read_text())["password"] in curl_line

        # Logins need the passwords that `up` keeps in var/, mode 0600; so does its
        # WABAHOOK_SECRET_KEY, with which a meta channel made now is verified at once.
        for name in ("postgres.password", "valkey.password", "secret-key", "postgres.port"):
            assert_secret_file(var_dir / name)
        assert_meta_handshake(var_dir, port)
        assert_commands_find_the_quickstart(var_dir, first.output)
        assert_console_serves(first.output, pasted)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(database_url(var_dir, password=False), connect_timeout=5).close()
        valkey_port = first.valkey_port()
        anonymous = redis.Redis(host="127.0.0.1", port=valkey_port, socket_timeout=5)
        with pytest.raises(redis.exceptions.AuthenticationError):
            anonymous.ping()
        anonymous.close()
        valkey_password = (var_dir / "valkey.password").read_text().strip()
        valkey = redis.Redis(
            host="127.0.0.1", port=valkey_port, password=valkey_password, socket_timeout=5
        )
        assert valkey.config_get("bind") == {"bind": "127.0.0.1"}
        valkey.close()
        assert_servers_apart_from_the_clone(var_dir, first)
        assert_a_second_up_refuses_and_harms_nothing(var_dir, first, curl_line)
        assert_channels_add_prints_the_quickstarts_address(var_dir, port)
        assert_the_relay_sends_to_a_destination(var_dir)
    finally:
        stopped = first.stop_timed()
    assert stopped.code == 0, "".join(first.output)
    after = "".join(first.output).split("Stopping ...", 1)[1]
    for noise in ("Traceback", "Error", "SIGKILL", "did not stop"):
        assert noise not in after, after
    home = Path((var_dir / var_files.SERVERS_POINTER).read_text().strip())
    assert not (home / "postgres" / "postmaster.pid").exists()
    assert not descendants(first.process.pid)
    # Gone with it: a command now says both ways out, and exits 1.
    assert not (var_dir / "quickstart.json").exists()
    gone = wabahook_in(var_dir.parent, var_dir, "stats")
    assert gone.returncode == 1
    assert "no quickstart is running here" in gone.stderr
    assert "set DATABASE_URL" in gone.stderr
    assert "make run" in gone.stderr
    kept = ("postgres.password", "valkey.password", "secret-key", "postgres.port")
    secrets_before = {name: (var_dir / name).read_text() for name in kept}

    second = Running(var_dir, port)
    try:
        line = second.wait_for_curl_line()
        assert line.split("--data-binary")[0] == curl_line.split("--data-binary")[0]  # same login
        assert query_line(second.output) == query_line(first.output)  # same port, same psql line
        assert run_curl(line)["status"] == "stored"
        assert len(stored_bodies(var_dir)) == 7  # the first run's six are still there
        assert {name: (var_dir / name).read_text() for name in kept} == secrets_before
        assert "outbound messages" not in "".join(second.output)  # seeded once per var/
    finally:
        assert second.stop() == 0, "".join(second.output)


def assert_channels_add_prints_the_quickstarts_address(var_dir: Path, port: int) -> None:
    """Its curl line reaches the running quickstart, not a default port."""
    added = wabahook_in(var_dir.parent, var_dir, "channels", "add", "shop")
    assert added.returncode == 0, added.stderr
    line = next(x.strip() for x in added.stdout.splitlines() if x.strip().startswith("curl "))
    assert line.endswith(f" http://127.0.0.1:{port}/webhooks/shop"), line
    assert run_curl(line)["status"] == "stored"


def assert_the_relay_sends_to_a_destination(var_dir: Path) -> None:
    """The relay that `up` started sends every stored body to a destination added now."""
    with FakeServer(lambda request: (200, {}, b"")) as application:
        added = wabahook_in(var_dir.parent, var_dir, "destinations", "add", "app",
                            "--url", application.url, "--from-start")  # fmt: skip
        assert added.returncode == 0, added.stderr
        bodies = stored_bodies(var_dir)
        assert wait_until(lambda: len(application.requests) >= len(bodies), timeout=30)
        assert sorted(r.body for r in application.requests) == sorted(bodies)


def query_line(output: list[str]) -> str:
    return next(line.strip() for line in output if line.strip().startswith("query:"))


def assert_servers_apart_from_the_clone(var_dir: Path, running: Running) -> None:
    """As root: the servers run as their own user, their data outside var/; ours stay ours."""
    user = service_user()
    assert user is not None
    assert user.pw_uid != 0
    assert user.pw_name == SERVER_USER
    home = Path((var_dir / var_files.SERVERS_POINTER).read_text().strip())
    assert home.parent == STATE_ROOT
    assert f"data in {home}" in "".join(running.output)
    for folder in ("postgres", "valkey"):
        info = (home / folder).lstat()
        assert stat.S_IMODE(info.st_mode) == 0o700, folder
        assert info.st_uid == user.pw_uid, folder
        assert not (var_dir / folder).exists()
    postmaster = int((home / "postgres" / "postmaster.pid").read_text().split()[0])
    assert_unprivileged(postmaster, "PostgreSQL")
    started = descendants(running.process.pid)
    names = {Path(f"/proc/{pid}/exe").resolve().name: pid for pid in started}
    assert "valkey-server" in names, names
    assert_unprivileged(names["valkey-server"], "Valkey")
    ours = [pid for pid in started if pid != names["valkey-server"]]
    assert len(ours) >= 5, names  # worker, cron, gunicorn and its 2 workers, the console
    for pid in ours:
        assert status_of(pid)["Uid"][0] == os.geteuid()


def assert_a_second_up_refuses_and_harms_nothing(
    var_dir: Path, first: Running, curl_line: str
) -> None:
    found = json.loads((var_dir / "quickstart.json").read_text())
    refused = Running(var_dir, free_port()).refusal()
    assert refused == (
        f"Error: already running (pid {first.process.pid}): console {found['console_url']}, "
        f"receiver {found['receiver_url']}"
    )
    assert json.loads((var_dir / "quickstart.json").read_text()) == found
    # An `up` elsewhere on a port the first one uses is refused before it starts anything.
    console_port = int(found["console_url"].rsplit(":", 1)[1].strip("/"))
    other = var_dir / "other"
    refused = Running(other, free_port(), console_port=console_port).refusal()
    assert refused == (
        f"Error: 127.0.0.1:{console_port} is taken by another program: choose another "
        "--console-port"
    )
    assert sorted(p.name for p in other.iterdir()) == ["up.lock"]
    before = len(stored_bodies(var_dir))
    assert run_curl(curl_line)["status"] == "stored"  # a sender retry, still taken
    assert len(stored_bodies(var_dir)) == before + 1
    assert wait_until(lambda: processed_texts(var_dir) == ["Hello from wabahook"], timeout=30)


def wabahook_in(folder: Path, var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`wabahook ARGS` run in `folder` as a newcomer would: no URL of any server set."""
    given = ("DATABASE_URL", "REDIS_URL", "DATABASE_URL_FILE", "REDIS_URL_FILE")
    env = {k: v for k, v in os.environ.items() if k not in given and not k.startswith("PG")}
    if var_dir != folder / "var":
        env["WABAHOOK_VAR_DIR"] = str(var_dir)
    return subprocess.run([sys.executable, "-m", "processors.cli", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def assert_commands_find_the_quickstart(var_dir: Path, output: list[str]) -> None:
    """`up` said how to query, and commands without DATABASE_URL reach its servers."""
    assert_secret_file(var_dir / "quickstart.json")
    stats = wabahook_in(var_dir.parent, var_dir, "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert figures["totals"]["requests"] == 4  # three seeded, the curl line's
    assert (figures["totals"]["sent"], figures["totals"]["read"]) == (2, 1)  # today's demo
    assert figures["totals"]["failed"] == 1
    said = stats.stderr.strip().splitlines()
    assert len(said) == 1
    assert said[0].startswith("wabahook: using the quickstart's servers")
    assert str(var_dir / "quickstart.json") in said[0]
    # The printed psql line, pasted into a shell, reaches the same database.
    query = next(line for line in output if line.strip().startswith("query:"))
    command = query.split("query:", 1)[1].strip()
    counted = subprocess.run(
        ["bash", "-c", command + " -AtXc 'SELECT count(*) FROM wabahook.raw_events'"],
        capture_output=True, text=True, timeout=30, cwd=var_dir.parent,
    )  # fmt: skip
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.strip() == "4"


def assert_console_serves(output: list[str], pasted: dict[str, Any]) -> None:
    """`up` printed the console's address (a free port here), and it shows the demo event."""
    said = [line.strip() for line in output if line.startswith("console: ")]
    assert len(said) == 1, "".join(output)
    url = said[0].removeprefix("console: ")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
    message_id = pasted["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    search = url + f"events?message_id={message_id}"
    with urllib.request.urlopen(search, timeout=10) as page:  # noqa: S310  (checked above)
        html = page.read().decode()
    assert "1 event, newest first" in html


def assert_meta_handshake(var_dir: Path, port: int) -> None:
    """A meta channel sealed with the key `up` keeps answers Meta's handshake."""
    key = Secret((var_dir / "secret-key").read_text().strip())
    db = Database(Secret(database_url(var_dir)), application_name="wabahook-test", timeout=10)
    try:
        made = meta.add_meta_channel(db, Sealer(key), "meta-demo", "app-secret-of-the-test")
    finally:
        db.close()
    query = f"hub.mode=subscribe&hub.verify_token={made.verify_token}&hub.challenge=77"
    url = f"http://127.0.0.1:{port}{made.webhook_path}?{query}"
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert (answer.status, answer.read()) == (200, b"77")


@pytest.mark.parametrize("case", ["credential link", "data link", "everyone writes", "foreign"])
def test_up_refuses_a_var_dir_others_could_steer(var_dir: Path, case: str) -> None:
    var = var_dir / "var"
    var.mkdir(mode=0o700)
    victim = var_dir / "victim"
    victim.write_text("not yours\n")
    expected = {
        "credential link": f"refusing {var}/demo-credentials.json: it is a symbolic link",
        "data link": f"refusing {var}/postgres: it is a symbolic link",
        "everyone writes": f"{var} is writable by other users (mode 0777): use a --var-dir",
        "foreign": f"{var} belongs to another user: use a --var-dir of your own",
    }[case]
    if case == "credential link":
        (var / "demo-credentials.json").symlink_to(victim)
    elif case == "data link":
        (var_dir / "elsewhere").mkdir()
        (var / "postgres").symlink_to(var_dir / "elsewhere")
    elif case == "everyone writes":
        var.chmod(0o777)
    else:
        os.chown(var, 65534, 65534)
    refused = Running(var, free_port()).refusal()
    assert refused.startswith(f"Error: {expected}"), refused
    assert victim.read_text() == "not yours\n"
    assert not (var_dir / "elsewhere" / "PG_VERSION").exists()


def test_a_data_folder_left_with_trust_by_an_older_version_gets_a_password_and_keeps_its_data(
    server_dir: Path,
) -> None:
    var_dir = server_dir
    data = var_dir / "postgres"
    server = EmbeddedPostgres(data)
    with psycopg.connect(server.start(), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    server.stop()
    # What an older version left behind: trust for all, no password file, still running.
    (data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
    (var_dir / "postgres.password").unlink()
    port = free_port()
    subprocess.run(
        [str(postgres_bin_dir() / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"),
         "-w", "-o", f"-p {port}", "start"],
        cwd="/", check=True, capture_output=True, **as_user(service_user()),
    )  # fmt: skip
    trusting = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    psycopg.connect(trusting, connect_timeout=5).close()  # anyone could, as the superuser

    upgraded = EmbeddedPostgres(data)
    url = upgraded.start()
    try:
        assert_secret_file(var_dir / "postgres.password")
        assert (var_dir / "postgres.password").read_text().strip() in url
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT x FROM kept").fetchall() == [(42,)]
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(url.replace(f":{upgraded.password}@", "@"), connect_timeout=5).close()
    finally:
        upgraded.stop()


def test_up_reads_the_servers_from_url_files_and_seeds_no_database_it_did_not_start(
    var_dir: Path, empty_database_url: str, redis_url: str, queue_name: str
) -> None:
    secrets_dir = var_dir / "root-only"
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / "database-url").write_text(empty_database_url + "\n")
    (secrets_dir / "redis-url").write_text(redis_url + "\n")
    running = Running(
        var_dir / "var",
        free_port(),
        DATABASE_URL_FILE=str(secrets_dir / "database-url"),
        REDIS_URL_FILE=str(secrets_dir / "redis-url"),
        WABAHOOK_QUEUE=queue_name,
    )
    try:
        curl_line = running.wait_for_curl_line()
        output = "".join(running.output)
        assert "Using PostgreSQL at DATABASE_URL_FILE" in output, output
        assert "Using Redis at REDIS_URL_FILE" in output, output
        assert "embedded" not in output, output
        assert "outbound messages" not in output, output
        assert "Running as root" not in output, output
        assert run_curl(curl_line)["status"] == "stored"
        with psycopg.connect(empty_database_url) as conn:
            assert conn.execute("SELECT count(*) FROM wabahook.raw_events").fetchone() == (1,)
        # worker, cron, gunicorn and its 2 workers (the second may still be forking)
        assert wait_until(lambda: len(descendants(running.process.pid)) >= 5, timeout=15)
        started = descendants(running.process.pid)
        for pid in started:
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            env = dict(item.decode().partition("=")[::2] for item in raw if item)
            assert env["DATABASE_URL"] == empty_database_url
            assert env["REDIS_URL"] == redis_url
            assert env["WABAHOOK_QUEUE"] == queue_name
            assert "DATABASE_URL_FILE" not in env
            assert "REDIS_URL_FILE" not in env
            # The key that opens meta channels' and destinations' secrets: the receiver's
            # and the relay's alone. (The console is a gunicorn too, and gets no key.)
            command = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
            needs_key = "receiver.gunicorn_conf" in " ".join(command) or "relay" in command
            assert ("WABAHOOK_SECRET_KEY" in env) == needs_key, command
    finally:
        assert running.stop() == 0, "".join(running.output)
    assert not (var_dir / "var" / "postgres").exists()
    assert not (var_dir / "var" / "valkey").exists()


def test_a_valkey_log_that_is_a_symbolic_link_is_not_read(server_dir: Path) -> None:
    var_dir = server_dir
    user = service_user()
    assert user is not None, "this test checks what root does in the server user's folder"
    secret = var_dir / "secret"
    secret.write_text("root's secret line\n")
    secret.chmod(0o600)
    data = var_dir / "valkey"
    data.mkdir(mode=0o700)
    os.chown(data, user.pw_uid, user.pw_gid)
    (data / "valkey.log").symlink_to(secret)  # what the user could leave there
    server = EmbeddedValkey(data)
    with pytest.raises(EmbeddedError) as refused:  # Valkey cannot open that log: it exits
        server.start()
    message = str(refused.value)
    assert message.startswith("valkey-server exited: "), message
    assert "secret line" not in message
    assert "valkey.log: it is a symbolic link" in message


def test_a_pg_hba_conf_that_is_a_symbolic_link_is_refused(server_dir: Path) -> None:
    var_dir = server_dir
    data = var_dir / "postgres"
    server = EmbeddedPostgres(data)
    server.start()
    server.stop()
    # What the server's user could leave there: a link to root's copy of the right text.
    copy = var_dir / "root's pg_hba.conf"
    copy.write_text((data / "pg_hba.conf").read_text())
    copy.chmod(0o600)
    (data / "pg_hba.conf").unlink()
    (data / "pg_hba.conf").symlink_to(copy)
    with pytest.raises(EmbeddedError, match=r"pg_hba\.conf: it is a symbolic link"):
        EmbeddedPostgres(data).start()
    (var_dir / "postgres.password").unlink()  # a new password: pg_hba.conf is rewritten
    with pytest.raises(EmbeddedError, match=r"pg_hba\.conf: it is a symbolic link"):
        EmbeddedPostgres(data).start()
    assert copy.stat().st_uid == 0
    assert not (data / "postmaster.pid").exists()


def test_an_up_killed_outright_leaves_no_process_of_its_own_and_the_next_one_starts(
    var_dir: Path,
) -> None:
    killed = Running(var_dir, free_port(), options=("--no-demo",))
    try:
        killed.wait_for_curl_line()
        assert stored_bodies(var_dir) == []  # --no-demo: nothing seeded
        started = descendants(killed.process.pid)
        assert len(started) >= 5, started
    finally:
        killed.process.kill()  # no chance to stop anything itself
        killed.process.wait(timeout=30)

    def survivors() -> list[str]:
        found = []
        for pid in started:
            with contextlib.suppress(OSError):
                found.append(Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " "))
        return found

    assert wait_until(lambda: not survivors(), timeout=30), survivors()
    killed.reader.join(timeout=10)  # its processes held our end of the pipe until now
    assert killed.process.stdout is not None
    killed.process.stdout.close()
    again = Running(var_dir, free_port())
    try:
        line = again.wait_for_curl_line()
        assert run_curl(line)["status"] == "stored"
        assert len(stored_bodies(var_dir)) == 4  # seeded now (three), then the curl line
    finally:
        assert again.stop() == 0, "".join(again.output)
