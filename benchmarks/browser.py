"""Control change → pixels on screen, animation frame times and time to first plot, in headless
Chromium (Debian's), per page.

    .venv/bin/python benchmarks/browser.py [--changes 11] [--frames 200] [--url http://127.0.0.1:8000]

Control change → pixels (issue 11 §3): on /conv, the kernel height is switched between 3 and 5 as a
user types it (an `input` event on the field), on a built-in sample and on a 1024×768 photo upload.
The page's shell (static/js/shell.js) stamps, in ms from the event: "api" when every answer needed for
the first drawing is in (one POST /api/convolve/view: the layer check, the convolution and the
region's first traces), "output" when the first output is drawn (canvas thumbnails of every output
channel), "all" when every plot is redrawn and one more frame has been painted (requestAnimationFrame,
then a task). Medians over the changes. Beside them, "API alone": the same request from Python, as
the page sends it, without a browser.

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
import time
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


CHANGE = """async ([id, value]) => {
  const hook = window.__convlens, before = hook.loads, el = document.getElementById(id);
  el.value = value;
  el.dispatchEvent(new Event('input', {bubbles: true}));
  while (hook.loads === before) await new Promise((r) => setTimeout(r, 2));
  return hook.last;
}"""


def photo_png(h: int = 768, w: int = 1024) -> bytes:
    """A photo-like 1024×768 RGB picture (smooth shading, edges and noise), made in memory."""
    import io

    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([np.sin(9 * x) * 0.3 + 0.5, np.cos(7 * y) * 0.3 + 0.5, (x + y) / 2], axis=-1)
    img[h // 3: h // 2, w // 4: w // 2] = [0.9, 0.2, 0.1]
    img = np.clip(img + rng.normal(0, 0.04, img.shape), 0, 1)
    buf = io.BytesIO()
    Image.fromarray((img * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def api_alone_ms(url: str, input_spec: dict, kernel_h: int, repeats: int) -> float:
    """/conv's request for one change, from Python, as the page sends it: the view (check, convolution
    as a binary frame with the output at preview size, no input: it is unchanged, and the traces of the
    region's first and last positions). Median ms over repeats, after one warm-up."""
    import httpx
    layer = {"stride": 1, "padding": 1, "dilation": 1, "bias": True, "flip": False, "activation": "none",
             "out_channels": 4, "kernel_size": [kernel_h, 3], "groups": 1}
    body = {"input": input_spec, "layer": layer, "weights": {"kind": "random", "seed": 0}, "encoding": "binary",
            "preview_size": 400}
    with httpx.Client(base_url=url, timeout=60) as c:
        region = c.post("/api/convolve", json={**body, "region_size": 12, "encoding": "base64"}).json()["region"]
        trace = {"channel": 0, "row": region["row_start"], "col": region["col_start"], "size": 12, "upto": 0}
        return _median_ms(lambda: c.post("/api/convolve/view", json={**body, "trace": trace}).raise_for_status(),
                          repeats)


