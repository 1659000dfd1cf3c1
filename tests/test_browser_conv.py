"""The sliding-window page in real Chromium, checked against the API's numbers."""
from __future__ import annotations

import math

import httpx
import numpy as np
import pytest

from app.encoding import decode_array
from tests.conftest import hover_text, ready, screenshot
from tests.images import png_rgb


def click_cell(page, plot_id: str, row: int, col: int):
    """Click the centre of heatmap cell (row, col) as a user would, with the mouse (the canvas map's
    geometry, heatmap.js, says where that cell is drawn)."""
    page.locator(f"#{plot_id}").scroll_into_view_if_needed()
    box = page.evaluate("([id, row, col]) => document.getElementById(id)._heatmap.centre(row, col)", [plot_id, row, col])
    page.mouse.click(box["x"], box["y"])


def shown(page):
    return page.evaluate("() => { const t = document.getElementById('total-value'); "
                         "return {value: Number(t.dataset.value), label: document.getElementById('position-label').textContent}; }")


def position(page) -> tuple[int, int]:
    """The output (row, col) the page is showing, read from the player's label "n/N · output (r, c)"."""
    label = shown(page)["label"]
    r, c = label.split("output (")[1].rstrip(")").split(", ")
    return int(r), int(c)


def api_output(live_server, **overrides):
    body = {"input": {"kind": "sample", "name": "colour"},
            "layer": {"out_channels": 4, "kernel_size": [3, 3], "stride": 1, "padding": 1, "dilation": 1,
                      "groups": 1, "bias": True, "flip": False, "activation": "none"},
            "weights": {"kind": "random", "seed": 0}}
    body["layer"].update(overrides)
    return decode_array(httpx.post(live_server + "/api/convolve", json=body).json()["output"])


def test_loads_animates_and_clicks_match_the_api(page, live_server):
    page.goto(live_server + "/conv")
    ready(page)
    assert page.locator("#input-plot canvas.heatmap").count() == 1
    assert page.locator("#input-plot .tap").count() == 3 * 9  # a 3×3 window on each of the 3 input channels
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # (a step may wait for the whole region's trace: see conv.js wholeTrace)
    page.wait_for_function("document.getElementById('position-label').textContent.startsWith('3/144')")
    page.keyboard.press(" ")  # play
    page.wait_for_function("document.getElementById('position-label').textContent.split('/')[0] > 6", timeout=10000)
    page.keyboard.press(" ")  # pause
    out = api_output(live_server)
    click_cell(page, "output-plot", 40, 70)  # outside the first region: the page moves its region there
    page.wait_for_function("document.getElementById('position-label').textContent.includes('output (40, 70)')")
    assert shown(page)["value"] == pytest.approx(float(out[0, 40, 70]), abs=1e-5)
    assert "y[0, 40, 70]" in page.locator("#computation").inner_text()
    click_cell(page, "region-plot", 42, 73)
    page.wait_for_function("document.getElementById('position-label').textContent.includes('output (42, 73)')")
    assert shown(page)["value"] == pytest.approx(float(out[0, 42, 73]), abs=1e-5)
    screenshot(page, "conv")
    assert page.watch.errors == [] and page.watch.foreign == []


def test_stride_changes_the_output_shape_and_url_restores_state(page, live_server):
    page.goto(live_server + "/conv")
    ready(page)
    page.fill("#stride", "2")
    page.dispatch_event("#stride", "change")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('[4×48×64]')")
    ready(page, 2)
    page.click("h1")  # leave the number field, as a user would, so the arrow keys step the window
    page.keyboard.press("ArrowRight")
    url = page.url
    assert "s=2" in url and "t=1" in url
    out = api_output(live_server, stride=2)
    page.goto(url)
    ready(page)
    assert page.input_value("#stride") == "2"
    assert shown(page)["label"].startswith("2/144")
    assert shown(page)["value"] == pytest.approx(float(out[(0, *position(page))]), abs=1e-5)
    # groups offers only what the API allows for 3 → 4 channels (common divisors: 1)
    assert page.eval_on_selector_all("#groups option", "os => os.map(o => o.value)") == ["1"]
    page.goto(live_server + "/conv?g=2")  # a hand-made link can still ask for an invalid layer
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('groups=2 must divide')")
    assert page.locator("#btn-play").is_disabled()  # an invalid layer cannot be played
    assert page.watch.errors == []


