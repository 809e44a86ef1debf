"""Nothing lost: load on the real stack while its parts are killed, then an account.

Every request answered 200 must be stored exactly once and processed; requests
answered otherwise (503 while PostgreSQL is down) are the sender's to retry. Every
stored event must reach the destination (a raw one, served here) at least once, a
repeat with the same webhook-id, through relay kills and the destination down a while.
"""

from __future__ import annotations

import base64
import http.client
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from processors import channels
from processors.local.embedded import free_port
from processors.local.postgres import EmbeddedPostgres
from processors.local.valkey import EmbeddedValkey
from processors.migrate import migrate
from processors.relay import destinations
from processors.relay.destinations import NewDestination
from processors.serving import gunicorn_command
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.support.fake_http import Answer as FakeAnswer
from tests.support.fake_http import FakeServer, Recorded
from tests.support.servers import reachable_folder, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
RELAY = [sys.executable, "-m", "processors.cli", "relay", "--quiet"]


@dataclass
class Account:
    """What the load generator saw, and what the database holds afterwards."""

    sent: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    acknowledged: set[int] = field(default_factory=set)
    faults: list[str] = field(default_factory=list)
    stored: Counter[int] = field(default_factory=Counter)
    processed_messages: int = 0
    queued_after: int = -1
    exited: list[str] = field(default_factory=list)
    queue_detail: list[str] = field(default_factory=list)
    redis_detail: dict[str, Any] = field(default_factory=dict)
    stored_events: set[int] = field(default_factory=set)
    # What the destination received: webhook-ids by raw event id, and how many posts.
    relayed: dict[int, set[str]] = field(default_factory=dict)
    relay_posts: int = 0

    @property
    def not_relayed(self) -> list[int]:
        """Stored events the destination never received: must be empty."""
        return sorted(self.stored_events - self.relayed.keys())

    @property
    def relayed_under_two_ids(self) -> list[int]:
        """Events received more than once under different webhook-ids: must be empty."""
        return sorted(event for event, ids in self.relayed.items() if len(ids) > 1)

    @property
    def lost(self) -> list[int]:
        """Acknowledged but not stored: must be empty."""
        return sorted(seq for seq in self.acknowledged if self.stored[seq] == 0)

    @property
    def doubled(self) -> list[int]:
        """Acknowledged once but stored more than once: must be empty."""
        return sorted(seq for seq in self.acknowledged if self.stored[seq] > 1)

    def as_json(self) -> dict[str, Any]:
        """For the benchmark report."""
        return {
            "requests": self.sent,
            "answers": {str(k): v for k, v in sorted(self.answers.items())},
            "acknowledged": len(self.acknowledged),
            "stored_distinct": sum(1 for c in self.stored.values() if c),
            "lost": len(self.lost),
            "acknowledged_but_stored_twice": len(self.doubled),
            "processed_messages": self.processed_messages,
            "queued_after_recovery": self.queued_after,
            "relay": {
                "events_stored": len(self.stored_events),
                "posts_received": self.relay_posts,
                "events_received": len(self.relayed),
                "events_not_received": len(self.not_relayed),
                "events_under_two_webhook_ids": len(self.relayed_under_two_ids),
            },
            "faults": self.faults,
            "processes_that_exited": self.exited,
            "queue_detail": self.queue_detail,
            "redis_detail": self.redis_detail,
        }


def body(seq: int) -> bytes:
    """A notification whose message id carries its sequence number."""
    return (
        '{"messages":[{"from":"4915100000000","id":"load-'
        + str(seq)
        + '","timestamp":"1750000000",'
        '"type":"text","text":{"body":"n"}}]}'
    ).encode()


