"""Prometheus metrics of workers: drain batches, outcomes, the queue and the relay seen from
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from processors.pipeline.drain_result import DrainResult
from processors.pipeline.queue_health import queue_health
from receiver.db import Database, DatabaseError

BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000)
SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def keep_values_in_process() -> None:
    """Make this process's metrics plain in-memory values (a worker, at its start).

    A worker serves its own registry from its own process. prometheus_client's
    multiprocess mode (PROMETHEUS_MULTIPROC_DIR, meant for the receiver's gunicorn
    workers, and set for every process by some deployments) would make every value a
    file in a folder only the receiver creates and cleans: each drain then failed with
    FileNotFoundError. The setting is process-wide in prometheus_client.
    """
    values.ValueClass = values.MutexValue


class WorkerMetrics:
    """Counters and histograms a worker process keeps about its drains."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.batch_size = Histogram(
            "wabahook_drain_batch_size", "Events claimed per drain batch.",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch_duration = Histogram(
            "wabahook_drain_batch_duration_seconds", "Time to claim, project and commit a batch.",
            buckets=SECONDS_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.events = Counter(
            "wabahook_events", "Events taken off the queue, by outcome.", ["outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.rejections = Counter(
            "wabahook_parse_rejections", "Rejected bodies by reason.", ["reason"],
            registry=self.registry,
        )  # fmt: skip
        self.refused_jobs = Counter(
            "wabahook_refused_jobs",
            "Jobs from Redis the worker refused to run: not_allowed, arguments, callback,"
            " webhook or unreadable.",
            ["reason"], registry=self.registry,
        )  # fmt: skip

    def observe(self, result: DrainResult) -> None:
        """Record one drain batch (a drain's on_batch hook)."""
        self.batch_size.observe(result.claimed)
        self.batch_duration.observe(result.seconds)
        for outcome in ("processed", "rejected", "failed"):
            count = getattr(result, outcome)
            if count:
                self.events.labels(outcome=outcome).inc(count)
        for reason, count in result.rejections.items():
            self.rejections.labels(reason=reason).inc(count)


class QueueCollector(Collector):
    """Queue gauges read from PostgreSQL at scrape time (the queue lives there)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            health = queue_health(self._db)
            retries = self._db.fetch_one("sender_retries_last_hour")
        except DatabaseError:
            return  # no figures is better than wrong ones; the lag alert fires on absence
        yield GaugeMetricFamily(
            "wabahook_queued_events", "Events waiting to be processed.",
            value=health["queued"] - health["failed"],
        )  # fmt: skip
        yield GaugeMetricFamily(
            "wabahook_failed_events", "Events whose processing failed and wait for a retry.",
            value=health["failed"],
        )  # fmt: skip
        yield GaugeMetricFamily(
            "wabahook_sender_retries_last_hour",
            "Deliveries repeating an earlier one byte for byte (this hour and the last).",
            value=retries["retries"] if retries else 0,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "wabahook_oldest_queued_event_age_seconds", "Oldest waiting event (0: none).",
            value=health["oldest_queued_seconds"] or 0.0,
        )  # fmt: skip


# Gauges of operations data, as (column of `operations_gauges`, metric, help).
OPERATIONS_GAUGES = (
    ("templates_paused", "wabahook_templates_paused", "Templates whose latest status is PAUSED."),
    ("templates_disabled", "wabahook_templates_disabled",
     "Templates whose latest status is DISABLED."),
    ("templates_rejected", "wabahook_templates_rejected",
     "Templates whose latest status is REJECTED."),
    ("templates_quality_red", "wabahook_templates_quality_red",
     "Templates whose latest quality score is RED."),
    ("templates_recategorising", "wabahook_templates_recategorisation_announced",
     "Templates Meta announced it will recategorise (about a day ahead)."),
    ("numbers_flagged", "wabahook_phone_numbers_flagged_last_day",
     "Phone number quality updates FLAGGED in the last 24 hours."),
    ("numbers_downgraded", "wabahook_phone_numbers_downgraded_last_day",
     "Phone number messaging limit DOWNGRADEs in the last 24 hours."),
    ("account_restrictions", "wabahook_account_restrictions_last_day",
     "Account restrictions, violations, bans, offboardings and critical alerts in the last"
     " 24 hours."),
    ("opt_outs", "wabahook_marketing_opt_outs_last_day",
     "Customers who stopped marketing messages in the last 24 hours."),
    ("marketing_sent", "wabahook_marketing_messages_last_day",
     "Outbound marketing messages whose first status came in the last 24 hours."),
)  # fmt: skip


class OperationsCollector(Collector):
    """Gauges an on-call engineer pages on, read from the operations views at scrape time."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            row = self._db.fetch_one("operations_gauges")
        except DatabaseError:
            return  # no figures is better than wrong ones
        if row is None:
            return
        for column, name, help_text in OPERATIONS_GAUGES:
            yield GaugeMetricFamily(name, help_text, value=row[column])


class RelayCollector(Collector):
    """The relay's backlog and outcomes per destination, read from PostgreSQL at scrape time
    (its deliveries live there, whichever relay process made them)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def collect(self) -> Iterator[Metric]:
        try:
            rows = self._db.fetch_all("relay_metrics")
        except DatabaseError:
            return
        pending = GaugeMetricFamily(
            "wabahook_relay_pending", "Deliveries waiting to be sent (pending or retrying).",
            labels=["destination"],
        )  # fmt: skip
        oldest = GaugeMetricFamily(
            "wabahook_relay_oldest_pending_age_seconds",
            "Age of the oldest waiting delivery's event (0: none).", labels=["destination"],
        )  # fmt: skip
        outcomes = CounterMetricFamily(
            "wabahook_relay_deliveries", "Deliveries that ended, by outcome (delivered, dead).",
            labels=["destination", "outcome"],
        )  # fmt: skip
        for row in rows:
            pending.add_metric([row["destination"]], row["pending"])
            oldest.add_metric([row["destination"]], row["oldest_pending_seconds"] or 0.0)
            outcomes.add_metric([row["destination"], "delivered"], row["delivered"])
            outcomes.add_metric([row["destination"], "dead"], row["dead"])
        yield from (pending, oldest, outcomes)
