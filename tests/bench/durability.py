"""Nothing lost: load while gunicorn workers, RQ workers, Redis and PostgreSQL are killed.

Run with `make bench`; writes the account to a JSON report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tests.support.durability import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--out", type=Path, default=Path("bench-durability.json"))
    args = parser.parse_args()
    report: dict[str, object] = {"benchmark": "durability", "seconds_of_load": args.seconds}
    # Sync workers (a commit per request), gthread workers committing in groups, and
    # gthread workers through the host's writer process (killed too).
    for label, threads, writer in (("sync", 1, False), ("group_commit", 8, False),
                                   ("writer_process", 8, True)):  # fmt: skip
        report[label] = run(
            seconds=args.seconds, receiver_threads=threads, intake_writer=writer
        ).as_json()
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
