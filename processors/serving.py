"""How the receiver and the console are started: the gunicorn command lines everything uses."""

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


def console_command() -> list[str]:
    """argv that runs the console under gunicorn with `processors.console.gunicorn_conf`."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:processors.console.gunicorn_conf",
        "processors.console:create_app()",
    ]
