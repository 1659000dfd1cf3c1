"""The 1×1 page in real Chromium: pixel vectors, presets, the sweep and the C-vs-H,W comparison."""
from __future__ import annotations

import re

import httpx
import numpy as np
import pytest

from app.encoding import decode_array
from tests.conftest import hover_text, ready, screenshot
from tests.images import photo_png


def api_output(live_server, body):
    return decode_array(httpx.post(live_server + "/api/convolve", json=body).json()["output"])


def click_pixel(page, row, col):
    page.eval_on_selector("#input-canvas", "c => c.scrollIntoView({block: 'center'})")  # clear of the sticky bar
    box = page.evaluate("""([row, col]) => { const c = document.getElementById('input-canvas');
        const r = c.getBoundingClientRect(), s = (r.width - 2) / c.width;  // 1px border each side
        return {x: r.left + 1 + (col + 0.5) * s, y: r.top + 1 + (row + 0.5) * s}; }""", [row, col])
    page.mouse.click(box["x"], box["y"])


def written_values(page, row, col):
    page.wait_for_function(f"(() => {{ const e = document.getElementById('written-pixel'); "
                           f"return e && e.dataset.row == '{row}' && e.dataset.col == '{col}'; }})()")
    return [float(v) for v in page.get_attribute("#written-pixel", "data-values").split(",")]


def test_click_a_pixel_shows_the_apis_output_vector(page, live_server):
    page.goto(live_server + "/pointwise?in=sample%3Acolour&w=random&co=5&ws=3&b=1")
    ready(page)
    click_pixel(page, 30, 40)
    values = written_values(page, 30, 40)
    out = api_output(live_server, {"input": {"kind": "sample", "name": "colour"},
                                   "layer": {"kernel_size": 1, "out_channels": 5, "bias": True},
                                   "weights": {"kind": "random", "seed": 3}})
    assert values == pytest.approx(out[:, 30, 40].tolist(), abs=1e-5)
    bars = page.locator("#y-bars .v").all_inner_texts()
    assert len(bars) == 5
    assert float(bars[0]) == pytest.approx(float(out[0, 30, 40]), abs=2e-3)  # shown to 3 decimals
    assert "pixel (30, 40)" in page.inner_text("#position-label")
    page.wait_for_function("document.getElementById('matmul-check').dataset.value !== undefined")
    assert float(page.get_attribute("#matmul-check", "data-value")) <= 1e-5
    screenshot(page, "pointwise")
    assert page.watch.errors == [] and page.watch.foreign == []


def test_presets_switch_and_greyscale_is_luma(page, live_server):
    page.goto(live_server + "/pointwise")
    ready(page)
    page.select_option("#weights-kind", "preset:ycbcr")
    ready(page, 2)
    assert "[3×96×128] → [3×96×128]" in page.inner_text("#layer-message")
    page.select_option("#weights-kind", "preset:greyscale")
    ready(page, 3)
    assert "[1×96×128]" in page.inner_text("#layer-message")
    click_pixel(page, 10, 10)
    x = np.asarray(httpx.post(live_server + "/api/convolve", json={"input": {"kind": "sample", "name": "colour"},
                                                                  "include_input": True}).json()["input_array"] and
                   decode_array(httpx.post(live_server + "/api/convolve", json={
                       "input": {"kind": "sample", "name": "colour"}, "include_input": True}).json()["input_array"]))
    assert written_values(page, 10, 10)[0] == pytest.approx(0.299 * x[0, 10, 10] + 0.587 * x[1, 10, 10]
                                                            + 0.114 * x[2, 10, 10], abs=1e-5)
    assert page.watch.errors == []


def test_sweep_and_pooling_comparison(page, live_server):
    page.goto(live_server + "/pointwise?in=random%3A64%2C16%2C16%2C0%2Cnormal&w=random&co=16")
    ready(page)
    page.click("h1")
    page.keyboard.press(" ")
    page.wait_for_function("document.getElementById('position-label').textContent.includes('row 255')", timeout=15000)
    cards = page.locator(".reduce-card").all_inner_texts()
    assert "[64×16×16] → [16×16×16]" in cards[0] and "parameters: 1,040" in cards[0]  # 64·16 + 16
    assert "[64×16×16] → [64×8×8]" in cards[1] and "parameters: 0" in cards[1]
    assert page.inner_text("#fc-block").startswith("0.00e+0") or float(page.inner_text("#fc-block")) <= 1e-4
    assert page.locator("#nin-diagram svg circle").count() == 64 + 8 + 4
    screenshot(page, "pointwise-sweep")
    assert page.watch.errors == []


