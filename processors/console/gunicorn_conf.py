"""gunicorn settings for the console (`wabahook console`)."""

import os

bind = os.environ.get("WABAHOOK_CONSOLE_BIND", "127.0.0.1:8090")
# A page for a few people: one process with threads keeps its memory small.
workers = 1
worker_class = "gthread"
threads = 4
# Pages read the database with a command's deadline (30 s).
timeout = 60
graceful_timeout = 10
accesslog = None
errorlog = "-"
control_socket_disable = True


def on_starting(server: object) -> None:
    """Refuse a bind off loopback without a password, as `wabahook console` does."""
    from processors.console.security import PASSWORD_VARIABLE, ConsoleExposureError, check_bind
    from receiver.config import Secret, secret_value

    password = secret_value(os.environ, PASSWORD_VARIABLE)
    try:
        for address in server.cfg.bind:  # type: ignore[attr-defined]
            check_bind(address, Secret(password) if password else None)
    except ConsoleExposureError as exc:
        server.log.error("%s", exc)  # type: ignore[attr-defined]
        raise SystemExit(2) from None