def test_upload_a_png_and_a_bad_file(page, live_server, tmp_path):
    good, bad = tmp_path / "grad.png", tmp_path / "bad.png"
    good.write_bytes(png_rgb(20, 24))
    bad.write_bytes(b"not an image at all")
    page.goto(live_server + "/conv")
    ready(page)
    page.set_input_files("#file-input", str(bad))
    page.wait_for_function("document.getElementById('input-status').textContent.includes('upload refused')")
    assert "not a readable image" in page.inner_text("#input-status")
    page.set_input_files("#file-input", str(good))
    ready(page, 2)
    assert "[3×20×24]" in page.inner_text("#input-status")
    assert "in=upload%3A" in page.url
    assert "[4×20×24]" in page.inner_text("#layer-message")
    screenshot(page, "conv-upload")
    assert [e for e in page.watch.errors if "422" not in e] == []  # the refused upload's 422 is expected


def test_depthwise_preset_shows_one_input_channel_per_output(page, live_server):
    page.goto(live_server + "/conv?in=sample%3Acolour&w=preset%3Asobel_x&pm=depthwise&oc=2")
    ready(page)
    assert "(input channel 2 feeds output channel 2)" in page.inner_text("#input-caption")  # not "2–2 feed"
    assert page.locator("#input-plot .tap").count() == 9
    assert page.locator("#connectivity-plot .main-svg").count() > 0
    assert page.watch.errors == []


def test_downloads_are_the_apis_output(page, live_server):
    page.goto(live_server + "/conv")
    ready(page)
    with page.expect_download() as npy:
        page.click("#download-npy")
    arr = np.load(npy.value.path(), allow_pickle=False)
    assert np.array_equal(arr, api_output(live_server))
    with page.expect_download() as png:
        page.click("#download-png")
    assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert png.value.suggested_filename == "convlens-output-channel-0.png"


def test_rgb_input_is_drawn_in_colour(page, live_server):
    """The overview shows the RGB sample's real colours (a typed-array row once turned them into NaN)."""
    page.goto(live_server + "/conv")
    ready(page)
    inside_red_disc = page.evaluate("document.getElementById('overview-plot').data[0].z[28][21]")
    assert inside_red_disc == [255, 0, 0]


def test_the_canvas_maps_hover_the_apis_values(page, live_server):
    """The input crop, the output region and the whole output are canvases: under the pointer each says
    the API's value there (input channel 1 is panel 1 of the input map)."""
    page.goto(live_server + "/conv")
    ready(page)
    r0, c0 = position(page)  # step 0: the region's first output position, its value revealed
    body = {"input": {"kind": "sample", "name": "colour"}, "include_input": True}
    x = decode_array(httpx.post(live_server + "/api/convolve", json=body).json()["input_array"])
    out = api_output(live_server)
    assert hover_text(page, "input-plot", r0, c0, panel=1) == f"x[1, {r0}, {c0}] = {float(x[1, r0, c0]):.4f}"
    assert hover_text(page, "region-plot", r0, c0) == f"y[0, {r0}, {c0}] = {float(out[0, r0, c0]):.4f}"
    assert hover_text(page, "output-plot", 40, 70) == f"y[0, 40, 70] = {float(out[0, 40, 70]):.4f}"
    assert page.watch.errors == []


def test_steps_past_the_first_traced_positions_show_the_apis_values(page, live_server):
    """A change traces only the positions its plots need (the region's first ones and its last); the whole
    region's trace follows for the player. Stepping there at once waits for it and shows the API's value."""
    page.goto(live_server + "/conv")
    ready(page)
    out = api_output(live_server)
    page.keyboard.press("ArrowLeft")  # wraps round to the region's last position
    page.wait_for_function("document.getElementById('position-label').textContent.startsWith('144/144')")
    assert shown(page)["value"] == pytest.approx(float(out[(0, *position(page))]), abs=1e-5)
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("document.getElementById('position-label').textContent.startsWith('143/144')")
    assert shown(page)["value"] == pytest.approx(float(out[(0, *position(page))]), abs=1e-5)
    assert page.watch.errors == []


