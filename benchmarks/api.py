"""Whole-request time of POST /api/convolve against the engine's own time, in one server process.

    .venv/bin/python benchmarks/api.py [--repeats 15]

Case (issue 6): a 512×512 RGB input, 3×3 3→16 convolution, default (base64) encoding. The server is
`python -m app` on loopback; the engine time is the one the server reports (X-Engine-Ms / engine_ms),
so both numbers come from the same requests. Overhead = request − engine: validation, the input, the
weights, encoding, JSON and HTTP. It also checks plotly.js's static serving: cache headers and a 304.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.server import running_server  # noqa: E402


def png_512() -> bytes:
    y, x = np.mgrid[0:512, 0:512]
    rgb = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "api.json")
    args = ap.parse_args()
    results = {}
    with running_server() as url, httpx.Client(base_url=url, timeout=120) as c:
        up = c.post("/api/inputs", files={"file": ("rgb512.png", png_512())}).json()
        body = {"input": {"kind": "upload", "id": up["id"]},
                "layer": {"out_channels": 16, "kernel_size": 3, "padding": 1}, "weights": {"kind": "random"}}
        for encoding in ("base64", "npy", "list"):
            totals, engines, size = [], [], 0
            for i in range(args.repeats + 2 if encoding != "list" else 3):
                t0 = time.perf_counter()
                r = c.post("/api/convolve", json={**body, "encoding": encoding})
                dt = (time.perf_counter() - t0) * 1e3
                r.raise_for_status()
                engine = float(r.headers["x-engine-ms"]) if encoding == "npy" else r.json()["engine_ms"]
                if i >= 2 or encoding == "list":  # the first two warm up
                    totals.append(dt)
                    engines.append(engine)
                size = len(r.content)
            t, e = statistics.median(totals), statistics.median(engines)
            results[encoding] = {"request_ms": t, "engine_ms": e, "overhead_ms": t - e,
                                 "overhead_pct_of_engine": 100 * (t - e) / e, "response_bytes": size}
        js = c.get("/static/vendor/plotly-cartesian.min.js")
        again = c.get("/static/vendor/plotly-cartesian.min.js", headers={"if-none-match": js.headers["etag"]})
        results["static"] = {"cache_control": js.headers.get("cache-control"), "etag": js.headers.get("etag"),
                             "content_encoding": js.headers.get("content-encoding"), "conditional_status": again.status_code}
    print(f"{'encoding':10} {'request ms':>11} {'engine ms':>10} {'overhead ms':>12} {'overhead %':>11} {'bytes':>12}")
    for k, v in results.items():
        if k != "static":
            print(f"{k:10} {v['request_ms']:11.1f} {v['engine_ms']:10.1f} {v['overhead_ms']:12.1f} "
                  f"{v['overhead_pct_of_engine']:11.0f} {v['response_bytes']:12,}")
    print("plotly.js:", results["static"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
