"""wabahook's receiver: the small internet-facing Flask app that stores deliveries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the receiver app from `config` (environment-style keys) or the environment."""
    # Imported here, not above: every `receiver.*` import runs this package first, and the
    # CLI, which needs the settings and the database layer, starts faster without Flask.
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from receiver import health, intake, logs, request_hooks
    from receiver.auth import Authenticator
    from receiver.config import Settings
    from receiver.db import Database
    from receiver.metrics import Metrics
    from receiver.nudge import Nudger
    from receiver.sealing import Sealer
    from receiver.state import ReceiverState

    settings = Settings.from_env(config)
    logs.configure(settings.log_format)
    app = Flask("receiver")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_ceiling_bytes
    if settings.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.trusted_proxy_hops,
            x_proto=settings.trusted_proxy_hops,
        )
    db = Database(
        settings.database_url,
        application_name="wabahook-receiver",
        timeout=settings.db_timeout,
        max_size=settings.db_pool_size,
    )
    metrics = Metrics()
    app.extensions["wabahook"] = ReceiverState(
        settings=settings,
        db=db,
        authenticator=Authenticator(
            intake.channel_auth_loader(db, Sealer.of(settings.secret_key)),
            ttl=settings.credential_ttl,
        ),
        nudger=Nudger(settings.redis_url, settings.queue, settings.redis_timeout, metrics),
        metrics=metrics,
    )
    app.register_blueprint(intake.blueprint)
    app.register_blueprint(health.blueprint)
    request_hooks.register_hooks(app)
    return app
