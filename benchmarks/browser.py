"""Animation frame times and time to first plot, in headless Chromium (Debian's), per page.

    .venv/bin/python benchmarks/browser.py [--frames 200] [--url http://127.0.0.1:8000]

Without --url it starts `python -m app` on a free port. A frame is one step of the window: the page's
own step function plus the style and layout it causes (forced by reading layout), timed with
performance.now() inside the page. Paint is not included; it happens off the main thread's timing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = {
    "conv (colour, 3x3, 3->4)": "/conv",
    "conv (512x512 random, 3x3 3->16)": "/conv?in=random%3A3%2C512%2C512%2C0%2Cnormal&co=16",
    "pointwise (colour, ycbcr)": "/pointwise?in=sample%3Acolour&w=preset%3Aycbcr",
}
MEASURE = """async (frames) => {
  const hook = window.__convlens;
  const times = [];
  for (let i = 0; i < frames; i++) {
    const t0 = performance.now();
    hook.step(1);
    document.body.offsetHeight;  // force style and layout into the measurement
    times.push(performance.now() - t0);
    await new Promise((r) => requestAnimationFrame(r));
  }
  return {times, firstPlotMs: hook.firstPlotMs, firstOutputMs: hook.firstOutputMs,
          domContentLoadedMs: performance.timing.domContentLoadedEventEnd - performance.timing.navigationStart};
}"""


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def measure(url: str, frames: int) -> dict:
    from playwright.sync_api import sync_playwright
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, path in PAGES.items():
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url + path)
            try:
                page.wait_for_function("window.__convlens && window.__convlens.ready", timeout=30000)
            except Exception:
                results[name] = {"error": "page did not become ready"}
                continue
            r = page.evaluate(MEASURE, frames)
            results[name] = {"frames": frames, "median_ms": statistics.median(r["times"]),
                             "p95_ms": pct(r["times"], 95), "first_plot_ms": r["firstPlotMs"],
                             "first_output_ms": r["firstOutputMs"], "dom_content_loaded_ms": r["domContentLoadedMs"]}
            page.close()
        browser.close()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--url")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "browser.json")
    args = ap.parse_args()
    if args.url:
        results = measure(args.url, args.frames)
    else:
        from benchmarks.server import running_server
        with running_server() as url:
            results = measure(url, args.frames)
    print("times after navigation start: DOM ready, first output drawn (canvas), first Plotly plot")
    print(f"{'page':40} {'median ms':>10} {'p95 ms':>8} {'DOM ready':>10} {'1st output':>11} {'1st plot':>9}")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:40} {r['error']}")
        else:
            print(f"{name:40} {r['median_ms']:10.2f} {r['p95_ms']:8.2f} {r['dom_content_loaded_ms']:10.0f} "
                  f"{r['first_output_ms']:11.0f} {r['first_plot_ms']:9.0f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
