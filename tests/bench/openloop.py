"""An open-loop load generator: each request leaves at its scheduled time, whatever the answers.

wrk and `hey -q` are closed-loop: a slow answer delays the next request, so a slow server
is offered less load and looks faster than it is. Here request i is due at start + i/rate;
its latency counts from that moment, so time spent waiting for a free connection (a server
falling behind) is in the figures too.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ANSWER_TIMEOUT = 5.0  # 360dialog's patience
# A server closes idle keep-alive connections (gunicorn: after 2 s); one idle this long
# is not reused, so a request never goes out on a socket the server is closing.
IDLE_REUSE_SECONDS = 1.0


@dataclass
class Tally:
    """What came back."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    last_done: float = 0.0


class Connections:
    """Keep-alive connections to one server, opened as needed up to `limit`."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: asyncio.LifoQueue[
            tuple[float, tuple[asyncio.StreamReader, asyncio.StreamWriter]]
        ] = asyncio.LifoQueue()
        self.opened = 0
        self.peak = 0

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = asyncio.get_running_loop().time()
        while not self.idle.empty():
            since, conn = self.idle.get_nowait()
            if now - since < IDLE_REUSE_SECONDS:
                return conn
            self.drop(conn)
        if self.opened < self.limit:
            self.opened += 1
            self.peak = max(self.peak, self.opened)
            try:
                return await asyncio.open_connection(self.host, self.port)
            except OSError:
                self.opened -= 1
                raise
        return (await self.idle.get())[1]

    def give_back(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.idle.put_nowait((asyncio.get_running_loop().time(), conn))

    def drop(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        conn[1].close()
        self.opened -= 1


async def _exchange(conns: Connections, request: bytes, scheduled: float, tally: Tally) -> None:
    loop = asyncio.get_running_loop()
    conn = None
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT):
            conn = await conns.take()
            reader, writer = conn
            writer.write(request)
            status = int((await reader.readline()).split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            await reader.readexactly(length)
        done = loop.time()
        tally.latencies.append(done - scheduled)
        tally.statuses[status] += 1
        tally.last_done = max(tally.last_done, done)
        if close:
            conns.drop(conn)
        else:
            conns.give_back(conn)
    except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError):
        tally.errors += 1
        if conn is not None:
            conns.drop(conn)


async def _run(url: str, body: bytes, headers: dict[str, str], rate: float, seconds: float,
               connections: int) -> dict[str, Any]:  # fmt: skip
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    conns = Connections(host, port, connections)
    tally = Tally()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    total = int(rate * seconds)
    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_exchange(conns, request, scheduled, tally)))
    await asyncio.gather(*tasks)
    while not conns.idle.empty():
        conns.drop(conns.idle.get_nowait()[1])
    answered = len(tally.latencies)
    elapsed = max(tally.last_done - start, 1e-9)
    ordered = sorted(tally.latencies)

    def ms(q: float) -> float | None:
        return (
            round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)
            if ordered
            else None
        )

    return {
        "offered_rps": rate,
        "seconds": seconds,
        "sent": total,
        "answered": answered,
        "achieved_rps": round(answered / elapsed, 1),
        "latency_ms": {"p50": ms(0.50), "p90": ms(0.90), "p99": ms(0.99),
                       "max": round(ordered[-1] * 1000, 2) if ordered else None,
                       "mean": round(statistics.fmean(ordered) * 1000, 2) if ordered else None},
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "errors": tally.errors,
        "connections_at_most": conns.peak,
    }  # fmt: skip


def run_open_loop(url: str, body: bytes, headers: dict[str, str], rate: float = 1000.0,
                  seconds: float = 10.0, connections: int = 256) -> dict[str, Any]:  # fmt: skip
    """Offer `rate` requests per second for `seconds`; report what came back and how fast."""
    return asyncio.run(_run(url, body, headers, rate, seconds, connections))
