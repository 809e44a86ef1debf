"""Worker metrics observe each drain batch's result: no snapshots to diff, nothing negative."""

from __future__ import annotations

from processors.metrics import WorkerMetrics
from processors.pipeline.drain import DrainResult


def value(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    result = metrics.registry.get_sample_value(name, labels)
    return result or 0.0


def test_batches_of_two_drains_in_one_process_add_up() -> None:
    metrics = WorkerMetrics()
    for _ in range(2):  # two drain jobs; the process keeps one registry
        for processed, rejected in ((10, 1), (25, 2)):
            metrics.observe(
                DrainResult(
                    claimed=processed + rejected, seconds=0.05, processed=processed,
                    rejected=rejected, rejections={"invalid JSON": rejected},
                )
            )  # fmt: skip
    assert value(metrics, "wabahook_events_total", outcome="processed") == 70
    assert value(metrics, "wabahook_events_total", outcome="rejected") == 6
    assert value(metrics, "wabahook_events_total", outcome="failed") == 0
    assert value(metrics, "wabahook_parse_rejections_total", reason="invalid JSON") == 6
    assert value(metrics, "wabahook_drain_batch_size_count") == 4
    assert value(metrics, "wabahook_drain_batch_size_sum") == 76
