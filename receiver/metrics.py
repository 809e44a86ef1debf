"""The receiver's Prometheus metrics (served by receiver.health at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Intake is expected in milliseconds; 360dialog gives up at 5 s.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The receiver's metrics, registered in the app's own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "wabahook_intake_requests",
            "Webhook requests answered, by channel and HTTP status code.",
            ["channel", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "wabahook_intake_duration_seconds",
            "Time from request to answer on the webhook endpoint.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.nudge_failures = Counter(
            "wabahook_redis_nudge_failures",
            "After-commit Redis nudges that failed (events wait for the sweep instead).",
            registry=self.registry,
        )
        # labels() validates and locks on every call; a request only needs its child.
        # Bounded: channels are authenticated names (or "-"), codes a handful.
        self._children: dict[tuple[str, int], Counter] = {}

    def observe(self, channel: str | None, code: int, seconds: float) -> None:
        """Count one webhook request."""
        key = (channel or "-", code)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(channel=key[0], code=str(code))
        child.inc()
        self.duration.observe(seconds)
