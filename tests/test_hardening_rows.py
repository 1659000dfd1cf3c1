"""Issue 14's table, row by row, against a live server with 2 workers (the store and measure rows are in
tests/test_store_*.py and tests/test_cost_lab.py). Each row asserts the refusal and its message, that the
same worker processes still answer (none was killed and replaced), and that the server's resident
memory (all its processes) grew by less than a stated bound while the row ran."""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import running_app, tree_rss_mb, worker_pids

HEAVY = {"input": {"kind": "random", "shape": [256, 56, 56]}, "layer": {"out_channels": 512, "padding": 1}}
HEAVY_MACS = 256 * 512 * 9 * 56 * 56  # 3.7 G, under max_macs (4 G): the "3.8 G MAC" requests


class PeakRss:
    """Samples the server's resident memory every 50 ms while a row runs."""

    def __init__(self, pid: int):
        self.pid, self.before, self.peak, self._stop = pid, tree_rss_mb(pid), 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return max(self.peak, tree_rss_mb(self.pid)) - self.before


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # No queueing here (heavy_queue_s 0), so whether a request is turned away does not depend on how fast
    # this machine runs the others; the wait itself is tested in test_hardening_limits.py.
    env = {"CONVLENS_MAX_HEAVY_REQUESTS": "2", "CONVLENS_HEAVY_QUEUE_S": "0"}
    with running_app(tmp_path_factory, env, workers=2) as (url, proc, log):
        yield url, proc


@pytest.fixture
def row(server):
    """Yields (client, the memory probe); afterwards the same workers answer /healthz."""
    url, proc = server
    pids = worker_pids(proc)
    with httpx.Client(base_url=url, timeout=60) as c:
        c.post("/api/convolve", json={})  # imports and samples loaded before the baseline
        with PeakRss(proc.pid) as rss:
            yield c, rss
        assert c.get("/healthz").json()["status"] == "ok"
    assert worker_pids(proc) == pids, "a worker died and was replaced"


def test_row_json_with_millions_of_keys(row):
    c, rss = row
    huge = json.dumps({f"k{i}": i for i in range(2_900_000)}).encode()  # the 30.8 MB, 2.9 M keys
    assert len(huge) > 30 * 2**20
    under_cap = json.dumps({f"k{i}": 0 for i in range(500_000)}).encode()
    assert len(under_cap) < 8 * 2**20  # under the JSON byte cap: refused for its keys

    def others():  # another client's requests while the big bodies are refused
        with httpx.Client(base_url=str(c.base_url), timeout=30) as o:
            return [o.get("/healthz").status_code for _ in range(20)]
    with ThreadPoolExecutor(1) as pool:
        side = pool.submit(others)
        big = c.post("/api/layer/check", content=huge, headers={"content-type": "application/json"})
        keys = c.post("/api/layer/check", content=under_cap, headers={"content-type": "application/json"})
        assert side.result() == [200] * 20
    assert big.status_code == 413 and big.json()["error"]["limit"] == "CONVLENS_MAX_JSON_BYTES"
    assert keys.status_code == 413 and keys.json()["error"]["limit"] == "CONVLENS_MAX_JSON_KEYS"
    assert "500,000 object keys; at most 100,000" in keys.json()["error"]["message"]
    assert rss.growth_mb < 150, f"{rss.growth_mb:.0f} MB"  # json.loads of 1 M keys alone was +1.1 GB


def test_row_fc_endpoint_without_a_mac_check(row):
    c, rss = row
    r = c.post("/api/pointwise/fc", json={"channels": 256, "block": 16, "outputs": 256, "size": 64})
    assert r.status_code == 413 and "at most" in r.json()["error"]["message"]
    assert rss.growth_mb < 50, f"{rss.growth_mb:.0f} MB"


def test_row_list_encoding_at_the_output_limit(row):
    c, rss = row
    r = c.post("/api/convolve", json={"input": {"kind": "random", "shape": [1, 4096, 4096]},
                                      "layer": {"out_channels": 2, "kernel_size": 1}, "encoding": "list"})
    assert r.status_code == 413 and "encoding list" in r.json()["error"]["message"]
    assert rss.growth_mb < 40, f"{rss.growth_mb:.0f} MB"  # refused from shapes: its 64 MB input is never made


def test_row_eight_concurrent_heavy_requests(row):
    """At most 2 run at once per worker; the others get 503 with Retry-After (after heavy_queue_s, 0 here)
    instead of all sharing the CPU for 16 s each."""
    c, rss = row
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: c.post("/api/convolve", json=HEAVY), range(8)))
    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {200, 503} and codes.count(200) >= 2, codes
    busy = [r for r in answers if r.status_code == 503]
    assert busy, "no request was asked to come back: admission control did nothing"
    assert all(int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "busy" for r in busy)
    assert all(r.json()["cost"]["macs"] == HEAVY_MACS for r in answers if r.status_code == 200)
    # 2 workers × 2 slots × (input 3 MB + output 6 MB + weights 5 MB + bands + 9 MB of base64) ≈ 250 MB
    assert rss.growth_mb < 400, f"{rss.growth_mb:.0f} MB"
