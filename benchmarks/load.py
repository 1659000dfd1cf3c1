"""A bounded load test on loopback: mixed convolve, trace and cost requests from concurrent clients.

    .venv/bin/python benchmarks/load.py [--clients 32] [--seconds 60] [--workers 2]

Starts `convlens serve --workers N` (python -m app) on a free port unless --url is given, runs for a
fixed time, and reports requests per second, p50 and p99 latency, errors and the server's peak
resident memory (all its processes). It sends traffic to 127.0.0.1 only and stops by itself.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REQUESTS = [
    ("/api/convolve", {"input": {"kind": "sample", "name": "colour"}, "layer": {"out_channels": 8, "padding": 1}}),
    ("/api/convolve", {"input": {"kind": "random", "shape": [64, 28, 28], "seed": 3},
                       "layer": {"out_channels": 16, "kernel_size": 1}}),
    ("/api/trace", {"input": {"kind": "sample", "name": "edges"}, "layer": {"padding": 1},
                    "weights": {"kind": "preset", "name": "sobel_x"},
                    "region": {"row_start": 0, "row_stop": 12, "col_start": 0, "col_stop": 12}}),
    ("/api/cost", {"input_shape": [192, 28, 28], "designs": [{"layers": [
        {"op": "conv", "out": 64, "k": 1}, {"op": "conv", "out": 128, "k": 3, "padding": 1}]}]}),
    ("/api/layer/check", {"input": {"kind": "sample", "name": "colour"}, "layer": {"groups": 3, "out_channels": 6}}),
]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn's workers)."""
    total, pids = 0.0, [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except FileNotFoundError:
            pass
    return total


async def _client(url: str, deadline: float, index: int, latencies: list, errors: list) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        k = index
        while time.monotonic() < deadline:
            path, body = REQUESTS[k % len(REQUESTS)]
            k += 1
            t0 = time.perf_counter()
            try:
                r = await c.post(path, json=body)
                if r.status_code != 200:
                    errors.append(f"{path} {r.status_code}")
            except httpx.HTTPError as exc:
                errors.append(f"{path} {type(exc).__name__}")
            latencies.append((time.perf_counter() - t0) * 1e3)


async def _run(url: str, clients: int, seconds: float, pid: int | None) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    peak = [0.0]
    deadline = time.monotonic() + seconds

    async def watch():
        while time.monotonic() < deadline:
            if pid:
                peak[0] = max(peak[0], tree_rss_mb(pid))
            await asyncio.sleep(0.2)
    start = time.monotonic()
    await asyncio.gather(watch(), *[_client(url, deadline, i, latencies, errors) for i in range(clients)])
    elapsed = time.monotonic() - start
    lat = sorted(latencies)
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(lat), "rps": len(lat) / elapsed,
            "p50_ms": statistics.median(lat), "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
            "errors": len(errors), "error_samples": errors[:5], "peak_rss_mb": peak[0]}


def run_load(url: str, clients: int, seconds: float, pid: int | None = None) -> dict:
    """Runs the clients on their own event loop in a helper thread, so it also works from code that
    already has a loop running (the test suite, after Playwright's sync API has started one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _run(url, clients, seconds, pid)).result()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--url")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "load.json")
    args = ap.parse_args()
    if args.url:
        result = run_load(args.url, args.clients, args.seconds)
    else:
        from benchmarks.server import running_server
        with running_server(workers=args.workers, with_process=True) as (url, proc):
            result = run_load(url, args.clients, args.seconds, proc.pid)
    result["workers"] = args.workers
    print(json.dumps(result, indent=2))
    print(f"p99/p50 = {result['p99_ms'] / result['p50_ms']:.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
