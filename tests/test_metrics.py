"""Prometheus metrics (issue 17): off by default, and when on, every counter the issue names moves by what
was done: requests by route template and status, latency, engine time and MACs, store size and evictions,
the heavy-request queue; with several workers, one scrape sums them all."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from app.compute import engine_slot
from app.inputs.store import counted_bytes
from app.settings import Settings
from tests.conftest import running_app, worker_pids


def samples(text: str) -> dict[tuple, float]:
    """{(name, ((label, value), ...)): value} of an exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


CONVOLVE = {"input": {"kind": "random", "shape": [8, 32, 32], "seed": 1},
            "layer": {"out_channels": 4, "kernel_size": 3}, "weights": {"kind": "random"}}


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics").status_code == 404


def test_requests_latency_engine_time_and_macs_move(make_client):
    c = make_client(metrics=1)
    before = c.get("/metrics").text
    r = c.post("/api/convolve", json=CONVOLVE)
    assert r.status_code == 200
    macs = r.json()["cost"]["macs"]
    assert macs == 4 * 30 * 30 * 8 * 3 * 3  # C_out·H_out·W_out · C_in·kH·kW
    assert c.post("/api/convolve", json={"input": {"kind": "nope"}}).status_code == 422
    assert c.get("/api/models/no-such-model").status_code == 404
    for made_up in ("BREW", "PROPFIND-1", "X" * 50):  # a client's methods never become series of their own
        c.request(made_up, "/api/nowhere")
    after = c.get("/metrics").text
    delta = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert delta("convlens_requests_total", method="POST", route="/api/convolve", status="200") == 1
    assert delta("convlens_requests_total", method="POST", route="/api/convolve", status="422") == 1
    # the route template, never the raw path (ids would make a series each)
    assert delta("convlens_requests_total", method="GET", route="/api/models/{model_id}", status="404") == 1
    assert not any("no-such-model" in line for line in after.splitlines())
    assert delta("convlens_requests_total", method="other", route="unmatched", status="404") == 3
    assert not any("BREW" in line for line in after.splitlines())
    assert delta("convlens_request_seconds_count", route="/api/convolve") == 2
    assert delta("convlens_engine_macs_total") == macs
    assert delta("convlens_engine_seconds_count") == 1
    assert delta("convlens_engine_seconds_sum") > 0


def test_store_size_and_evictions(make_client, tmp_path):
    block = 4096
    c = make_client(metrics=1, store_quota_bytes=3 * block, store_grace_s=0)
    before = c.get("/metrics").text
    for i in range(5):  # each a .npy of one 4 KiB block: the fourth and fifth evict the oldest
        assert c.post("/api/inputs", files={"file": ("t.npy", npy(np.full((1, 4, 4), i, np.float32)))}).status_code == 201
        time.sleep(0.01)  # distinct mtimes, so the least recently used is well defined
    after = c.get("/metrics").text
    assert value(after, "convlens_store_bytes") == counted_bytes(tmp_path / "data" / "inputs") <= 3 * block
    assert value(after, "convlens_store_evictions_total") - value(before, "convlens_store_evictions_total") >= 2


def test_the_heavy_queue_counts_computations_waiting_for_a_slot():
    s = dataclasses.replace(Settings(), max_heavy_requests=1, heavy_macs=10, heavy_queue_s=30)
    queue = lambda: REGISTRY.get_sample_value("convlens_heavy_queue") or 0.0  # noqa: E731
    holding, release = threading.Event(), threading.Event()

    def hold():
        with engine_slot(10**6, s):
            holding.set()
            release.wait(30)
    first = threading.Thread(target=hold)
    first.start()
    holding.wait(30)
    assert queue() == 0
    def wait_then_run():
        with engine_slot(10**6, s):
            pass
    second = threading.Thread(target=wait_then_run)
    second.start()
    deadline = time.monotonic() + 30
    while queue() != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert queue() == 1
    release.set()
    first.join(30)
    second.join(30)
    assert queue() == 0


def test_one_scrape_sums_every_worker(tmp_path_factory):
    with running_app(tmp_path_factory, {"CONVLENS_METRICS": "1"}, workers=2) as (url, proc, log):
        assert len(worker_pids(proc)) >= 2
        n = 40
        for _ in range(n):  # a new connection each: the kernel spreads them over both workers
            assert httpx.get(f"{url}/livez", headers={"connection": "close"}).status_code == 200
        scrapes = [httpx.get(f"{url}/metrics", headers={"connection": "close"}).text for _ in range(4)]
        for text in scrapes:  # whichever worker answers reports both
            assert value(text, "convlens_requests_total", method="GET", route="/livez", status="200") == n


def serving_workers(proc) -> list[int]:
    """uvicorn's worker processes (spawned), not multiprocessing's resource tracker."""
    workers = []
    for pid in worker_pids(proc):
        with contextlib.suppress(FileNotFoundError):
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                workers.append(pid)
    return workers


@pytest.mark.parametrize("metrics", ["0", "1"])
def test_a_killed_worker_is_replaced_with_or_without_metrics(tmp_path_factory, metrics):
    """The supervisor forgets a dead worker's live gauges (metrics on) and must not trip over that when
    metrics are off (there is no metrics directory then)."""
    with running_app(tmp_path_factory, {"CONVLENS_METRICS": metrics}, workers=2) as (url, proc, log):
        victim = serving_workers(proc)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            workers = serving_workers(proc)
            if victim not in workers and len(workers) == 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, log.read_text()[-2000:]  # the supervisor is still there …
        assert victim not in serving_workers(proc) and len(serving_workers(proc)) == 2  # … and replaced it
        for _ in range(10):
            assert httpx.get(f"{url}/livez", headers={"connection": "close"}).status_code == 200
        if metrics == "1":
            assert "convlens_requests_total" in httpx.get(f"{url}/metrics").text
        proc.send_signal(signal.SIGTERM)  # a supervisor that died inside would leave the process hanging here
        proc.wait(timeout=60)
        assert "Traceback" not in log.read_text()
