"""Liveness and readiness endpoints for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from receiver.state import state

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is up and serving."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> Response:
    """PostgreSQL answers within the intake budget (503 otherwise)."""
    state().db.fetch_one("ping")
    return jsonify(status="ready")
