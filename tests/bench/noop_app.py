"""The baseline of the intake benchmark: a Flask app that reads the body and answers 200."""

from __future__ import annotations

from flask import Flask, request


def create_app() -> Flask:
    """A no-op webhook endpoint under the same gunicorn settings as the receiver."""
    app = Flask("noop")

    @app.post("/webhooks/<channel>")
    def receive(channel: str) -> tuple[str, int]:
        request.get_data()
        return '{"status":"stored"}', 200

    return app
