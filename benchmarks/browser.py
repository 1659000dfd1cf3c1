"""Animation frame times and time to first plot, in headless Chromium (Debian's), per page.

    .venv/bin/python benchmarks/browser.py [--frames 200] [--url http://127.0.0.1:8000]

Without --url it starts `python -m app` on a free port. A frame is one step of the window: the page's
own step function plus the style and layout it causes (forced by reading layout), timed with
performance.now() inside the page. Paint is not included; it happens off the main thread's timing.

Each page is opened three times in one fresh browser profile (a real one on disk, as a user has):
the first visit has nothing cached; by the third, Chromium serves plotly.js from its HTTP cache with
V8's code cache (made on the second visit), which skips compiling it. Both are reported: "cold" is a
first-time visitor, "warm" everyone after. Frames are timed on the cold visit.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
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


def open_ready(context, url: str):
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.__convlens && window.__convlens.ready", timeout=30000)
    return page


TIMES = """() => ({firstPlotMs: window.__convlens.firstPlotMs, firstOutputMs: window.__convlens.firstOutputMs,
  domContentLoadedMs: performance.timing.domContentLoadedEventEnd - performance.timing.navigationStart})"""


def measure(url: str, frames: int) -> dict:
    from playwright.sync_api import sync_playwright
    results = {}
    with sync_playwright() as p:
        for name, path in PAGES.items():
            with tempfile.TemporaryDirectory(prefix="convlens-profile-") as profile:
                context = p.chromium.launch_persistent_context(profile, executable_path="/usr/bin/chromium",
                                                               args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000})
                try:
                    page = open_ready(context, url + path)
                except Exception:
                    results[name] = {"error": "page did not become ready"}
                    context.close()
                    continue
                r = page.evaluate(MEASURE, frames)
                page.close()
                for _ in range(2):  # the second visit makes the code cache, the third uses it
                    page = open_ready(context, url + path)
                    warm = page.evaluate(TIMES)
                    page.close()
                context.close()
            results[name] = {"frames": frames, "median_ms": statistics.median(r["times"]),
                             "p95_ms": pct(r["times"], 95), "first_plot_ms": r["firstPlotMs"],
                             "first_output_ms": r["firstOutputMs"], "dom_content_loaded_ms": r["domContentLoadedMs"],
                             "warm_first_plot_ms": warm["firstPlotMs"], "warm_first_output_ms": warm["firstOutputMs"],
                             "warm_dom_content_loaded_ms": warm["domContentLoadedMs"]}
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
    print("ms after navigation start: DOM ready, first output drawn (canvas), first Plotly plot; "
          "cold = first visit, warm = third visit (code cache)")
    print(f"{'page':34} {'frame med':>9} {'p95':>6} {'DOM':>5} {'output':>7} {'plot':>6} "
          f"{'warm DOM':>9} {'output':>7} {'plot':>6}")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:34} {r['error']}")
        else:
            print(f"{name:34} {r['median_ms']:9.2f} {r['p95_ms']:6.1f} {r['dom_content_loaded_ms']:5.0f} "
                  f"{r['first_output_ms']:7.0f} {r['first_plot_ms']:6.0f} {r['warm_dom_content_loaded_ms']:9.0f} "
                  f"{r['warm_first_output_ms']:7.0f} {r['warm_first_plot_ms']:6.0f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
