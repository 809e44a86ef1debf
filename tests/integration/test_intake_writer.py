"""The host's intake writer process (WABAHOOK_INTAKE_WRITER=process): every worker's rows
committed in groups, each request answered with its own outcome, nothing stored twice."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from processors import channels
from processors.local.embedded import free_port
from receiver.config import Secret
from receiver.db import Database, DatabaseUnavailable
from receiver.writer import ENTRY, WriterClient, decode, encode
from tests.integration.conftest import ROOT, wait_until
from tests.integration.helpers import basic, count, stored_events
from tests.integration.test_quickstart import status_of


def writer_pids(folder: Path) -> list[int]:
    """The writer processes whose socket lies under `folder` (the test's TMPDIR)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if ENTRY.encode() in cmdline and any(str(folder).encode() in a for a in cmdline):
            found.append(int(entry))
    return found


@pytest.fixture
def serve_with_writer(
    start_gunicorn: Callable[..., str], app_env: dict[str, str], tmp_path: Path
) -> Callable[..., str]:
    def start(threads: int = 1, workers: int = 2, stderr: Path | None = None, **extra: str) -> str:
        return start_gunicorn(
            {**app_env, "WABAHOOK_INTAKE_WRITER": "process", "WABAHOOK_THREADS": str(threads),
             "TMPDIR": str(tmp_path), **extra},
            workers=workers, stderr=stderr,
        )  # fmt: skip

    return start


@contextmanager
def paused(pid: int) -> Iterator[Callable[[], None]]:
    """SIGSTOP `pid` for the block (or until the resume function it gives is called)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield lambda: os.kill(pid, signal.SIGCONT)
    finally:
        os.kill(pid, signal.SIGCONT)


def post(base: str, channel: channels.IssuedCredential, n: int) -> tuple[int, bytes]:
    from tests.integration.test_gunicorn import request

    auth = {"Authorization": basic(channel.username, channel.password)}
    status, _, answer = request(base, "POST", "/webhooks/acme", f'{{"n":{n}}}'.encode(), auth)
    return status, answer


def stored_by_body(database_url: str) -> dict[bytes, list[int]]:
    found: dict[bytes, list[int]] = {}
    for event in stored_events(database_url):
        found.setdefault(bytes(event["body"]), []).append(event["id"])
    return found


def test_a_row_survives_its_frame() -> None:
    row = {"channel": "acme", "body": b"\x00\xff{}", "body_sha256": bytes(range(32)),
           "content_type": None, "headers": {"user-agent": "é\n"}, "client_addr": "::1",
           "request_id": "r1"}  # fmt: skip
    frame = encode(row, 123.5)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert decode(frame[4:]) == (row, 123.5)
    with pytest.raises(ValueError, match="longer"):
        decode(frame[4:] + b"x")


@pytest.mark.parametrize("threads", [1, 8], ids=["sync", "gthread"])
def test_every_worker_stores_through_one_writer_exactly_once(
    serve_with_writer: Callable[..., str],
    channel: channels.IssuedCredential,
    database_url: str,
    tmp_path: Path,
    threads: int,
) -> None:
    base = serve_with_writer(threads=threads, workers=3)
    assert len(writer_pids(tmp_path)) == 1  # one for the host, not one per worker
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda n: post(base, channel, n), range(200)))
    assert [status for status, _ in answers] == [200] * 200
    stored = stored_by_body(database_url)
    assert count(database_url, "raw_events") == 200
    for n, (_, answer) in enumerate(answers):  # each answer names its own row
        assert stored[f'{{"n":{n}}}'.encode()] == [json.loads(answer)["event_id"]]
    from tests.integration.test_gunicorn import request

    wrong = request(base, "POST", "/webhooks/acme", b"{}", {"Authorization": basic("acme", "x")})
    assert wrong[0] == 401


def test_rows_that_wait_for_the_writer_are_committed_together(
    serve_with_writer: Callable[..., str],
    channel: channels.IssuedCredential,
    database_url: str,
    tmp_path: Path,
) -> None:
    base = serve_with_writer(threads=8, workers=2, WABAHOOK_DB_TIMEOUT="10")
    assert post(base, channel, 0)[0] == 200  # every worker thread may now be connected
    (writer,) = writer_pids(tmp_path)
    with paused(writer) as resume, ThreadPoolExecutor(max_workers=12) as pool:
        # The rows queue in the writer's socket meanwhile.
        futures = [pool.submit(post, base, channel, n) for n in range(1, 13)]
        time.sleep(1.0)  # let them all arrive (the deadline is 10 s)
        resume()
        statuses = [future.result()[0] for future in futures]
    assert statuses == [200] * 12
    with psycopg.connect(database_url) as conn:
        transactions = conn.execute(
            "SELECT count(DISTINCT xmin::text) FROM wabahook.raw_events WHERE body <> %s",
            (b'{"n":0}',),
        ).fetchone()
    assert transactions is not None
    assert transactions[0] < 12  # not one commit per request


def test_a_writer_that_does_not_answer_is_a_503_within_the_deadline(
    serve_with_writer: Callable[..., str],
    channel: channels.IssuedCredential,
    database_url: str,
    tmp_path: Path,
) -> None:
    base = serve_with_writer(threads=1, workers=1, WABAHOOK_DB_TIMEOUT="1")
    assert post(base, channel, 0)[0] == 200
    (writer,) = writer_pids(tmp_path)
    with paused(writer):
        started = time.monotonic()
        status, _ = post(base, channel, 1)
        waited = time.monotonic() - started
    assert status == 503
    assert waited < 3  # the deadline, not the sender's patience
    assert post(base, channel, 2)[0] == 200  # a fresh connection, the answer of its own row
    stored = stored_by_body(database_url)
    assert len(stored[b'{"n":2}']) == 1
    # The writer resumed after the worker gave up on row 1: it is not stored, so the
    # sender's next try is no duplicate.
    assert b'{"n":1}' not in stored


def test_a_killed_writer_is_replaced_and_no_acknowledged_row_is_lost_or_doubled(
    serve_with_writer: Callable[..., str],
    channel: channels.IssuedCredential,
    database_url: str,
    tmp_path: Path,
) -> None:
    base = serve_with_writer(threads=4, workers=2, WABAHOOK_DB_TIMEOUT="2")
    assert post(base, channel, -1)[0] == 200
    (first,) = writer_pids(tmp_path)
    answers: dict[int, int] = {}
    stop = threading.Event()
    counter = iter(range(100_000))
    lock = threading.Lock()

    def load() -> None:
        while not stop.is_set():
            with lock:
                n = next(counter)
            answers[n] = post(base, channel, n)[0]

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    try:
        assert wait_until(lambda: len(answers) > 50, timeout=30)
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: writer_pids(tmp_path) not in ([], [first]), timeout=15)
        settled = len(answers)
        assert wait_until(lambda: len(answers) > settled + 50, timeout=30)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert set(Counter(answers.values())) <= {200, 503}, Counter(answers.values())
    stored = stored_by_body(database_url)
    for n, status in answers.items():
        copies = len(stored.get(f'{{"n":{n}}}'.encode(), []))
        if status == 200:
            assert copies == 1, n  # acknowledged: stored, once
        else:
            assert copies <= 1, n  # a 503 is never retried by us
    # The new writer took over: the last requests went through.
    assert sorted(answers.items())[-1][1] == 200


def test_a_worker_idle_through_a_writer_restart_sends_its_next_row_to_the_new_one(
    serve_with_writer: Callable[..., str],
    channel: channels.IssuedCredential,
    database_url: str,
    tmp_path: Path,
) -> None:
    base = serve_with_writer(threads=1, workers=1)
    assert post(base, channel, 1)[0] == 200  # the worker is now connected to this writer
    (first,) = writer_pids(tmp_path)
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: writer_pids(tmp_path) not in ([], [first]), timeout=15)
    # Its old connection is dead, but nothing was sent on it yet: no reason for a 503.
    assert post(base, channel, 2)[0] == 200
    assert sorted(stored_by_body(database_url)) == [b'{"n":1}', b'{"n":2}']


def test_a_writer_that_keeps_dying_is_restarted_less_often_and_intake_goes_on(
    serve_with_writer: Callable[..., str],
    channel: channels.IssuedCredential,
    database_url: str,
    tmp_path: Path,
) -> None:
    log = tmp_path / "gunicorn.log"
    base = serve_with_writer(workers=1, stderr=log)
    (writer,) = writer_pids(tmp_path)
    master = status_of(writer)["PPid"][0]
    # Its socket's folder gone (a cleaner of /tmp, say): every new writer exits at once.
    (folder,) = tmp_path.glob("wabahook-writer-*")
    shutil.rmtree(folder)
    os.kill(writer, signal.SIGKILL)

    def delays() -> list[float]:
        text = log.read_text(errors="replace")
        return [float(found) for found in re.findall(r"starting another in ([\d.]+) s", text)]

    assert wait_until(lambda: len(delays()) >= 4, timeout=30)
    assert delays()[:4] == [0.5, 1.0, 2.0, 4.0]
    # Meanwhile each worker commits its own rows: nothing is refused.
    assert post(base, channel, 1)[0] == 200
    assert sorted(stored_by_body(database_url)) == [b'{"n":1}']
    os.kill(master, signal.SIGTERM)  # and gunicorn still stops cleanly, folder or none
    assert wait_until(lambda: _exited(master), 30)
    assert "Traceback" not in log.read_text(errors="replace")


def _exited(pid: int) -> bool:
    """Whether `pid` has ended (gone, or a zombie its parent has yet to reap)."""
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


@pytest.fixture
def writer_processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def writer_process(
    database_url: str, tmp_path: Path, writer_processes: list[subprocess.Popen[bytes]]
) -> Callable[..., str]:
    def start(url: str = database_url, open_files: int | None = None) -> str:
        path = str(tmp_path / f"w{len(writer_processes)}.sock")
        process = subprocess.Popen(
            [sys.executable, "-c", ENTRY, path],
            env={**os.environ, "DATABASE_URL": url, "WABAHOOK_DB_TIMEOUT": "1"},
            cwd=ROOT,
        )
        writer_processes.append(process)
        assert wait_until(lambda: os.path.exists(path), timeout=30)
        if open_files is not None:  # soft and hard, after its own raise: it stays there
            resource.prlimit(process.pid, resource.RLIMIT_NOFILE, (open_files, open_files))
        return path

    return start


def row(channel: str, n: int) -> dict[str, object]:
    return {"channel": channel, "body": f'{{"n":{n}}}'.encode(), "body_sha256": bytes(32),
            "content_type": "application/json", "headers": {}, "client_addr": None,
            "request_id": f"r{n}"}  # fmt: skip


def test_a_disabled_channel_is_not_stored_and_a_failed_batch_is_an_error(
    writer_process: Callable[..., str], database_url: str, db: Database
) -> None:
    channels.add_channel(db, "on")
    channels.add_channel(db, "off")
    channels.set_enabled(db, "off", False)
    client = WriterClient(writer_process(), db)
    try:
        assert isinstance(client.store(row("on", 1), timeout=5), int)
        assert client.store(row("off", 2), timeout=5) is None
    finally:
        client.close()
    assert [bytes(e["body"]) for e in stored_events(database_url)] == [b'{"n":1}']
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    broken = WriterClient(writer_process(nowhere), db)
    try:
        with pytest.raises(DatabaseUnavailable, match="not stored"):
            broken.store(row("on", 3), timeout=10)
    finally:
        broken.close()
    assert count(database_url, "raw_events") == 1


@pytest.mark.parametrize(
    "headers",
    [b"[" * 100_000 + b"]" * 100_000, b'"a string"', b"\xff not json"],
    ids=["nested-too-deep", "not-an-object", "not-utf8"],
)
def test_a_malformed_frame_drops_its_connection_alone(
    writer_process: Callable[..., str],
    writer_processes: list[subprocess.Popen[bytes]],
    db: Database,
    database_url: str,
    headers: bytes,
) -> None:
    channels.add_channel(db, "on")
    path = writer_process()
    good = encode(row("on", 1), time.monotonic() + 30)
    fields, _ = decode(good[4:])  # the same frame, with other headers bytes

    def field(value: bytes) -> bytes:
        return len(value).to_bytes(4, "big") + value

    payload = b"".join((struct.pack("!d", time.monotonic() + 30), field(b"on"),
                        field(fields["body"]), field(fields["body_sha256"]),
                        field(b"application/json"), field(headers),
                        b"\xff\xff\xff\xff",  # no client address
                        field(b"r-bad")))  # fmt: skip
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bad:
        bad.settimeout(10)
        bad.connect(path)
        bad.sendall(len(payload).to_bytes(4, "big") + payload)
        assert bad.recv(8) == b""  # closed, no answer
    # The writer itself lives on (one that crashed would be gone within a second).
    assert not wait_until(lambda: writer_processes[0].poll() is not None, timeout=1.0)
    client = WriterClient(path, db)
    try:
        assert isinstance(client.store(row("on", 2), timeout=5), int)  # still serving
    finally:
        client.close()
    assert [bytes(e["body"]) for e in stored_events(database_url)] == [b'{"n":2}']


def test_a_writer_out_of_files_serves_its_connections_and_accepts_again_later(
    writer_process: Callable[..., str],
    writer_processes: list[subprocess.Popen[bytes]],
    db: Database,
    database_url: str,
) -> None:
    channels.add_channel(db, "on")
    path = writer_process(open_files=48)
    first = WriterClient(path, db)
    flood: list[socket.socket] = []
    try:
        assert isinstance(first.store(row("on", 1), timeout=5), int)
        for _ in range(60):  # more connections than the writer may open files
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            flood.append(sock)
        time.sleep(0.5)  # it accepts what it can, then cannot
        assert isinstance(first.store(row("on", 2), timeout=5), int)  # still served
        for sock in flood:
            sock.close()
        flood.clear()
        later = WriterClient(path, db)
        try:
            assert isinstance(later.store(row("on", 3), timeout=10), int)  # accepted again
        finally:
            later.close()
    finally:
        first.close()
        for sock in flood:
            sock.close()
    assert writer_processes[0].poll() is None
    assert sorted(bytes(e["body"]) for e in stored_events(database_url)) == [
        b'{"n":1}', b'{"n":2}', b'{"n":3}'
    ]  # fmt: skip


def test_without_a_writer_to_reach_a_worker_stores_the_row_itself(
    database_url: str, channel: channels.IssuedCredential, tmp_path: Path
) -> None:
    db = Database(Secret(database_url), application_name="wabahook-test", timeout=5)
    try:
        client = WriterClient(str(tmp_path / "no-writer-here.sock"), db)
        event_id = client.store(row("acme", 7), timeout=5)
        client.close()
    finally:
        db.close()
    assert [e["id"] for e in stored_events(database_url)] == [event_id]
