"""How long Ctrl-C takes to stop everything `wabahook up` started (target: under 5 s).

Each round starts `up` on embedded servers in a fresh folder, posts its curl line,
waits for it to be processed, then sends SIGINT (what a terminal's Ctrl-C sends)
and times it until `up` has exited and none of its processes is left.

Run with `make bench`; writes a JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from processors.local import var_files
from processors.local.embedded import free_port
from tests.bench.drain import machine

TARGET_SECONDS = 5.0
START_SECONDS = 120


def one_round() -> dict[str, Any]:
    """Start `up`, post the demo line, Ctrl-C it; the stop time and how it ended."""
    folder = Path(tempfile.mkdtemp(prefix="wabahook-bench-stop-"))
    given = ("DATABASE_URL", "REDIS_URL", "DATABASE_URL_FILE", "REDIS_URL_FILE")
    env = {k: v for k, v in os.environ.items() if k not in given}
    log = folder / "up.log"
    with log.open("w") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "up", "--port", str(free_port()),
             "--console-port", "0", "--var-dir", str(folder / "var")],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_SECONDS
        while "\ncurl " not in log.read_text():
            if up.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"up did not start:\n{log.read_text()}")
            time.sleep(0.2)
        curl = next(line for line in log.read_text().splitlines() if line.startswith("curl "))
        subprocess.run(["bash", "-c", curl], check=True, capture_output=True, timeout=30)
        time.sleep(2)  # the worker takes it, cron sweeps: a quickstart in use
        began = time.monotonic()
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=60)
        seconds = time.monotonic() - began
        after = log.read_text().split("Stopping ...", 1)[-1]
        return {
            "seconds": round(seconds, 3),
            "exit_code": code,
            "error_lines": [
                line for line in after.splitlines() if "Error" in line or "SIGKILL" in line
            ],
        }
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        pointer = folder / "var" / var_files.SERVERS_POINTER
        if pointer.exists():
            shutil.rmtree(pointer.read_text().strip(), ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-stop.json"))
    args = parser.parse_args()
    rounds = [one_round() for _ in range(args.rounds)]
    worst = max(r["seconds"] for r in rounds)
    report = {
        "machine": machine(),
        "up_stop": {
            "rounds": rounds,
            "median_seconds": statistics.median(r["seconds"] for r in rounds),
            "worst_seconds": worst,
            "target_seconds": TARGET_SECONDS,
            "meets_target": worst < TARGET_SECONDS,
        },
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