def upload(live_server, data: bytes, name: str) -> str:
    res = httpx.post(live_server + "/api/inputs", files={"file": (name, data, "image/png")}, timeout=60)
    assert res.status_code == 201, res.text
    return res.json()["id"]


def matrix_rows(page, plot_id):
    """Rows of the matrix one panel's heatmap spans (0 when it is not drawn): all of them, or every
    step-th placed at its own index (y) for a photo's H·W rows; and Plotly must have drawn its image."""
    return page.evaluate(f"""() => {{ const gd = document.getElementById('{plot_id}'), t = gd.data?.[0];
        const img = gd.querySelector('.hm image');  // an undrawable heatmap gets the empty image "data:,"
        if (!t || !img || (img.getAttribute('href') || img.getAttribute('xlink:href') || '').length < 100) return 0;
        return t.y ? t.y[t.y.length - 1] + (t.y[1] - t.y[0]) : t.z.length; }}""")


@pytest.mark.parametrize("h,w", [(480, 640), (768, 1024)])
def test_reopened_with_a_photo_upload(page, live_server, h, w):
    """A reload or shared link with a photo-sized upload used to overflow the stack (a spread of H·W
    row minima into Math.min), after which every step threw on the undrawn X plot and Play stayed off."""
    uid = upload(live_server, photo_png(h, w), "photo.png")
    page.goto(live_server + f"/pointwise?in=upload%3A{uid}&w=random&co=4")
    ready(page)
    page.wait_for_function("document.getElementById('matmul-check').dataset.value !== undefined", timeout=30000)
    step = -(-h * w // 4096)  # every step-th row drawn (MATRIX_ROWS_DRAWN in pointwise_draw.js)
    assert h * w <= matrix_rows(page, "x-plot") < h * w + step and h * w <= matrix_rows(page, "y-plot") < h * w + step
    assert f"every {step}th row drawn" in page.inner_text("#x-label")
    assert not page.locator("#btn-play").is_disabled()
    click_pixel(page, 5, 7)  # a pixel is 0.3–0.5 CSS px here and the mouse lands on whole CSS px
    r, c = map(int, re.search(r"pixel \((\d+), (\d+)\)", page.inner_text("#position-label")).groups())
    css_px = page.eval_on_selector("#input-canvas", "c => c.clientWidth / c.width")
    tolerance = int(2 / css_px) + 1  # pixels within 2 CSS px of the aimed one
    assert abs(r - 5) <= tolerance and abs(c - 7) <= tolerance
    assert len(written_values(page, r, c)) == 4
    box = page.eval_on_selector("#box1", "b => b.getBoundingClientRect().width")
    assert box >= 10  # the 1-pixel box is drawn large enough to see
    assert page.watch.errors == []


def test_in_page_upload_redraws_the_matrices(page, live_server, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(photo_png(480, 640))
    page.goto(live_server + "/pointwise")
    ready(page)
    page.wait_for_function("document.getElementById('matmul-check').dataset.value !== undefined")
    assert matrix_rows(page, "x-plot") == 96 * 128
    page.set_input_files("#file-input", str(photo))
    ready(page, 2)
    page.wait_for_function("document.getElementById('x-label').textContent.includes('307200')", timeout=30000)
    page.wait_for_function("document.getElementById('matmul-check').dataset.value !== undefined", timeout=30000)
    assert 480 * 640 <= matrix_rows(page, "x-plot") < 480 * 640 + 75 and 480 * 640 <= matrix_rows(page, "y-plot") < 480 * 640 + 75
    assert "(307200 × 3)" in page.inner_text("#x-label")  # 480·640 rows of C_in = 3
    assert page.watch.errors == []


def test_fc_fields_and_speed_survive_a_shared_link_and_a_bad_size_clears_the_map(page, live_server):
    page.goto(live_server + "/pointwise?fc=4&fk=3&fo=5&fs=9&v=16")
    ready(page)
    assert [page.input_value(f"#{i}") for i in ("fc-c", "fc-k", "fc-o", "fc-size", "speed")] == ["4", "3", "5", "9", "16"]
    page.wait_for_function("document.getElementById('fc-plot').data?.[0]?.z?.length === 9 - 3 + 1")
    fc = httpx.post(live_server + "/api/pointwise/fc", json={"channels": 4, "block": 3, "outputs": 5, "size": 9}).json()
    assert fc["inputs_formula"] in page.inner_text("#fc-text") and fc["params_formula"] in page.inner_text("#fc-text")
    page.fill("#fc-size", "2")  # smaller than the block k = 3: no score map exists
    page.dispatch_event("#fc-size", "change")
    page.wait_for_function("document.getElementById('fc-text').textContent.includes('must be at least')")
    assert page.evaluate("() => !document.getElementById('fc-plot').data")  # the old map is gone
    assert "fs=2" in page.url and "fk=3" in page.url
    page.fill("#fc-size", "11")
    page.dispatch_event("#fc-size", "change")
    page.wait_for_function("document.getElementById('fc-plot').data?.[0]?.z?.length === 11 - 3 + 1")
    assert "must be at least" not in page.inner_text("#fc-text")
    assert [e for e in page.watch.errors if "422" not in e] == []  # the refused size's 422 is expected


def test_show_your_work_is_the_apis_text(page, live_server):
    page.goto(live_server + "/pointwise?in=sample%3Acolour&w=random&co=5&b=0")
    ready(page)
    check = httpx.post(live_server + "/api/layer/check", json={
        "input": {"kind": "sample", "name": "colour"}, "layer": {"kernel_size": 1, "out_channels": 5, "bias": False},
        "weights": {"kind": "random", "seed": 0}}).json()["formulas"]["pointwise"]
    work = page.inner_text("#work")
    for key in ("params", "macs", "torch", "numpy"):
        assert check[key] in work
    assert page.inner_text("#reads-1x1") == str(check["reads"]) and page.inner_text("#reads-3x3") == str(check["reads_3x3"])
    assert page.watch.errors == []


def test_one_diverging_scale_blue_is_positive(page, live_server):
    """The home demo, the W heatmap and the output canvases all draw positive values blue."""
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-demo-ready='1']", timeout=15000)
    home = page.evaluate("() => document.getElementById('demo').data[0].colorscale")
    page.goto(live_server + "/pointwise?in=sample%3Acolour&w=random&co=3&ws=1&b=1")
    ready(page)
    rgb = lambda s: [int(v) for v in re.findall(r"\d+", s)]
    top, bottom = rgb(home[-1][1]), rgb(home[0][1])
    assert top[2] > top[0] and bottom[0] > bottom[2]  # positive end blue, negative end red
    ends = page.evaluate("""() => { const m = document.getElementById('w-plot')._heatmap, rows = m.spec.panels[0].rows,
        cells = rows.flatMap((row, o) => row.map((v, i) => [v, o, i])).sort((a, b) => a[0] - b[0]),
        dpr = window.devicePixelRatio || 1, ctx = m.canvas.getContext('2d');
        return [cells[0], cells[cells.length - 1]].map(([v, o, i]) => { const b = m.cellBox(0, o, i);
          return Array.from(ctx.getImageData(Math.round((b.left + 2) * dpr), Math.round((b.top + 2) * dpr), 1, 1).data); }); }""")
    assert ends[1][2] > ends[1][0] and ends[0][0] > ends[0][2]  # W's largest weight blue, its smallest red
    out = api_output(live_server, {"input": {"kind": "sample", "name": "colour"},
                                   "layer": {"kernel_size": 1, "out_channels": 3, "bias": True},
                                   "weights": {"kind": "random", "seed": 1}})
    k = int(np.argmax(out.max(axis=(1, 2)) * (out.min(axis=(1, 2)) < 0)))  # a signed channel
    r, c = np.unravel_index(np.argmax(out[k]), out[k].shape)
    px = page.evaluate("([k, r, c]) => Array.from(document.querySelectorAll('#outputs canvas:not(.mask)')[k]"
                       ".getContext('2d').getImageData(c, r, 1, 1).data)", [k, int(r), int(c)])
    assert px[2] > px[0]  # its largest value is painted blue
    assert page.watch.errors == []


@pytest.mark.parametrize("co,text", [(16, True), (17, False)])
def test_w_matrix_readable_up_to_16x16(page, live_server, co, text):
    page.goto(live_server + f"/pointwise?in=random%3A{co}%2C8%2C8%2C0%2Cnormal&w=random&co={co}")
    ready(page)
    # the canvas writes a cell's value only where it fits the cell at 11 px (heatmap.js writeValues): the
    # digits it wrote, the cell's size and the widest value's width at that font
    drawn = page.evaluate("""() => { const m = document.getElementById('w-plot')._heatmap, g = m.geom.geoms[0],
        ctx = m.canvas.getContext('2d'); ctx.font = "11px 'Open Sans', verdana, arial, sans-serif";
        const widest = g.digits === null ? 0 : Math.max(...m.spec.panels[0].rows.flat().map((v) => ctx.measureText(v.toFixed(g.digits)).width));
        return {digits: g.digits, cell: g.cell, widest, w: g.w, h: g.h}; }""")
    assert (drawn["w"], drawn["h"]) == (co, co)
    if not text:
        assert drawn["digits"] is None  # values on hover only
        value = page.evaluate("document.getElementById('w-plot')._heatmap.spec.panels[0].rows[3][5]")
        assert hover_text(page, "w-plot", 3, 5) == f"W[3, 5] = {value:.4f}"
        return
    assert drawn["digits"] == 2 and drawn["widest"] + 2 <= drawn["cell"], drawn  # two decimals, inside their cells
    assert page.watch.errors == []


def test_starts_where_the_input_has_detail_not_in_the_corner(page, live_server):
    """An untouched page opens on the centre of the busiest 9×9 patch (the server picks it), not on the
    flat top-left corner; a pixel from a shared link is kept."""
    page.goto(live_server + "/pointwise?in=sample%3Acolour&w=random&co=2")
    ready(page)
    region = httpx.post(live_server + "/api/convolve", json={
        "input": {"kind": "sample", "name": "colour"}, "layer": {"kernel_size": 1, "out_channels": 2},
        "region_size": 9}).json()["region"]
    r, c = (region["row_start"] + region["row_stop"]) // 2, (region["col_start"] + region["col_stop"]) // 2
    assert (r, c) != (0, 0) and f"pixel ({r}, {c})" in page.inner_text("#position-label")
    page.goto(live_server + "/pointwise?in=sample%3Acolour&w=random&co=2&t=130")
    ready(page)
    assert "pixel (1, 2)" in page.inner_text("#position-label")  # 130 = 1·128 + 2
    assert page.watch.errors == []


def test_custom_matrix_edit_reaches_the_api(page, live_server):
    page.goto(live_server + "/pointwise?in=sample%3Acolour&w=random&co=2&ws=4")
    ready(page)
    page.select_option("#weights-kind", "custom")
    page.wait_for_selector("#weight-editor input[aria-label='W[0, 0]']")
    ready(page, 2)
    page.fill("#weight-editor input[aria-label='W[1, 2]']", "2.5")
    page.dispatch_event("#weight-editor input[aria-label='W[1, 2]']", "change")
    page.wait_for_function("document.getElementById('w-plot')._heatmap?.spec?.panels[0].rows?.[1]?.[2] === 2.5")
    ready(page, 3)  # the URL is written once the load is drawn (shell.js): the shared link is the view's
    assert "w=custom" in page.url and "cw=" in page.url and "2.5" in page.url
    page.reload()
    ready(page)
    assert page.evaluate("() => document.getElementById('w-plot')._heatmap.spec.panels[0].rows[1][2]") == 2.5  # kept in the link
    assert page.watch.errors == []


def test_a_photo_is_drawn_from_a_preview_and_its_pixel_is_exact(page, live_server):
    """On a 1024×768 photo the output maps come as every n-th pixel (the thumbnails are 150 px wide),
    the pixel's y vector is exact (the engine's trace, then the whole output for the sweep), and a
    change of C_out on the same photo sends no input and no 12.6 MB output before the page is redrawn."""
    uid = upload(live_server, photo_png(768, 1024), "photo.png")
    page.goto(live_server + f"/pointwise?in=upload%3A{uid}&w=random&co=4&ws=2")
    ready(page)
    widths = page.eval_on_selector_all("#outputs canvas:not(.mask)", "cs => cs.map(c => c.width)")
    assert len(widths) == 4 and all(w <= 300 for w in widths), widths  # 1024 columns sent as every 4th
    # the change's first convolution (the first load's whole output may still arrive: it is a follow-up)
    with page.expect_response(lambda r: r.url.endswith("/api/convolve/view")
                              and '"out_channels":5' in (r.request.post_data or "")) as answer:
        page.fill("#out-channels", "5")  # a change on the same photo
    assert len(answer.value.body()) < 2 * 2**20  # drawn from the preview, not the whole 12.6 MB output
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('[5×768×1024]') && "
                           "document.querySelectorAll('#outputs canvas:not(.mask)').length === 5")
    click_pixel(page, 300, 500)
    r, c = map(int, re.search(r"pixel \((\d+), (\d+)\)", page.inner_text("#position-label")).groups())
    out = api_output(live_server, {"input": {"kind": "upload", "id": uid},
                                   "layer": {"kernel_size": 1, "out_channels": 5, "bias": True},
                                   "weights": {"kind": "random", "seed": 2}})
    assert written_values(page, r, c) == pytest.approx(out[:, r, c].tolist(), abs=1e-5)
    page.wait_for_function("!Array.from(document.querySelectorAll('#y-bars .v')).some(v => v.textContent === '…')")
    bars = [float(v) for v in page.locator("#y-bars .v").all_inner_texts()]
    assert bars == pytest.approx(out[:, r, c].tolist(), abs=2e-3)  # shown to 3 decimals
    page.keyboard.press("ArrowRight")  # the next pixel: exact once the whole output is in (the sweep's source)
    page.wait_for_function("!Array.from(document.querySelectorAll('#y-bars .v')).some(v => v.textContent === '…')")
    bars = [float(v) for v in page.locator("#y-bars .v").all_inner_texts()]
    assert bars == pytest.approx(out[:, r, c + 1].tolist(), abs=2e-3)
    assert page.watch.errors == []


