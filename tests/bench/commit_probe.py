"""The physical limit beside the intake figures: how many rows one connection commits per second.

Each commit waits for a WAL flush; rows stored in batches share it. Batches of 1, 10, 100
and 1,000 rows of wabahook's own store_event (one statement, one transaction each) show
what group commit can win on this machine's disk.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

STORE_MANY = """
SELECT wabahook.store_event(channel, body, sha, NULL, %s, NULL, 'probe')
FROM unnest(%s::text[], %s::bytea[], %s::bytea[]) AS t(channel, body, sha)
"""


def probe(url: str, body: bytes, channel: str, seconds: float = 2.0,
          batches: tuple[int, ...] = (1, 10, 100, 1000)) -> list[dict[str, Any]]:  # fmt: skip
    """Rows and commits per second for each batch size, one connection, `seconds` each."""
    sha = hashlib.sha256(body).digest()
    results = []
    with psycopg.connect(url, autocommit=True) as conn:
        for size in batches:
            args = (Jsonb({}), [channel] * size, [body] * size, [sha] * size)
            conn.execute(STORE_MANY, args)  # warm: plan cached, pages in memory
            commits = 0
            started = time.perf_counter()
            while time.perf_counter() - started < seconds:
                conn.execute(STORE_MANY, args)  # autocommit: one statement, one commit
                commits += 1
            elapsed = time.perf_counter() - started
            results.append({
                "batch_rows": size,
                "commits_per_second": round(commits / elapsed, 1),
                "rows_per_second": round(commits * size / elapsed),
                "ms_per_commit": round(elapsed / commits * 1000, 3),
            })  # fmt: skip
    return results
