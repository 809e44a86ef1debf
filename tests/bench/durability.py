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
    report["sync"] = run(seconds=args.seconds).as_json()  # sync workers, a commit per request
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