def test_a_presets_fixed_c_out_and_bias_are_shown_not_the_random_weights(page, live_server):
    """The greyscale preset is 3 → 1 with no bias, but the disabled C_out field said 4 and bias was ticked
    (the random weights' values, written back over the preset's when the page moved to its pixel)."""
    page.goto(live_server + "/pointwise")
    ready(page)
    check = httpx.post(live_server + "/api/layer/check", json={"input": {"kind": "sample", "name": "colour"},
        "layer": {"kernel_size": 1}, "weights": {"kind": "preset", "name": "greyscale"}}).json()
    assert page.input_value("#out-channels") == str(check["layer"]["out_channels"])
    assert page.is_checked("#bias") == check["layer"]["bias"]
    assert page.is_disabled("#out-channels") and page.is_disabled("#bias")


def test_the_matrix_editor_keeps_the_keyboard_focus_from_one_value_to_the_next(page, live_server):
    """A keyboard user types a weight, presses Tab to the next one and types again: the editor was rebuilt
    when the edited layer came back, so the focus fell to the page and the second value went nowhere."""
    page.goto(live_server + "/pointwise?in=sample%3Acolour&w=random&co=2&ws=4")
    ready(page)
    page.select_option("#weights-kind", "custom")
    ready(page, 2)
    page.focus("#weight-editor input[aria-label='W[0, 0]']")
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Tab")  # the change: the page asks the API for the edited layer
    page.wait_for_function("document.getElementById('w-plot')._heatmap?.spec?.panels[0].rows?.[0]?.[0] === 2")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "W[0, 1]"
    page.keyboard.press("Control+A")
    page.keyboard.type("-1.5")
    page.keyboard.press("Tab")
    page.wait_for_function("document.getElementById('w-plot')._heatmap?.spec?.panels[0].rows?.[0]?.[1] === -1.5")
    assert page.evaluate("document.getElementById('w-plot')._heatmap.spec.panels[0].rows[0][0]") == 2  # the first edit kept
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "W[0, 2]"
    assert page.watch.errors == []