def pointwise_api_alone_ms(url: str, input_spec: dict, out_channels: int, repeats: int) -> float:
    """/pointwise's request for one change of C_out, from Python, as the page sends it: the view (check,
    convolution as a binary frame, output at preview size, no input: it is unchanged; on an input larger
    than the preview, every output channel's trace at the pixel shown). Median ms over repeats, after one
    warm-up."""
    import httpx
    body = {"input": input_spec, "layer": {"kernel_size": 1, "activation": "none", "out_channels": out_channels,
                                           "bias": True}, "weights": {"kind": "random", "seed": 0},
            "encoding": "binary", "preview_size": POINTWISE_PREVIEW}
    with httpx.Client(base_url=url, timeout=60) as c:
        layer_only = {k: body[k] for k in ("input", "layer", "weights")}
        shape = c.post("/api/layer/check", json=layer_only).json()["input"]["shape"]
        if max(shape[1:]) > POINTWISE_PREVIEW:
            body["trace"] = {"row": shape[1] // 2, "col": shape[2] // 2, "size": 1, "all_channels": True}
        return _median_ms(lambda: c.post("/api/convolve/view", json=body).raise_for_status(), repeats)


def transposed_api_alone_ms(url: str, kernel_h: int, repeats: int) -> float:
    """/transposed's request for one change of the kernel height (random weights, edges sample), from
    Python, as the page sends it: the view (check, run as a binary frame with the input and the
    zero-inserted input, and both readings of the 6×6 square the page animates). Median ms over repeats,
    after one warm-up."""
    import httpx
    body = {"input": {"kind": "sample", "name": "edges"}, "weights": {"kind": "random", "seed": 0},
            "layer": {"stride": 2, "output_padding": 0, "dilation": 1, "padding": 1, "out_channels": 2,
                      "kernel_size": [kernel_h, 3], "groups": 1},
            "encoding": "binary", "include_input": True, "region_size": 6, "trace": {"channel": 0, "size": 6}}
    with httpx.Client(base_url=url, timeout=60) as c:
        return _median_ms(lambda: c.post("/api/transposed/view", json=body).raise_for_status(), repeats)


def _median_ms(call, repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


POINTWISE_PREVIEW = 512  # static/js/pointwise.js OUTPUT_PREVIEW


def measure_changes(url: str, changes: int, only: str = "") -> dict:
    """Control change → pixels on /conv (kernel height 3 ↔ 5) and /pointwise (C_out 4 ↔ 5, random
    weights), on a sample and on a 1024×768 upload, and on /transposed (kernel height 3 ↔ 5, random
    weights, the edges sample); and the API alone."""
    import httpx
    from playwright.sync_api import sync_playwright
    up = httpx.post(url + "/api/inputs", files={"file": ("photo.png", photo_png(), "image/png")}, timeout=60).json()
    photo = {"kind": "upload", "id": up["id"]}
    conv = lambda spec: lambda: api_alone_ms(url, spec, 5, changes)  # noqa: E731
    pw = lambda spec: lambda: pointwise_api_alone_ms(url, spec, 5, changes)  # noqa: E731
    cases = {"conv, colour sample 96×128": ("/conv", "kernel-h", ("3", "5"), conv({"kind": "sample", "name": "colour"})),
             "conv, 1024×768 upload": (f"/conv?in=upload%3A{up['id']}", "kernel-h", ("3", "5"), conv(photo)),
             "pointwise, colour sample": ("/pointwise?w=random&co=4", "out-channels", ("4", "5"),
                                          pw({"kind": "sample", "name": "colour"})),
             "pointwise, 1024×768 upload": (f"/pointwise?in=upload%3A{up['id']}&w=random&co=4", "out-channels",
                                            ("4", "5"), pw(photo)),
             "transposed, edges sample": ("/transposed?w=random", "kernel-h", ("3", "5"),
                                          lambda: transposed_api_alone_ms(url, 5, changes))}
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, (path, control, (a, b), alone) in cases.items():
            if only not in name:
                continue
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url + path)
            wait_ready(page)
            page.evaluate(CHANGE, [control, b])  # one change to warm up (plotly.js compiled, caches filled)
            runs = [page.evaluate(CHANGE, [control, a if i % 2 == 0 else b]) for i in range(changes)]
            page.close()
            med = lambda k: statistics.median(r[k] for r in runs if r.get(k) is not None)  # noqa: E731
            results[name] = {"changes": changes, "api_ms": med("api"), "output_ms": med("output"),
                             "all_ms": med("painted"), "api_alone_ms": alone()}
        browser.close()
    return results


def wait_ready(page, timeout_s: float = 60) -> None:
    """Poll the page's ready hook with page.evaluate: Playwright's wait_for_function evals its predicate
    inside the page, which the app's CSP forbids (no 'unsafe-eval')."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate("() => !!(window.__convlens && window.__convlens.ready)"):
        if time.monotonic() > deadline:
            raise TimeoutError("page did not become ready")
        page.wait_for_timeout(20)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def open_ready(context, url: str):
    page = context.new_page()
    page.goto(url)
    wait_ready(page, 30)
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


LEARN_DRAWN = "() => (window.__learn && window.__learn.drawnMs.convolution) || null"


def measure_learn(url: str, visits: int = 3) -> dict:
    """/learn (issue 12): ms from navigation start until its first step's live figure is drawn (the
    steps below load as they scroll into view), on a first visit (cold) and on the third (warm), in one
    fresh profile as measure() does. Goal: ≤ 1 s on a first visit."""
    from playwright.sync_api import sync_playwright
    times = []
    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="convlens-profile-") as profile:
        context = p.chromium.launch_persistent_context(profile, executable_path="/usr/bin/chromium",
                                                       args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 900})
        for _ in range(visits):
            page = context.new_page()
            page.goto(url + "/learn")
            deadline = time.monotonic() + 30
            while (ms := page.evaluate(LEARN_DRAWN)) is None:
                if time.monotonic() > deadline:
                    raise TimeoutError("/learn's first step was not drawn")
                page.wait_for_timeout(10)
            times.append(ms)
            page.close()
        context.close()
    return {"first_step_cold_ms": times[0], "first_step_warm_ms": times[-1], "visits": visits}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--changes", type=int, default=11, help="control changes timed per case")
    ap.add_argument("--only-changes", action="store_true", help="skip the frame and first-plot measurements")
    ap.add_argument("--case", default="", help="only the control-change cases whose name contains this")
    ap.add_argument("--only-learn", action="store_true", help="only /learn's first step on screen (issue 12)")
    ap.add_argument("--url")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "browser.json")
    args = ap.parse_args()
    def run(url):
        if args.only_learn:
            return {}, {}, measure_learn(url)
        if args.only_changes:
            return measure_changes(url, args.changes, args.case), {}, {}
        return measure_changes(url, args.changes, args.case), measure(url, args.frames), measure_learn(url)
    if args.url:
        changes, results, learn = run(args.url)
    else:
        from benchmarks.server import running_server
        with running_server() as url:
            changes, results, learn = run(url)
    from benchmarks.common import cpu_model
    print(f"CPU: {cpu_model()}")
    if changes:
        print(f"control change → pixels, medians of {args.changes} changes (ms from the input event)")
        print(f"{'case':30} {'API answers':>11} {'first output':>12} {'all plots':>9} {'API alone':>9}")
    for name, r in changes.items():
        print(f"{name:30} {r['api_ms']:11.0f} {r['output_ms']:12.0f} {r['all_ms']:9.0f} {r['api_alone_ms']:9.0f}")
    if results:
        print()
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
    if learn:
        print(f"/learn: first step's live figure drawn {learn['first_step_cold_ms']:.0f} ms after navigation on a first "
              f"visit, {learn['first_step_warm_ms']:.0f} ms on visit {learn['visits']} (goal ≤ 1000 ms)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"changes": changes, "pages": results, "learn": learn}, indent=2))


if __name__ == "__main__":
    main()
