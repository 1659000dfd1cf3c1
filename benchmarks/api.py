"""Whole-request time of POST /api/convolve against the engine's own time, in one server process.

    .venv/bin/python benchmarks/api.py [--repeats 15]

Case (issue 6): a 512×512 RGB input, 3×3 3→16 convolution (a 16 MB float32 output). The server is
`python -m app` on loopback; the engine time is the one the server reports (X-Engine-Ms / engine_ms),
so both numbers come from the same requests. Overhead = request − engine: validation, the input, the
weights, encoding, framework and HTTP. Requests go through http.client, a lean client, so the client's
own parsing adds little (httpx adds ~20 ms reading 16 MB here; its figure is printed too).

The peer, measured in the same run: moving the same number of bytes through a loopback TCP socket
between two threads with no HTTP at all. That is the floor for any encoding that sends every value.
It also checks plotly.js's static serving: cache headers and a 304.
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.server import running_server  # noqa: E402

ENCODINGS = ("binary", "npy", "base64", "list")


def png_512() -> bytes:
    y, x = np.mgrid[0:512, 0:512]
    rgb = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def loopback_ms(nbytes: int, repeats: int) -> float:
    """Median time to send nbytes through a loopback TCP socket and receive them all."""
    payload = bytes(nbytes)
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)

        def serve():
            conn, _ = srv.accept()
            with conn:
                for _ in range(repeats + 2):
                    conn.recv(1)
                    conn.sendall(payload)
        threading.Thread(target=serve, daemon=True).start()
        buf = memoryview(bytearray(nbytes))
        times = []
        with socket.create_connection(srv.getsockname()) as cl:
            for _ in range(repeats + 2):
                t0 = time.perf_counter()
                cl.sendall(b"x")
                got = 0
                while got < nbytes:
                    got += cl.recv_into(buf[got:])
                times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times[2:])


def timed_requests(port: int, body: dict, repeats: int) -> tuple[list[float], list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    payload = json.dumps(body)
    totals, engines, size = [], [], 0
    for i in range(repeats + 2):
        t0 = time.perf_counter()
        conn.request("POST", "/api/convolve", payload, {"content-type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        dt = (time.perf_counter() - t0) * 1e3
        assert resp.status == 200, data[:300]
        if i >= 2:  # the first two warm up
            totals.append(dt)
            engines.append(float(resp.getheader("x-engine-ms")))
        size = len(data)
    conn.close()
    return totals, engines, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "api.json")
    args = ap.parse_args()
    results = {}
    with running_server() as url, httpx.Client(base_url=url, timeout=120) as c:
        port = int(url.rsplit(":", 1)[1])
        up = c.post("/api/inputs", files={"file": ("rgb512.png", png_512())}).json()
        body = {"input": {"kind": "upload", "id": up["id"]},
                "layer": {"out_channels": 16, "kernel_size": 3, "padding": 1}, "weights": {"kind": "random"}}
        for encoding in ENCODINGS:
            totals, engines, size = timed_requests(port, {**body, "encoding": encoding},
                                                   args.repeats if encoding != "list" else 1)
            t, e = statistics.median(totals), statistics.median(engines)
            floor = loopback_ms(size, args.repeats)
            results[encoding] = {"request_ms": t, "engine_ms": e, "overhead_ms": t - e,
                                 "overhead_pct_of_engine": 100 * (t - e) / e, "response_bytes": size,
                                 "loopback_floor_ms": floor, "overhead_beyond_floor_ms": t - e - floor}
        httpx_ms = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            c.post("/api/convolve", json={**body, "encoding": "binary"}).raise_for_status()
            httpx_ms.append((time.perf_counter() - t0) * 1e3)
        results["binary"]["request_ms_httpx"] = statistics.median(httpx_ms)
        js = c.get("/static/vendor/plotly-cartesian.min.js")
        again = c.get("/static/vendor/plotly-cartesian.min.js", headers={"if-none-match": js.headers["etag"]})
        results["static"] = {"cache_control": js.headers.get("cache-control"), "etag": js.headers.get("etag"),
                             "content_encoding": js.headers.get("content-encoding"), "conditional_status": again.status_code}
    print(f"{'encoding':9} {'request ms':>10} {'engine ms':>9} {'overhead ms':>11} {'% of engine':>11} "
          f"{'bytes':>11} {'loopback floor ms':>17} {'overhead − floor ms':>19}")
    for k in ENCODINGS:
        v = results[k]
        print(f"{k:9} {v['request_ms']:10.1f} {v['engine_ms']:9.1f} {v['overhead_ms']:11.1f} "
              f"{v['overhead_pct_of_engine']:11.0f} {v['response_bytes']:11,} {v['loopback_floor_ms']:17.1f} "
              f"{v['overhead_beyond_floor_ms']:19.1f}")
    print(f"binary through httpx (app.client): {results['binary']['request_ms_httpx']:.1f} ms per request")
    print("plotly.js:", results["static"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