def test_the_transposed_weight_matrix_has_whole_row_indices_and_its_values(page, live_server):
    """Wᵀ of the greyscale preset is 3 × 1: its row axis read -0.5, 0, 0.5 … 2.5 (half a channel?) and the
    three weights were only grey levels, unlike W above it, which prints them."""
    page.goto(live_server + "/pointwise")
    ready(page)
    page.wait_for_function("document.getElementById('wt-plot')?._fullLayout?.yaxis")
    ticks = page.eval_on_selector_all("#wt-plot .ytick text", "ts => ts.map(t => t.textContent)")
    assert sorted(ticks, key=float) == ["0", "1", "2"], ticks
    printed = page.eval_on_selector_all("#wt-plot text", "ts => ts.map(t => t.textContent).filter(t => /^-?\\d+\\.\\d+$/.test(t))")
    check = httpx.post(live_server + "/api/layer/check", json={"input": {"kind": "sample", "name": "colour"},
        "layer": {"kernel_size": 1}, "weights": {"kind": "preset", "name": "greyscale"}}).json()
    assert len(printed) == 3 * check["layer"]["out_channels"], printed  # C_in × C_out values, as W prints them
    assert page.watch.errors == []


def test_a_bad_c_out_is_named_as_a_person_reads_it(page, live_server):
    """C<sub>out</sub>'s label text is "Cout": the message read "Cout must be a whole number …"."""
    page.goto(live_server + "/pointwise?w=random")
    ready(page)
    page.fill("#out-channels", "0")
    page.press("#out-channels", "Tab")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('(you typed 0)')")
    assert page.inner_text("#layer-message").startswith("output channels C_out must be"), page.inner_text("#layer-message")


