"""Replicas sharing one store (issue 17): separate server processes, each under its own host name when
the machine allows it (so the store's host tags differ, as on several hosts), with one data directory.
An upload through one is read through any other; concurrent uploads through all of them keep one quota
and a consistent store; behind nginx, a replica stopped mid-load and a rolling restart lose no request."""
from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from benchmarks.replicas import Replica, can_unshare, load_during, running_nginx, upload_check
from tests.test_store_concurrency import assert_consistent, npy_bytes

OWN_HOSTS = can_unshare()


@contextlib.contextmanager
def replicas(tmp_path: Path, n: int = 3, env: dict | None = None):
    group = [Replica(f"replica-{i + 1}", tmp_path / "data", tmp_path, OWN_HOSTS, env) for i in range(n)]
    try:
        for r in group:
            r.start()
        for r in group:
            r.wait_ready()
        yield group
    finally:
        for r in group:
            r.stop()


def test_concurrent_uploads_through_three_replicas_keep_one_quota(tmp_path):
    """24 distinct 2 MiB uploads at once, spread over 3 replicas, against one 16 MiB quota: each is stored
    (201, and fetchable through every replica right after) or refused with 507; the store ends consistent
    and within the one quota (per-replica accounting would have stored up to three times as much)."""
    quota = 16 * 2**20
    with replicas(tmp_path, env={"CONVLENS_STORE_QUOTA_BYTES": str(quota)}) as group:
        uploads = [npy_bytes(np.full((1, 512, 1024), k, np.float32)) for k in range(24)]  # 2 MiB each

        def upload(k: int) -> tuple[int, str]:
            r = httpx.post(f"{group[k % 3].url}/api/inputs", files={"file": ("t.npy", uploads[k])}, timeout=120)
            return r.status_code, r.json()["id"] if r.status_code == 201 else r.text
        with ThreadPoolExecutor(24) as pool:
            results = list(pool.map(upload, range(24)))
        statuses = sorted(s for s, _ in results)
        print(f"24 concurrent 2 MiB uploads over 3 replicas, 16 MiB quota: {statuses.count(201)} × 201, "
              f"{statuses.count(507)} × 507 (host names of their own: {OWN_HOSTS})")
        assert set(statuses) <= {201, 507}, results
        assert 1 <= statuses.count(201) <= 7  # 16 MiB holds 7 inputs of 2 MiB + a 4 KiB block
        assert all("the upload store is full" in text for s, text in results if s == 507)
        for s, input_id in results:
            if s == 201:
                assert {httpx.get(f"{r.url}/api/inputs/{input_id}").status_code for r in group} == {200}
    root = tmp_path / "data" / "inputs"
    assert assert_consistent(root) == statuses.count(201)
    assert sum(p.stat().st_blocks * 512 for p in root.glob("*.npy")) <= quota


def test_behind_nginx_an_upload_is_served_anywhere_and_stops_lose_no_request(tmp_path):
    with replicas(tmp_path) as group, running_nginx([r.port for r in group]) as (proxy, _):
        check = upload_check(group, proxy)  # upload via replica 1; read via 2, 3 and nginx; convolve via 3
        assert set(check["read_via"].values()) == {200}
        assert httpx.get(f"{proxy}/metrics").status_code == 404  # the proxy keeps /metrics private

        def stop_second():
            import time
            time.sleep(2)
            group[1].stop()
        stopped = load_during(proxy, clients=8, seconds=6, action=stop_second)
        print("a replica stopped mid-load:", {k: stopped[k] for k in ("requests", "rps", "p99_ms", "errors")})
        assert stopped["requests"] > 0 and stopped["errors"] == 0, stopped["error_samples"]
        assert group[1].proc.poll() is not None
        group[1].start()
        group[1].wait_ready()

        def rolling():
            for r in group:
                r.stop()
                r.start()
                r.wait_ready()
        rolled = load_during(proxy, clients=8, seconds=6, action=rolling)
        print("rolling restart:", {k: rolled[k] for k in ("requests", "rps", "p99_ms", "errors")})
        assert rolled["requests"] > 0 and rolled["errors"] == 0, rolled["error_samples"]
