"""Worker metrics follow each drain's stats without double counting or going negative."""

from __future__ import annotations

from collections import Counter

from processors.drain import DrainStats
from processors.metrics import WorkerMetrics


def value(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    result = metrics.registry.get_sample_value(name, labels)
    return result or 0.0


def test_two_drains_in_one_process_add_up() -> None:
    metrics = WorkerMetrics()
    for _ in range(2):  # each drain job has fresh stats; the process keeps one registry
        follow = metrics.follower()
        stats = DrainStats()
        for processed, rejected in ((10, 1), (25, 2)):
            stats.processed, stats.rejected = processed, rejected
            stats.rejections = Counter({"invalid JSON": rejected})
            stats.last_batch_size, stats.last_batch_seconds = processed + rejected, 0.05
            follow(stats)
    assert value(metrics, "wabahook_events_total", outcome="processed") == 50
    assert value(metrics, "wabahook_events_total", outcome="rejected") == 4
    assert value(metrics, "wabahook_parse_rejections_total", reason="invalid JSON") == 4
    assert value(metrics, "wabahook_drain_batch_size_count") == 4