def test_an_emptied_weight_is_not_sent_as_zero(page, live_server):
    """Clearing a weight and leaving the field sent 0 (parseFloat("") || 0): the message "must be a number"
    flashed and went as the load came back, and the layer had a silent 0 in it."""
    page.goto(live_server + "/pointwise?in=sample%3Acolour&w=random&co=2&ws=4")
    ready(page)
    page.select_option("#weights-kind", "custom")
    ready(page, 2)
    before = page.evaluate("document.getElementById('w-plot')._heatmap.spec.panels[0].rows[0][0]")
    assert before != 0
    loads = page.evaluate("Number(document.body.dataset.ready)")
    page.fill("#weight-editor input[aria-label='W[0, 0]']", "")
    page.press("#weight-editor input[aria-label='W[0, 0]']", "Tab")
    page.wait_for_function("document.getElementById('layer-message').textContent.startsWith('W[0, 0] must be a number')")
    page.fill("#weight-editor input[aria-label='W[0, 1]']", "1.25")  # a later edit still goes, with W[0, 0] as it was
    page.press("#weight-editor input[aria-label='W[0, 1]']", "Tab")
    ready(page, loads + 1)
    assert page.evaluate("document.getElementById('w-plot')._heatmap.spec.panels[0].rows[0]")[:2] == [before, 1.25]
    assert page.watch.errors == []


def test_a_bad_fc_field_clears_the_old_answer_below_it(page, live_server):
    """Block k 99 (the field allows 1–16) was named in the status, but the FC text below kept the previous
    k = 7 numbers and their score map beside the field showing 99: the block now says what is wrong and
    drops its map, as it does when the server refuses a size."""
    page.goto(live_server + "/pointwise")
    ready(page)
    page.wait_for_function("document.getElementById('fc-plot').data?.length === 1")
    page.fill("#fc-k", "99")
    text = page.text_content("#fc-text")
    assert "block k must be a whole number from 1 to 16" in text and "7×7" not in text
    assert "error" in page.get_attribute("#fc-text", "class")
    assert page.evaluate("() => !document.getElementById('fc-plot').data")
    page.fill("#fc-k", "3")
    page.wait_for_function("document.getElementById('fc-text').textContent.includes('3×3')")
    assert page.watch.errors == []
