"""How the receiver is started: the one gunicorn command line everything uses."""

from __future__ import annotations

import sys


def gunicorn_command() -> list[str]:
    """argv that runs the receiver under gunicorn with `receiver.gunicorn_conf`."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:receiver.gunicorn_conf",
        "receiver:create_app()",
    ]
