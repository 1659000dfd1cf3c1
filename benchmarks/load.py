"""A bounded load test on loopback: mixed convolve, trace and cost requests from concurrent clients.

    .venv/bin/python benchmarks/load.py [--clients 32] [--seconds 60] [--workers 2] [--abuse [N]]

Starts `convlens serve --workers N` (python -m app) on a free port unless --url is given, runs for a
fixed time, and reports requests per second, p50 and p99 latency, errors and the server's peak
resident memory (all its processes). It sends traffic to 127.0.0.1 only and stops by itself.

With --abuse, N more clients (default 4) send the issue 14 abuse mix in turn beside the well-behaved
clients: million-key and over-size JSON, deep nesting, the 40 G MAC FC request, "list" at the output
limit, 3.7 G MAC convolutions, a 1 MB header, unfinished headers and a body shorter than its
Content-Length. The well-behaved clients' figures are reported apart from the abusers' answers.
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


_KEYS = json.dumps({f"k{i}": 0 for i in range(500_000)}).encode()  # 7.4 MB: under the JSON byte cap, over its key cap
ABUSE = [  # name, method, path, request arguments
    ("json_keys", "/api/layer/check", {"content": _KEYS, "headers": {"content-type": "application/json"}}),
    ("json_30mb", "/api/layer/check", {"content": b" " * (30 * 2**20), "headers": {"content-type": "application/json"}}),
    ("json_deep", "/api/convolve", {"content": b"[" * 100_000, "headers": {"content-type": "application/json"}}),
    ("fc_40g_macs", "/api/pointwise/fc", {"json": {"channels": 256, "block": 16, "outputs": 256, "size": 64}}),
    ("list_at_output_limit", "/api/convolve", {"json": {"input": {"kind": "random", "shape": [1, 4096, 4096]},
                                                        "layer": {"out_channels": 2, "kernel_size": 1},
                                                        "encoding": "list"}}),
    ("conv_3.7g_macs", "/api/convolve", {"json": {"input": {"kind": "random", "shape": [256, 56, 56]},
                                                  "layer": {"out_channels": 512, "padding": 1}}}),
    ("header_1mb", "/healthz", {"headers": {"x-big": "a" * 2**20}}),
]
RAW_ABUSE = [  # name, bytes sent, then the connection is held until the server closes it
    ("unfinished_headers", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "),
    ("short_body", b"POST /api/convolve HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 1000\r\n\r\n{"),
]


async def _raw(url: str, data: bytes, deadline: float) -> str:
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    try:
        answer = await asyncio.wait_for(reader.read(), max(0.1, deadline - time.monotonic() + 30))
        return answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1 ") else "closed"
    except asyncio.TimeoutError:
        return "still open"
    finally:
        writer.close()


async def _abuser(url: str, deadline: float, index: int, seen: dict) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        k = index
        while time.monotonic() < deadline:
            kinds = len(ABUSE) + len(RAW_ABUSE)
            i, k = k % kinds, k + 1
            try:
                if i < len(ABUSE):
                    name, path, kw = ABUSE[i]
                    r = await (c.get(path, **kw) if path == "/healthz" else c.post(path, **kw))
                    outcome = str(r.status_code)
                else:
                    name, data = RAW_ABUSE[i - len(ABUSE)]
                    outcome = await _raw(url, data, deadline)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            seen.setdefault(name, {}).setdefault(outcome, 0)
            seen[name][outcome] += 1


async def _run(url: str, clients: int, seconds: float, pid: int | None, abusers: int = 0) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    abuse: dict = {}
    peak = [0.0]
    deadline = time.monotonic() + seconds

    async def watch():
        while time.monotonic() < deadline:
            if pid:
                peak[0] = max(peak[0], tree_rss_mb(pid))
            await asyncio.sleep(0.2)
    start = time.monotonic()
    await asyncio.gather(watch(), *[_client(url, deadline, i, latencies, errors) for i in range(clients)],
                         *[_abuser(url, deadline, i, abuse) for i in range(abusers)])
    elapsed = time.monotonic() - start
    lat = sorted(latencies)
    result = {"clients": clients, "seconds": round(elapsed, 1), "requests": len(lat), "rps": len(lat) / elapsed,
              "p50_ms": statistics.median(lat), "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
              "errors": len(errors), "error_samples": errors[:5], "peak_rss_mb": peak[0]}
    if abusers:
        result["abusers"] = abusers
        result["abuse_answers"] = abuse
    return result


def run_load(url: str, clients: int, seconds: float, pid: int | None = None, abusers: int = 0) -> dict:
    """Runs the clients on their own event loop in a helper thread, so it also works from code that
    already has a loop running (the test suite, after Playwright's sync API has started one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _run(url, clients, seconds, pid, abusers)).result()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--abuse", type=int, nargs="?", const=4, default=0, metavar="N",
                    help="N more clients sending the issue 14 abuse mix (default 4)")
    ap.add_argument("--url")
    ap.add_argument("--json", type=Path, help="where to write the result (default results/load.json, "
                                              "or results/load-abuse.json with --abuse)")
    args = ap.parse_args()
    if args.url:
        result = run_load(args.url, args.clients, args.seconds, abusers=args.abuse)
    else:
        from benchmarks.server import running_server
        with running_server(workers=args.workers, with_process=True) as (url, proc):
            result = run_load(url, args.clients, args.seconds, proc.pid, args.abuse)
    result["workers"] = args.workers
    print(json.dumps(result, indent=2))
    print(f"p99/p50 = {result['p99_ms'] / result['p50_ms']:.1f}")
    out = args.json or Path(__file__).parent / "results" / ("load-abuse.json" if args.abuse else "load.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