def test_the_maps_and_their_boxes_follow_a_resize(page, live_server):
    """The canvas maps redraw at a new width (a ResizeObserver keeps their width) and the window's taps
    move with them: after narrowing to 800 px the first tap sits on input cell (r−1, c−1) of the first
    panel (a 3×3 window with padding 1 at output (r, c)), and no map is wider than its box."""
    page.goto(live_server + "/conv")
    ready(page)
    wide = page.evaluate("document.querySelector('#output-plot canvas').getBoundingClientRect().width")
    page.set_viewport_size({"width": 800, "height": 900})
    fits = ("['input-plot', 'region-plot', 'output-plot'].every((id) => { const el = document.getElementById(id); "
            "return Math.abs(el.querySelector('canvas.heatmap').getBoundingClientRect().width - el.clientWidth) <= 1; })")
    page.wait_for_function(fits)
    assert page.evaluate("document.querySelector('#output-plot canvas').getBoundingClientRect().width") != wide  # stacked: wider
    r, c = position(page)
    tap, cell = page.evaluate("""([r, c]) => { const el = document.getElementById('input-plot'), t = el.querySelector('.tap');
        return [[t.offsetLeft, t.offsetTop], el._heatmap.cellBox(0, r - 1, c - 1)]; }""", [r, c])
    assert tap == [pytest.approx(cell["left"], abs=1), pytest.approx(cell["top"], abs=1)]
    assert page.watch.errors == []


def test_the_output_map_paints_the_one_diverging_scale(page, live_server):
    """Each cell of the output map is painted with plots.js's one scale (red negative, white 0, blue
    positive, linear between, centred on 0 over ±max|y| of the channel): the pixel at the centre of the
    largest and the smallest value's cells is that colour, worked out here from the stops."""
    page.goto(live_server + "/conv")
    ready(page)
    body = {"input": {"kind": "sample", "name": "colour"}, "layer": {"out_channels": 4, "padding": 1},
            "weights": {"kind": "random", "seed": 0}}
    meta = httpx.post(live_server + "/api/convolve", json=body).json()["output"]
    out = api_output(live_server)[0]
    lim = max(abs(meta["channel_min"][0]), abs(meta["channel_max"][0]))
    assert meta["channel_min"][0] < 0 < meta["channel_max"][0]  # a signed channel: the diverging scale

    def colour(v):  # plots.js DIVERGING stops, as colourer interpolates them (Math.round = floor(x + 0.5))
        t = max(-1.0, min(1.0, float(v) / lim))
        end, u = ((5, 48, 97) if t >= 0 else (103, 0, 31)), abs(t)
        return [math.floor(255 * (1 - u) + e * u + 0.5) for e in end]

    cells = [np.unravel_index(np.argmax(out), out.shape), np.unravel_index(np.argmin(out), out.shape)]
    got = page.evaluate("""(cells) => { const m = document.getElementById('output-plot')._heatmap, ctx = m.canvas.getContext('2d');
        return cells.map(([r, c]) => { const b = m.cellBox(0, r, c);
          return Array.from(ctx.getImageData(Math.floor(b.left + b.width / 2), Math.floor(b.top + b.height / 2), 1, 1).data).slice(0, 3); }); }""",
                        [[int(r), int(c)] for r, c in cells])
    assert got == [colour(out[r, c]) for r, c in cells]
    assert got[0][2] > got[0][0] and got[1][0] > got[1][2]  # the largest blue, the smallest red


def test_revealing_cell_by_cell_draws_what_a_full_redraw_draws(page, live_server):
    """While stepping forward the output region reveals one cell per frame (setCell, no redraw of the
    map); after 21 steps its pixels are exactly those of the map redrawn whole, and the value revealed
    last is the API's."""
    page.goto(live_server + "/conv")
    ready(page)
    for _ in range(21):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("document.getElementById('position-label').textContent.startsWith('22/144')")
    differing = page.evaluate("""() => { const m = document.getElementById('region-plot')._heatmap, c = m.canvas,
        ctx = c.getContext('2d'), a = ctx.getImageData(0, 0, c.width, c.height).data;
        m.draw(m.spec);
        const b = ctx.getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < a.length; i++) n += a[i] !== b[i]; return n; }""")
    assert differing == 0
    r, c = position(page)
    assert hover_text(page, "region-plot", r, c) == f"y[0, {r}, {c}] = {float(api_output(live_server)[0, r, c]):.4f}"


def test_home_and_end_go_to_the_first_and_last_position(page, live_server):
    """A learner stepping a 144-position region (or /receptive's 80 layers) had ← → only."""
    page.goto(live_server + "/conv")
    ready(page)
    page.click("h1")  # out of any field, as the arrows need
    page.keyboard.press("End")  # the label changes once the step is drawn: it may wait for the region's whole trace
    page.wait_for_function("document.getElementById('position-label').textContent.startsWith('144/144')", timeout=20000)
    page.keyboard.press("Home")
    assert shown(page)["label"].startswith("1/144")
    assert "t=0" in page.url
