"""Intake throughput and latency, side by side in one run, same gunicorn settings and body.

All with sync workers, on a private durable PostgreSQL the run starts (or
--database-url): a no-op Flask app (the ceiling), the naive design (pool, headers as
jsonb, one RQ job per request), the lean floor (store_event on one connection, nothing
else), wabahook's receiver, and the receiver with PostgreSQL's own grouping of commits
(commit_delay). Each gets wrk's closed-loop load and reports CPU microseconds per
request by process group; the no-op app and the receiver then get an open-loop 1,000
req/s (tests/bench/openloop.py); py-spy, when installed, samples lean and the receiver
in one more run each. Beside them, the commit-rate probe (tests/bench/commit_probe.py)
says what one connection can commit.

Run with `make bench` (needs wrk, which it installs from Debian's packages as root).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from processors import channels
from processors.local.embedded import free_port
from processors.local.postgres import EmbeddedPostgres
from processors.migrate import migrate
from processors.serving import gunicorn_command
from receiver.config import Secret
from receiver.db import Database
from tests.bench.commit_probe import probe
from tests.bench.cpu import cpu_per_request, profile, summarize
from tests.bench.naive_app import NAIVE_TABLE
from tests.bench.openloop import run_open_loop
from tests.corpus import CASES
from tests.support.servers import (
    create_database,
    drop_database,
    reachable_folder,
    redis_server,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parents[2]
# (label, app, table whose rows count the stored requests, environment of its gunicorn)
SYNC: dict[str, str] = {}
APPS = (
    ("noop", "tests.bench.noop_app:create_app()", None, SYNC),
    ("naive", "tests.bench.naive_app:create_app()", "public.naive_events", SYNC),
    ("lean", "tests.bench.lean_app:create_app()", "wabahook.raw_events", SYNC),
    ("receiver", "receiver:create_app()", "wabahook.raw_events", SYNC),
    ("receiver_commit_delay", "receiver:create_app()", "wabahook.raw_events", SYNC),
    # The same receiver with two raw destinations configured (intake writes nothing more
    # for them: the relay finds stored events by their transaction, not by a row per
    # destination written here).
    ("receiver_2_destinations", "receiver:create_app()", "wabahook.raw_events", SYNC),
)
OPEN_LOOP = ("noop", "receiver")
PROFILED = ("lean", "receiver")
# PostgreSQL-side group commit for the sync receiver, on the bench's private server only.
COMMIT_DELAY_US = 200
COMMIT_SIBLINGS = 2
LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{auth}"
"""


def wrk_binary() -> str:
    """The load generator: `make bench` installs Debian's wrk when run as root."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench does, as root)")
    return found


def run_wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, Any]:
    out = subprocess.run(
        [wrk_binary(), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = {
        q: _ms(m.group(2))
        for m in re.finditer(r"\s(50|75|90|99)%\s+([\d.]+\w+)", out)
        for q in [m.group(1)]
    }
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {"requests_per_second": round(rate), "latency_ms": latency,
            "requests": int(total.group(1)) if total else 0,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(int(g) for g in socket_errors.groups()) if socket_errors else 0}  # fmt: skip


def _ms(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text).group()), re.sub(r"[\d.]", "", text)  # type: ignore[union-attr]
    return round(value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)


def rows(url: str, table: str | None) -> int:
    if table is None:
        return 0
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # our own table names
    return int(row[0]) if row else 0


def serve(app: str, env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [*gunicorn_command()[:-1], app]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **env, "WABAHOOK_BIND": f"127.0.0.1:{port}", "WABAHOOK_WORKERS": str(workers),
             "WABAHOOK_LOG_FORMAT": "json",
             # No worker recycling mid-run, for every app: its CPU would leave the count.
             "GUNICORN_CMD_ARGS": "--log-level warning --max-requests 0"},
    )  # fmt: skip
    assert wait_for_port("127.0.0.1", port, 30)
    return process, f"http://127.0.0.1:{port}"


@contextmanager
def bench_server(url: str | None) -> Iterator[tuple[str, int | None]]:
    """(server URL, its postmaster's pid): a durable PostgreSQL of our own unless `url`
    is given (then no pid: the server is not ours to measure or reconfigure).

    Durable (fsync, synchronous_commit on) like a production server, unlike the test
    servers; private, so the PostgreSQL-side group commit can be tried on it.
    """
    if url:
        yield url, None
        return
    folder = reachable_folder("wabahook-bench-pg-")
    server = EmbeddedPostgres(folder / "data", durable=True)
    try:
        started = server.start()
        yield started, int((folder / "data" / "postmaster.pid").read_text().split()[0])
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def set_commit_delay(server: str, delay_us: int, siblings: int) -> None:
    """PostgreSQL's own group commit (0: off): a committing backend waits `delay_us` for
    others when at least `siblings` other transactions are open. Our private server only."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET commit_delay = {int(delay_us)}")
        conn.execute(f"ALTER SYSTEM SET commit_siblings = {int(siblings)}")
        conn.execute("SELECT pg_reload_conf()")


