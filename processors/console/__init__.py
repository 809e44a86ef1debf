"""`wabahook console`: a small web app for people to look into what was stored.

Separate from the receiver (the internet-facing process does not grow); server-rendered
pages, no build step, nothing fetched from the network. gunicorn loads
`processors.console:create_app()`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from processors.console import display, security, views
from processors.local import discovery
from receiver.config import COMMAND_DB_SECONDS, Secret, Settings, secret_value
from receiver.db import Database

__all__ = ["create_app"]
log = logging.getLogger("wabahook.console")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The console app from `config` (environment-style keys) or the environment."""
    env = os.environ if config is None else config
    # Without DATABASE_URL, a quickstart running in this folder (as every command does).
    env = discovery.environment(env, say=log.info)
    settings = Settings.from_env(env)
    password = secret_value(env, security.PASSWORD_VARIABLE)
    app = Flask("wabahook-console")
    db = Database(
        settings.database_url, application_name="wabahook-console", timeout=COMMAND_DB_SECONDS
    )
    app.extensions["wabahook_console"] = views.ConsoleState(settings=settings, db=db)
    security.protect(app, Secret(password) if password else None)
    app.register_blueprint(views.blueprint)
    display.install(app)
    return app