def run(seconds: float = 16.0, threads: int = 6) -> Account:
    """Drive load for `seconds` while killing and restoring every part; return the account."""
    account = Account()
    folder = reachable_folder("wabahook-durability-")
    pg_port = free_port()
    postgres = EmbeddedPostgres(folder / "pg", port=pg_port)
    valkey = EmbeddedValkey(folder / "valkey")
    processes: list[subprocess.Popen[bytes]] = []
    down = threading.Event()

    def application(request: Recorded) -> FakeAnswer:
        if down.is_set():
            return 503, {}, b"down for maintenance"
        event = int(request.headers["x-wabahook-event-id"])
        with lock:
            account.relay_posts += 1
            account.relayed.setdefault(event, set()).add(request.headers["webhook-id"])
        return 204, {}, b""

    lock = threading.Lock()
    destination = FakeServer(application)
    try:
        server = postgres.start()
        url = postgres.create_database("wabahook")
        redis_url = valkey.start()
        migrate(url)
        db = Database(Secret(url), application_name="durability", timeout=30)
        credential = channels.add_channel(db, "load")
        key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        destinations.add(db, Sealer(Secret(key)), NewDestination("app", destination.url), None)
        db.close()
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "WABAHOOK_QUEUE": "load",
               "WABAHOOK_BIND": f"127.0.0.1:{port}", "WABAHOOK_WORKERS": "3",
               "WABAHOOK_LOG_FORMAT": "json", "WABAHOOK_SECRET_KEY": key,
               "GUNICORN_CMD_ARGS": "--log-level warning"}  # fmt: skip

        def spawn(argv: list[str]) -> subprocess.Popen[bytes]:
            process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)  # fmt: skip
            processes.append(process)
            return process

        receiver = spawn(gunicorn_command())
        workers = [
            spawn([sys.executable, "-m", "processors.cli", "worker", "--quiet"]) for _ in range(2)
        ]
        spawn([sys.executable, "-m", "processors.cli", "cron", "--quiet"])
        relays = [spawn(RELAY) for _ in range(2)]
        assert wait_for_port("127.0.0.1", port, 30)
        auth = "Basic " + base64.b64encode(f"load:{credential.password}".encode()).decode()
        stop = threading.Event()
        counter = iter(range(1, 10**9))

        def load() -> None:
            while not stop.is_set():
                with lock:
                    seq = next(counter)
                    account.sent += 1
                status = _post(port, auth, body(seq))
                with lock:
                    account.answers[status] += 1
                    if status == 200:
                        account.acknowledged.add(seq)

        generators = [threading.Thread(target=load, daemon=True) for _ in range(threads)]
        for thread in generators:
            thread.start()
        step = seconds / 11  # nine faults, then two steps of load with everything back

        def fault(name: str, action: Callable[[], None]) -> None:
            time.sleep(step)
            action()
            account.faults.append(name)

        fault("SIGKILL a gunicorn worker", lambda: _kill_worker(receiver.pid))
        fault(
            "SIGKILL an RQ worker (and start another)",
            lambda: (
                workers[0].kill(),
                workers.append(
                    spawn([sys.executable, "-m", "processors.cli", "worker", "--quiet"])
                ),
            ),
        )
        fault(
            "SIGKILL a relay mid-delivery (and start another)",
            lambda: (relays[0].kill(), relays.append(spawn(RELAY))),
        )
        fault("the destination answers 503 (down)", down.set)
        fault(
            "SIGKILL Redis (Valkey)",
            lambda: os.kill(valkey.pid, signal.SIGKILL),
        )
        # stop() first: it reaps the killed server.
        fault("restart Redis on the same port", lambda: (valkey.stop(), valkey.start()))
        fault("the destination is back", down.clear)
        fault("SIGKILL PostgreSQL", lambda: os.kill(_postmaster_pid(folder / "pg"), signal.SIGKILL))
        fault("restart PostgreSQL (crash recovery)", lambda: postgres.start())
        time.sleep(step * 2)
        stop.set()
        for thread in generators:
            thread.join(timeout=10)
        _settle(url)
        _relayed(url)
        account.exited = [
            f"{' '.join(p.args[-3:])}: {p.returncode}"  # type: ignore[index]
            for p in processes
            if p.poll() is not None and p is not workers[0] and p is not relays[0]
        ]
        with psycopg.connect(url) as conn:
            for event, raw in conn.execute("SELECT id, body FROM wabahook.raw_events").fetchall():
                text = bytes(raw).decode()
                account.stored[int(text.split('"load-')[1].split('"')[0])] += 1
                account.stored_events.add(event)
            row = conn.execute("SELECT count(*) FROM wabahook.messages_inbound").fetchone()
            account.processed_messages = int(row[0]) if row else 0
            row = conn.execute("SELECT count(*) FROM wabahook.event_queue").fetchone()
            account.queued_after = int(row[0]) if row else -1
            account.queue_detail = [
                str(r)
                for r in conn.execute(
                    "SELECT last_error, attempts, count(*), min(not_before), min(queued_at)"
                    " FROM wabahook.event_queue GROUP BY 1, 2"
                ).fetchall()
            ]
        assert server
        if account.queued_after:
            import redis
            from rq import Queue
            from rq.job import Job
            from rq.registry import FailedJobRegistry, StartedJobRegistry

            client = redis.Redis.from_url(redis_url)
            queue = Queue("load", connection=client)
            account.redis_detail = {
                "queued_jobs": queue.job_ids,
                "started": StartedJobRegistry(queue=queue).get_job_ids(),
                "failed": FailedJobRegistry(queue=queue).get_job_ids(),
                "drain_keys": [k.decode() for k in client.scan_iter(match="rq:job:*drain*")],
                "workers": [w.decode() for w in client.smembers("rq:workers")],
                "failures": {
                    job_id: ((job.exc_info or "")[-300:] if job else None)
                    for job_id in FailedJobRegistry(queue=queue).get_job_ids()
                    for job in [Job.fetch(job_id, connection=client)]
                    if "drain" in job_id
                },
            }
        return account
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        destination.__exit__()
        valkey.stop()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _post(port: int, auth: str, payload: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", "/webhooks/load", body=payload, headers={"Authorization": auth})
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0  # no (complete) answer: a sender retries it, nothing was acknowledged
    finally:
        conn.close()


def _kill_worker(master: int) -> None:
    """SIGKILL one of the gunicorn master's workers."""
    children = subprocess.run(
        ["pgrep", "-P", str(master)], capture_output=True, text=True
    ).stdout.split()
    os.kill(int(children[0]), signal.SIGKILL)


def _postmaster_pid(folder: Path) -> int:
    return int((folder / "postmaster.pid").read_text().splitlines()[0])


def _relayed(url: str, timeout: float = 120) -> None:
    """Wait until every stored event's delivery is acknowledged (a killed relay's lease
    runs out, the destination's backoff passes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(url, connect_timeout=2) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM wabahook.raw_events),"
                " (SELECT count(*) FROM wabahook.relay_deliveries WHERE state = 'delivered')"
            ).fetchone()
        if row is not None and row[0] == row[1]:
            return
        time.sleep(0.5)


def _settle(url: str, timeout: float = 60) -> None:
    """Wait until the workers (and the sweep) have emptied the queue."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                row = conn.execute("SELECT count(*) FROM wabahook.event_queue").fetchone()
            if row is not None and row[0] == 0:
                return
        except psycopg.OperationalError:
            pass
        time.sleep(0.5)