def settled_rows(url: str, table: str | None) -> int:
    """The table's row count once requests still in flight have landed."""
    count = rows(url, table)
    while True:
        time.sleep(0.3)
        again = rows(url, table)
        if again == count:
            return count
        count = again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop requests/s offered")
    parser.add_argument("--database-url", help="a server to use instead of a private durable one")
    parser.add_argument("--out", type=Path, default=Path("bench-intake.json"))
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        help="comma-separated labels to run (default: all); ratios need their no-op app",
    )
    args = parser.parse_args()
    body = next(
        case.body
        for case in CASES
        if case.name == "cloud status sent with conversation and pricing"
    )
    with (
        bench_server(args.database_url) as (server, postmaster),
        redis_server() as redis_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        name = f"wabahook_bench_{secrets.token_hex(4)}"
        url = create_database(server, name)
        queue = f"wabahook-bench-{secrets.token_hex(4)}"
        try:
            migrate(url)
            db = Database(Secret(url), application_name="bench", timeout=30)
            credential = channels.add_channel(db, "bench")
            db.close()
            auth = "Basic " + base64.b64encode(f"bench:{credential.password}".encode()).decode()
            script = Path(tmp) / "post.lua"
            script.write_text(LUA.format(body=json.dumps(body.decode()), auth=auth))
            env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "WABAHOOK_QUEUE": queue,
                   "PROMETHEUS_MULTIPROC_DIR": str(Path(tmp) / "prom")}  # fmt: skip
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(NAIVE_TABLE)
            print("commit-rate probe ...", file=sys.stderr)
            commit_rate = probe(url, body, "bench")
            results: dict[str, Any] = {}
            open_loop: dict[str, Any] = {}
            headers = {"Content-Type": "application/json", "Authorization": auth}
            private = postmaster is not None
            apps = [app for app in APPS if (private or app[0] != "receiver_commit_delay")
                    and (args.only is None or app[0] in args.only)]  # fmt: skip
            for label, app, table, extra in apps:
                if label == "receiver_commit_delay":
                    set_commit_delay(server, COMMIT_DELAY_US, COMMIT_SIBLINGS)
                if label == "receiver_2_destinations":
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute(
                            "INSERT INTO wabahook.destinations (name, url, format)"
                            " VALUES ('app1', 'http://127.0.0.1:9/', 'raw'),"
                            " ('app2', 'http://127.0.0.1:9/', 'raw')"
                        )
                process, base = serve(app, {**env, **extra}, args.workers)
                try:
                    run_wrk(f"{base}/webhooks/bench", script, 2, args.connections)  # warm up
                    before = settled_rows(url, table)
                    print(f"{label}: {args.seconds} s of load ...", file=sys.stderr)
                    result: dict[str, Any] = {}
                    with cpu_per_request(process.pid, postmaster, result):
                        result.update(run_wrk(
                            f"{base}/webhooks/bench", script, args.seconds, args.connections
                        ))  # fmt: skip
                    if table:
                        # wrk stops with up to one request per connection in flight: stored,
                        # never counted as answered. Every 200 it counted must be a row.
                        answered = result["requests"] - result["non_2xx"] - result["socket_errors"]
                        result["answered_200"] = answered
                        result["rows_stored"] = settled_rows(url, table) - before
                        result["every_200_stored"] = (
                            0 <= result["rows_stored"] - answered <= args.connections
                        )
                    results[label] = result
                    if label in OPEN_LOOP:
                        print(
                            f"{label}: {args.rate} req/s offered for {args.seconds} s ...",
                            file=sys.stderr,
                        )
                        before = settled_rows(url, table)
                        measured = run_open_loop(
                            f"{base}/webhooks/bench",
                            body,
                            headers,
                            rate=args.rate,
                            seconds=args.seconds,
                        )
                        if table:  # every request was waited for: rows == 200s, exactly
                            measured["rows_stored"] = settled_rows(url, table) - before
                            measured["rows_stored_equal_200s"] = measured["rows_stored"] == (
                                measured["statuses"].get("200", 0)
                            )
                        open_loop[label] = measured
                    if label in PROFILED:
                        results[label]["profile"] = profile_under_load(
                            process.pid, base, script, args.connections, Path(tmp) / label
                        )
                finally:
                    process.terminate()
                    process.wait(timeout=30)
                    if label == "receiver_commit_delay":
                        set_commit_delay(server, 0, 5)
        finally:
            drop_database(server, name)
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(match=f"*{queue}*"):
                client.delete(key)
            client.srem("rq:queues", f"rq:queue:{queue}", f"rq:queue:{queue}-naive")
            client.close()

    def ratio(label: str, to: str = "noop") -> float | None:
        if label not in results or to not in results:
            return None
        rate = float(results[label]["requests_per_second"])
        return round(rate / float(results[to]["requests_per_second"]), 3)

    report = {
        "benchmark": "intake",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "postgresql": "private, durable (fsync and synchronous_commit on)"
        if private
        else "given by --database-url",
        "gunicorn_workers": args.workers,
        "connections": args.connections,
        "body_bytes": len(body),
        "commit_rate_one_connection": commit_rate,
        **results,
        "ratio_to_noop": {label: ratio(label) for label in results},
        # The quality bars: the receiver against the floor of its own design (the same
        # durable store_event call and nothing else) and against the naive design.
        "receiver_to_lean_floor": ratio("receiver", "lean"),
        "target_receiver_to_lean_floor": 0.9,
        "receiver_to_naive": ratio("receiver", "naive"),
        "target_receiver_to_naive": 1.3,
        "receiver_commit_delay_to_lean_floor": ratio("receiver_commit_delay", "lean"),
        # Two raw destinations against none, same run: intake must not slow measurably.
        "receiver_2_destinations_to_receiver": ratio("receiver_2_destinations", "receiver"),
        "commit_delay": {"commit_delay_us": COMMIT_DELAY_US, "commit_siblings": COMMIT_SIBLINGS},
        "open_loop": open_loop,
        "target_p99_ms_at_1000_rps": 20,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def profile_under_load(
    pid: int, base: str, script: Path, connections: int, out: Path
) -> dict[str, Any]:
    """py-spy's view of one more load run (apart from the measured one: sampling costs)."""
    spy = profile(pid, 6, out)
    if spy is None:
        return {"skipped": "py-spy is not installed"}
    run_wrk(f"{base}/webhooks/bench", script, 5, connections)
    _, problem = spy.communicate(timeout=60)
    if spy.returncode != 0 or not out.exists():
        return {"skipped": f"py-spy could not sample: {problem.decode(errors='replace')[-200:]}"}
    return summarize(out)


if __name__ == "__main__":
    main()
