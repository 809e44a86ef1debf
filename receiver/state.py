"""What one receiver app holds: its settings and per-process resources."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from receiver.auth import Authenticator
from receiver.config import Settings
from receiver.db import Database
from receiver.metrics import Metrics
from receiver.nudge import Nudger


@dataclass(frozen=True, slots=True)
class ReceiverState:
    """Settings, pool, credential cache and Redis nudger of one app."""

    settings: Settings
    db: Database
    authenticator: Authenticator
    nudger: Nudger
    metrics: Metrics


def state() -> ReceiverState:
    """The state of the app handling the current request."""
    return current_app.extensions["wabahook"]  # type: ignore[no-any-return]
