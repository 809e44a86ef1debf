"""Where a run's CPU went: seconds per process group, read from /proc, and a py-spy summary.

On a machine where the load generator, gunicorn and PostgreSQL share the cores, req/s
alone cannot say what a request costs; CPU time per request by group can.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _processes() -> Iterator[tuple[int, int, str, float]]:
    """(pid, parent pid, command line, CPU seconds) of every process we may read.

    A process's seconds include those of its children that it has reaped: gunicorn
    replaces workers (max_requests) and PostgreSQL's backends come and go, and what
    they spent must not vanish from the group when they exit.
    """
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        yield (
            int(entry),
            int(fields[1]),
            cmdline.decode(errors="replace"),
            sum(int(value) for value in fields[11:15]) / _TICKS,  # utime stime cutime cstime
        )


def cpu_by_group(gunicorn_pid: int, postgres_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of the gunicorn tree under `gunicorn_pid` and of PostgreSQL: the
    tree under `postgres_pid` (the bench's own server), else every postgres process."""
    processes = list(_processes())
    children: dict[int, list[int]] = collections.defaultdict(list)
    for pid, parent, _, _ in processes:
        children[parent].append(pid)

    def tree(root: int) -> set[int]:
        found, stack = set(), [root]
        while stack:
            pid = stack.pop()
            found.add(pid)
            stack.extend(children[pid])
        return found

    ours = tree(gunicorn_pid)
    server = tree(postgres_pid) if postgres_pid else None
    groups = {"gunicorn": 0.0, "postgres": 0.0}
    for pid, _, cmdline, seconds in processes:
        if pid in ours:
            groups["gunicorn"] += seconds
        elif pid in server if server is not None else "postgres" in cmdline.split(" ", 1)[0]:
            groups["postgres"] += seconds
    return groups


def tree_seconds(root: int) -> float:
    """CPU seconds so far of the process tree under `root`."""
    return cpu_by_group(root, -1)["gunicorn"]


def children_cpu() -> float:
    """CPU seconds of this process's reaped children (the load generator's runs)."""
    usage = os.times()
    return usage.children_user + usage.children_system


@contextmanager
def cpu_per_request(
    gunicorn_pid: int, postgres_pid: int | None, result: dict[str, Any]
) -> Iterator[None]:
    """Around one load run: adds CPU microseconds per request by group to `result`."""
    before, load_before = cpu_by_group(gunicorn_pid, postgres_pid), children_cpu()
    yield
    after, load_after = cpu_by_group(gunicorn_pid, postgres_pid), children_cpu()
    requests = max(1, int(result.get("requests", 0)))
    spent = {group: after[group] - before[group] for group in before}
    spent["load_generator"] = load_after - load_before
    result["cpu_us_per_request"] = {
        group: round(seconds / requests * 1e6) for group, seconds in spent.items()
    }


def py_spy() -> str | None:
    """The py-spy binary next to this Python, or on PATH; None when there is none."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile(gunicorn_pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Start sampling the gunicorn tree (GIL holders only: Python's CPU), or None."""
    binary = py_spy()
    if binary is None:
        return None
    return subprocess.Popen(
        [binary, "record", "--pid", str(gunicorn_pid), "--subprocesses", "--gil",
         "--nonblocking", "--rate", "200", "--duration", str(seconds),
         "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


# The frames a reader of the report can act on: ours, and the layers we call.
_INTERESTING = re.compile(r"\((receiver|psycopg|psycopg_pool|flask|werkzeug|gunicorn|logging|"
                          r"pythonjsonlogger|prometheus_client|redis|rq)/")  # fmt: skip


def summarize(raw: Path, top: int = 25) -> dict[str, Any]:
    """Share of the samples of request handling per function, inclusive, the largest first."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any("handle_request" in frame for frame in frames):
            continue  # the arbiter, start-up, waiting for a connection
        total += int(count)
        for name in {re.sub(r":\d+\)$", ")", frame) for frame in frames}:
            if _INTERESTING.search(name):
                inclusive[name] += int(count)
    # Frames under which every sample lies (gunicorn's arbiter and loop) say nothing.
    shares = {name: count / total for name, count in inclusive.most_common() if total}
    telling = [(name, share) for name, share in shares.items() if share < 0.95]
    return {
        "samples": total,
        "share_of_python_samples": {name: round(share, 3) for name, share in telling[:top]},
    }
