"""Prometheus metrics (issue 17), off unless ``CONVLENS_METRICS=1``; then ``GET /metrics`` answers in the
Prometheus text format. Meant for the cluster's scraper, not the public: the proxy in front
(deploy/nginx.conf) and a Kubernetes Ingress should not route /metrics.

What is counted, per replica (Prometheus sums the replicas):

* ``convlens_requests_total{method, route, status}``, ``convlens_request_seconds{route}``: every HTTP
  request, by route *template* (``/api/models/{model_id}``, never the raw path, so ids do not make new
  series; an unmatched path is ``unmatched``);
* ``convlens_engine_seconds``, ``convlens_engine_macs_total``: every computation that goes through
  app.compute.engine_slot, with the MACs it was admitted for;
* ``convlens_heavy_queue``: computations waiting for a heavy slot right now;
* ``convlens_store_bytes`` (the store's own usage record, read at scrape time; one store shared by every
  replica, so every replica reports the same figure) and ``convlens_store_evictions_total``.

Several workers: ``convlens serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the
workers start (prometheus-client's multiprocess mode, app.server.prepare_metrics_dir), so any worker's
/metrics reports all of them. Its value there, if set, is used (and emptied); the directory must be
writable (the Kubernetes manifests mount an emptyDir at /tmp).
"""
from __future__ import annotations

import contextlib
import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, multiprocess
from prometheus_client.core import GaugeMetricFamily

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter("convlens_requests", "HTTP requests answered", ["method", "route", "status"])
REQUEST_SECONDS = Histogram("convlens_request_seconds", "HTTP request latency, first byte in to last byte out",
                            ["route"], buckets=LATENCY_BUCKETS)
ENGINE_SECONDS = Histogram("convlens_engine_seconds", "time spent in engine computations (app.compute.engine_slot)",
                           buckets=LATENCY_BUCKETS)
ENGINE_MACS = Counter("convlens_engine_macs", "multiply-accumulates admitted to the engine")
HEAVY_QUEUE = Gauge("convlens_heavy_queue", "computations waiting for a heavy slot", multiprocess_mode="livesum")
STORE_EVICTIONS = Counter("convlens_store_evictions", "stored inputs evicted to keep the store under its quota")


@contextlib.contextmanager
def engine_run(macs: int):
    """Around one engine computation: its time and MACs."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        ENGINE_SECONDS.observe(time.perf_counter() - t0)
        ENGINE_MACS.inc(macs)


@contextlib.contextmanager
def queued():
    """Around the wait for a heavy slot."""
    HEAVY_QUEUE.inc()
    try:
        yield
    finally:
        HEAVY_QUEUE.dec()


class _StoreCollector:
    def __init__(self, store_bytes):
        self.store_bytes = store_bytes

    def collect(self):
        value = self.store_bytes()
        if value is not None:
            yield GaugeMetricFamily("convlens_store_bytes", "bytes the upload store counts as used (whole store)",
                                    value=value)


def render(store_bytes) -> tuple[bytes, str]:
    """The exposition for a scrape: every worker's metrics (multiprocess mode) or this process's."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    extra = CollectorRegistry()
    extra.register(_StoreCollector(store_bytes))
    return generate_latest(registry) + generate_latest(extra), CONTENT_TYPE_LATEST


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request by its route template."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = 500

        async def seen(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, seen)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in METHODS else "other"  # a client's made-up methods
            REQUESTS.labels(method, route, str(status)).inc()  # must not each make a series
            REQUEST_SECONDS.labels(route).observe(time.perf_counter() - t0)
