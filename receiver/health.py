"""What load balancers, orchestrators and Prometheus poll: liveness, readiness, metrics."""

from __future__ import annotations

import os

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

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


@blueprint.get("/metrics")
def metrics() -> Response:
    """Prometheus text format (keep it off the public load balancer)."""
    registry = state().metrics.registry
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Under gunicorn each worker writes its own files; add them all up here.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
