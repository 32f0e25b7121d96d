"""Prometheus metrics of one service instance (its own registry: nothing process-wide is touched)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    """Request counts and latencies by route and status, batch sizes and queue depth by modality, rejections."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("languagebind_requests", "HTTP requests answered", ["route", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("languagebind_request_seconds", "time to answer a request", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("languagebind_batch_size", "items per forward pass", ["modality"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("languagebind_queue_depth", "items waiting for or in a forward pass",
                                 ["modality"], registry=self.registry)
        self.encode_seconds = Histogram("languagebind_encode_seconds", "time of one forward pass", ["modality"],
                                        buckets=LATENCY_BUCKETS, registry=self.registry)
        self.rejected = Counter("languagebind_rejected", "requests refused before any work", ["reason"],
                                registry=self.registry)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
