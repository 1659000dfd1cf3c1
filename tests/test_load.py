"""A short, bounded load on a live server: mixed requests from concurrent clients, zero errors.
(Latency is reported by benchmarks/load.py, never asserted: it depends on the machine.)"""
from __future__ import annotations

import httpx

from benchmarks.load import run_load


def test_concurrent_mixed_requests_have_no_errors(live_server_process):
    url, proc = live_server_process
    result = run_load(url, clients=8, seconds=3, pid=proc.pid)
    assert result["requests"] >= 8
    assert result["errors"] == 0, result["error_samples"]
    assert httpx.get(url + "/healthz").status_code == 200
