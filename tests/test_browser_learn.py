"""/learn (issue 12) in real Chromium: each of the nine steps draws its live figure, each "try this"
changes the figure as its text says, the numbers on the page are the API's, each "open in the full view"
link opens that page in the same state, and the URL (keys and #step) restores the page."""
from __future__ import annotations

import functools
import re

import httpx
import pytest

from app.encoding import decode_array
from tests.conftest import ready, screenshot, wait_in_page

STEPS = ["convolution", "channels", "pointwise", "matrix", "inception", "pooling", "nin", "fc", "check"]
# what each step draws once its figure is in: a selector that exists only after the API answered
FIGURE = {"convolution": "#convolution #total-value", "channels": "#c2-grid table.kernel", "pointwise": "#c3-value",
          "matrix": "#c4-y .main-svg", "inception": "#c5-speedup", "pooling": "#c6-pool-shape", "nin": "#c7-mlp svg circle",
          "fc": "#c8-field-2", "check": "#c9-link[href^='/cost?']"}


def loads(page, step: str) -> int:
    return page.evaluate(f"Number(document.getElementById('{step}').dataset.loads || 0)")


def show_step(page, step: str, n: int = 1):
    """Scroll a step into view (its figure loads lazily) and wait for its n-th finished load."""
    page.eval_on_selector(f"#{step}", "s => s.scrollIntoView()")
    page.wait_for_function(f"Number(document.getElementById('{step}').dataset.loads || 0) >= {n}", timeout=30000)
    assert page.evaluate(f"document.querySelector('#{step} .step-message').textContent") == ""


def change(page, selector: str, value: str, step: str):
    """Set a control as a person does (select or type), then wait for the step's next load."""
    n = loads(page, step)
    if page.evaluate(f"document.querySelector('{selector}').tagName") == "SELECT":
        page.select_option(selector, value)
    else:
        page.fill(selector, value)
    page.wait_for_function(f"Number(document.getElementById('{step}').dataset.loads || 0) > {n}", timeout=30000)


def post(live_server, url, body):
    res = httpx.post(live_server + url, json=body, timeout=60)
    assert res.status_code == 200, res.text
    return res.json()


def conv_output(live_server, body):
    return decode_array(post(live_server, "/api/convolve", body)["output"])


def click_canvas(page, canvas_id, row, col, hover=False):
    """Click (or hover) the centre of pixel (row, col) of a canvas drawn at one canvas pixel per value."""
    page.eval_on_selector(f"#{canvas_id}", "c => c.scrollIntoView({block: 'center'})")
    xy = page.evaluate("""([id, row, col]) => { const c = document.getElementById(id), r = c.getBoundingClientRect();
        const s = r.width / c.width; return {x: r.left + (col + 0.5) * s, y: r.top + (row + 0.5) * s}; }""", [canvas_id, row, col])
    (page.mouse.move if hover else page.mouse.click)(xy["x"], xy["y"])


def value_of(page, selector) -> float:
    return float(page.get_attribute(selector, "data-value"))


def test_every_step_renders_its_live_figure_lazily(page, live_server):
    page.goto(live_server + "/learn")
    ready(page)
    show_step(page, "convolution")
    # figures further down have not been asked for yet: they load as the reader scrolls
    assert loads(page, "check") == 0 and loads(page, "fc") == 0
    for step in STEPS:
        show_step(page, step)
        assert page.locator(FIGURE[step]).count() >= 1, step
    screenshot(page, "learn_1400")
    assert page.watch.errors == [] and page.watch.foreign == []


def test_step1_clicking_an_output_pixel_writes_out_its_sum(page, live_server):
    page.goto(live_server + "/learn")
    show_step(page, "convolution")
    req = {"input": {"kind": "sample", "name": "edges"}, "layer": {"padding": 1}, "weights": {"kind": "preset", "name": "sobel_x"}}
    region = post(live_server, "/api/convolve", {**req, "region_size": 1})["region"]  # where the step opens
    assert (page.input_value("#c1-row"), page.input_value("#c1-col")) == (str(region["row_start"]), str(region["col_start"]))
    n = loads(page, "convolution")
    click_canvas(page, "c1-output", 30, 17)
    page.wait_for_function(f"Number(document.getElementById('convolution').dataset.loads) > {n}")
    out = conv_output(live_server, req)
    trace = post(live_server, "/api/trace", {**req, "positions": [{"channel": 0, "row": 30, "col": 17}]})["traces"][0]
    assert (page.input_value("#c1-row"), page.input_value("#c1-col")) == ("30", "17")
    assert value_of(page, "#convolution #total-value") == pytest.approx(float(out[0, 30, 17]), abs=1e-6) == trace["value"]
    assert "pixel (30, 17)" in page.inner_text("#c1-output-cap")
    change(page, "#c1-kernel", "sobel_y", "convolution")
    out_y = conv_output(live_server, {**req, "weights": {"kind": "preset", "name": "sobel_y"}})
    assert value_of(page, "#convolution #total-value") == pytest.approx(float(out_y[0, 30, 17]), abs=1e-6)
    assert page.watch.errors == []


def test_step2_more_filters_add_rows_to_the_weight_grid(page, live_server):
    page.goto(live_server + "/learn#channels")
    show_step(page, "channels")
    assert page.locator("#c2-grid table.kernel").count() == 2 * 3  # 2 filters × 3 input channels
    # each input channel is drawn on its own, with the window its slice covers, beside output channel 0
    assert page.evaluate("[0, 1, 2].map((k) => document.getElementById('c2-in-' + k).width)") == [128, 128, 128]
    region = post(live_server, "/api/convolve", {"input": {"kind": "sample", "name": "colour"}, "region_size": 1,
                  "layer": {"out_channels": 2, "kernel_size": 3, "padding": 1, "bias": False}})["region"]
    assert f"pixel ({region['row_start']}, {region['col_start']})" in page.inner_text("#c2-out-cap")
    change(page, "#c2-out", "4", "channels")
    req = {"input": {"kind": "sample", "name": "colour"}, "layer": {"out_channels": 4, "kernel_size": 3, "padding": 1, "bias": False},
           "weights": {"kind": "random", "seed": 0}}
    conv = post(live_server, "/api/convolve", req)
    assert page.locator("#c2-grid table.kernel").count() == 4 * 3  # C_out rows × C_in columns of kernels
    assert page.inner_text("#c2-weight") == "[" + "×".join(map(str, conv["weight"]["shape"])) + "]" == "[4×3×3×3]"
    assert value_of(page, "#c2-params") == conv["cost"]["params"] == 4 * 3 * 3 * 3
    assert page.inner_text("#c2-output") == "[4×96×128]"
    assert "co=4" in page.get_attribute("#c2-link", "href")


def test_step3_hovering_the_green_disc_gives_the_green_weight(page, live_server):
    page.goto(live_server + "/learn#pointwise")
    show_step(page, "pointwise")
    req = {"input": {"kind": "sample", "name": "colour"}, "layer": {"kernel_size": 1}, "weights": {"kind": "preset", "name": "greyscale"}}
    out = conv_output(live_server, req)
    for row, col in [(30, 60), (70, 20), (75, 100)]:  # the green, yellow and magenta discs
        n = loads(page, "pointwise")
        click_canvas(page, "c3-input", row, col, hover=True)
        page.wait_for_function(f"Number(document.getElementById('pointwise').dataset.loads) > {n}")
        page.wait_for_function(f"document.getElementById('c3-readout').textContent.includes('pixel ({row}, {col})')")
        assert value_of(page, "#c3-value") == pytest.approx(float(out[0, row, col]), abs=1e-7)
    assert (page.input_value("#c3-row"), page.input_value("#c3-col")) == ("75", "100")
    change(page, "#c3-row", "30", "pointwise")
    change(page, "#c3-col", "60", "pointwise")
    text = page.inner_text("#c3-readout")
    assert "(R, G, B) = (0, 1, 0)" in text and value_of(page, "#c3-value") == pytest.approx(0.587, abs=1e-7)  # BT.601's G weight


def test_step4_the_matrix_product_follows_c_out(page, live_server):
    page.goto(live_server + "/learn#matrix")
    show_step(page, "matrix")
    change(page, "#c4-out", "8", "matrix")
    m = post(live_server, "/api/pointwise/matmul", {"input": {"kind": "sample", "name": "random8"},
                                                      "layer": {"kernel_size": 1, "out_channels": 8, "bias": False}})
    assert page.inner_text("#c4-x-shape") == "[256×8]" == f"[{m['x_shape'][0]}×{m['x_shape'][1]}]"  # 16·16 pixels
    assert page.inner_text("#c4-w-shape") == f"[{m['w_shape'][0]}×{m['w_shape'][1]}]" == "[8×8]"
    assert page.inner_text("#c4-y-shape") == "[256×8]"
    assert value_of(page, "#c4-diff") == m["max_abs_conv_vs_matmul"]
    # Y's column 0 put back at its pixels paints the same picture as the convolution's channel 0
    same = page.evaluate("""() => { const px = (id) => { const c = document.getElementById(id);
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); };
        const a = px('c4-conv'), b = px('c4-ycol'); return a.length === 16 * 16 * 4 && a.every((v, i) => v === b[i]); }""")
    assert same


def test_step4_matrices_have_the_colour_bar_every_map_has(page, live_server):
    """X, Wᵀ and Y were drawn without a colour bar (the maps of /conv all have one): each has its own
    now, on the one diverging scale, spanning the API's largest |value| of that matrix."""
    page.goto(live_server + "/learn#matrix")
    show_step(page, "matrix")
    m = post(live_server, "/api/pointwise/matmul", {"input": {"kind": "sample", "name": "random8"},
                                                      "layer": {"kernel_size": 1, "out_channels": 4, "bias": False}})
    for plot, key in [("c4-x", "x_matrix"), ("c4-w", "w_matrix"), ("c4-y", "y_matrix")]:
        bar = page.evaluate(f"""() => {{ const gd = document.getElementById('{plot}'), t = gd._fullData[0];
            return {{ shown: t.showscale, zmin: t.zmin, zmax: t.zmax,
              ticks: [...gd.querySelectorAll('.colorbar .cbaxis text, .colorbar text')].map((e) => e.textContent) }}; }}""")
        lim = max(abs(min(m[key]["channel_min"])), abs(max(m[key]["channel_max"])))
        assert bar["shown"] and len(bar["ticks"]) >= 3, (plot, bar)
        assert bar["zmax"] == pytest.approx(lim, rel=1e-6) and bar["zmin"] == pytest.approx(-lim, rel=1e-6), (plot, bar)


def test_step5_counts_and_measures_the_bottleneck_with_the_api(page, live_server):
    page.goto(live_server + "/learn#inception")
    show_step(page, "inception")
    seed = next(c for c in httpx.get(live_server + "/api/comparisons").json() if c["name"] == "seed")
    cost = post(live_server, "/api/cost", {"input_shape": seed["input_shape"], "designs": seed["designs"]})
    assert value_of(page, "#c5-params-0") == cost["designs"][0]["params"] == 256 * 256 * 4 * 4  # 1,048,576
    assert value_of(page, "#c5-params-1") == cost["designs"][1]["params"] == 256 * 64 + 64 * 256 * 4 * 4  # 278,528
    assert page.inner_text("#c5-params-0") == "1,048,576" and page.inner_text("#c5-params-1") == "278,528"
    assert value_of(page, "#c5-params-ratio") == cost["params_ratio"][1] and page.inner_text("#c5-params-ratio") == "3.76×"
    assert value_of(page, "#c5-macs-0") == cost["designs"][0]["macs"]
    assert value_of(page, "#c5-speedup") > 0 and value_of(page, "#c5-ms-0") > 0  # timed live by /api/measure/compare
    change(page, "#c5-width", "32", "inception")
    assert value_of(page, "#c5-params-1") == 256 * 32 + 32 * 256 * 4 * 4
    assert "bw=32" in page.url


def test_step6_pooling_shrinks_h_w_and_the_1x1_shrinks_c(page, live_server):
    page.goto(live_server + "/learn#pooling")
    show_step(page, "pooling")
    change(page, "#c6-pool", "4", "pooling")
    res = post(live_server, "/api/pointwise/reduce", {"input": {"kind": "sample", "name": "colour"}, "reduction": 4, "pool": 4})
    assert page.inner_text("#c6-pool-shape") == "[3×24×32]" == "[" + "×".join(map(str, res[1]["output_shape"])) + "]"
    assert page.inner_text("#c6-conv-shape") == "[1×96×128]" == "[" + "×".join(map(str, res[0]["output_shape"])) + "]"
    assert page.evaluate("[document.getElementById('c6-pool-pic').width, document.getElementById('c6-pool-pic').height]") == [32, 24]
    text = page.inner_text("#c6-figure")
    assert f"{res[0]['params']} weights, {res[0]['work']:,} MACs" in text and res[0]["work"] == 1 * 3 * 96 * 128  # C_out·C_in·H·W
    assert f"{res[1]['params']} weights, {res[1]['work']:,} comparisons" in text
    change(page, "#c6-input", "sample:random8", "pooling")
    assert page.inner_text("#c6-conv-shape") == "[2×16×16]" and page.inner_text("#c6-in-shape") == "[8×16×16]"


def test_step7_a_pixel_click_shows_its_mlp_activations(page, live_server):
    page.goto(live_server + "/learn#nin")
    show_step(page, "nin")
    n = loads(page, "nin")
    click_canvas(page, "c7-input", 70, 100)
    page.wait_for_function(f"Number(document.getElementById('nin').dataset.loads) > {n}")
    nin = post(live_server, "/api/pointwise/nin", {"input": {"kind": "sample", "name": "colour"}, "widths": [8, 4], "row": 70, "col": 100})
    printed = [float(t) for t in page.eval_on_selector_all("#c7-mlp svg text[x]", "ts => ts.map(t => t.textContent)")
               if re.fullmatch(r"-?[0-9.e+-]+", t)]
    expected = nin["input_at_pixel"] + [v for layer in nin["layers"] for v in layer["activation_at_pixel"]]
    assert printed == pytest.approx(expected, abs=5e-4)  # printed to 3 decimals
    assert value_of(page, "#c7-diff") == nin["max_abs_conv_stack_vs_mlp"]


def test_step8_fc_as_conv_and_the_field_a_1x1_keeps(page, live_server):
    page.goto(live_server + "/learn?fk=4#fc")
    show_step(page, "fc")
    fc = post(live_server, "/api/pointwise/fc", {"channels": 4, "block": 4, "outputs": 10, "size": 14})
    assert page.inner_text("#c8-map-shape") == "[" + "×".join(map(str, fc["score_map_shape"])) + "]" == "[10×11×11]"
    assert value_of(page, "#c8-block-diff") == fc["max_abs_block"]
    sizes = [value_of(page, f"#c8-field-{i}") for i in range(3)]
    assert sizes == [4, 4, 4]  # the 4×4 conv sees 4×4 pixels; ReLU and the 1×1 after it see no more
    change(page, "#c8-size", "20", "fc")
    assert page.inner_text("#c8-map-shape") == "[10×17×17]"  # 20 − 4 + 1


def test_step9_answers_are_checked_by_the_api(page, live_server):
    page.goto(live_server + "/learn#check")
    show_step(page, "check")
    check = post(live_server, "/api/layer/check", {"input": {"kind": "random", "shape": [192, 28, 28]},
                                                   "layer": {"out_channels": 64, "kernel_size": 1, "bias": False}})
    for q, answer, right in [("params", 192 * 64, True), ("macs", 192 * 64, False), ("channels", 64, True)]:
        page.fill(f"#q-{q}", str(answer))
        page.click(f"button[data-check='{q}']")
        page.wait_for_function(f"document.getElementById('v-{q}').dataset.right !== undefined")
        assert page.get_attribute(f"#v-{q}", "data-right") == ("1" if right else "0"), q
    assert value_of(page, "#v-params") == check["cost"]["params"] == 192 * 64
    assert value_of(page, "#v-macs") == check["cost"]["macs"] == 192 * 64 * 28 * 28
    page.fill("#q-macs", str(192 * 64 * 28 * 28))
    page.press("#q-macs", "Enter")
    page.wait_for_function("document.getElementById('v-macs').dataset.right === '1'")


def test_a_link_restores_the_steps_and_the_keys_move_between_them(page, live_server):
    page.goto(live_server + "/learn?bw=128&mo=2#inception")
    show_step(page, "inception")
    assert page.evaluate("Math.abs(document.getElementById('inception').getBoundingClientRect().top)") < 40
    assert page.input_value("#c5-width") == "128" and page.input_value("#c4-out") == "2"
    assert value_of(page, "#c5-params-1") == 256 * 128 + 128 * 256 * 4 * 4
    page.keyboard.press("n")
    page.wait_for_function("location.hash === '#pooling'")
    page.keyboard.press("p")
    page.keyboard.press("p")
    page.wait_for_function("location.hash === '#matrix'")
    assert page.evaluate("document.activeElement.id") == "h-matrix"
    assert "bw=128" in page.url and "mo=2" in page.url  # the state survives moving between steps


@pytest.mark.parametrize("step,link,checks", [
    ("convolution", "#c1-link", {"#input-kind": "sample:edges", "#weights-kind": "preset:sobel_x", "#region-row": "30", "#region-col": "17"}),
    ("pointwise", "#c3-link", {"#input-kind": "sample:colour", "#weights-kind": "preset:greyscale"}),
    ("matrix", "#c4-link", {"#input-kind": "sample:random8", "#weights-kind": "random", "#out-channels": "4", "#bias": None}),
    ("nin", "#c7-link", {"#input-kind": "sample:colour", "#nin-widths": "8,4"}),
    ("fc", "#c8-link", {"#fc-k": "8", "#fc-c": "4", "#fc-o": "10", "#fc-size": "14"}),
    ("inception", "#c5-link", {"#preset": "seed", "#in-c": "256"}),
    ("channels", "#c2-link", {"#input-kind": "sample:colour", "#weights-kind": "random", "#weights-seed": "0",
                              "#out-channels": "2", "#kernel-h": "3", "#bias": None}),
    ("pooling", "#c6-link", {"#input-kind": "sample:colour"}),
    ("check", "#c9-link", {"#in-c": "192", "#in-h": "28"}),
])
def test_each_full_view_link_opens_the_same_state(page, live_server, step, link, checks):
    page.goto(live_server + f"/learn?ar=30&ac=17#{step}")
    show_step(page, step)
    href = page.get_attribute(link, "href")
    page.goto(live_server + href)
    ready(page)
    for sel, want in checks.items():
        if want is None:
            assert not page.is_checked(sel), sel
        else:
            assert page.input_value(sel) == want, (sel, href)
    if step == "inception":
        assert "278,528" in page.inner_text("main")  # the cost lab counts the same design
    if step == "check":
        assert "12,288" in page.inner_text("main")  # the quiz's 1×1 192→64, counted by the cost lab
    if step == "pointwise":  # the same pixel: the green disc at (28, 63), written out by /pointwise
        page.wait_for_function("document.getElementById('written-pixel')?.dataset.col === '63'")
        assert page.get_attribute("#written-pixel", "data-row") == "28"
    assert page.watch.errors == []


@pytest.mark.parametrize("width", [1400, 800])
def test_screenshots(browser, live_server, width):
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    pg = ctx.new_page()
    pg.wait_for_function = functools.partial(wait_in_page, pg)  # the CSP has no 'unsafe-eval' (conftest)
    try:
        pg.goto(live_server + "/learn")
        for step in STEPS:
            show_step(pg, step)
        pg.evaluate("window.scrollTo(0, 0)")
        screenshot(pg, f"learn_{width}")
        assert pg.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    finally:
        ctx.close()


@pytest.mark.parametrize("width,height", [(1400, 900), (1280, 720), (800, 900)])
def test_every_step_loaded_passes_the_quality_checks(browser, live_server, width, height):
    """tests/test_browser_quality.py checks /learn as it opens (the steps below load lazily); this checks it
    with all nine figures drawn: axe-core, no sideways scroll, no text under 11 px."""
    from tests.conftest import PageWatch
    from tests.quality import quality_problems
    ctx = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    pg = ctx.new_page()
    watch = PageWatch(pg, live_server)
    try:
        pg.goto(live_server + "/learn")
        for step in STEPS:
            show_step(pg, step)
        assert quality_problems(pg) == []
        assert watch.errors == []
    finally:
        ctx.close()


def test_the_step_modules_keep_to_the_shell_rules():
    """learn.js is checked with the other page scripts (test_page_scripts.py); its step modules and drawing
    helpers go through api.js too, format with format.js and leave the URL to the shell."""
    from tests.test_page_scripts import JS, code
    names = ["learn_draw.js", *sorted(f"learn_steps/{p.name}" for p in (JS / "learn_steps").glob("*.js"))]
    assert len(names) >= 4
    for name in names:
        src = code(name)
        assert not re.search(r"\bfetch\s*\(", src), f"{name} calls fetch: go through api.js"
        assert "toLocaleString" not in src and "history.replaceState" not in src and "URLSearchParams" not in src, name


def test_the_home_page_leads_with_the_question_and_starts_here(page, live_server):
    page.goto(live_server + "/")
    assert page.inner_text("main h1") == "What is a 1×1 convolution?"
    assert page.eval_on_selector("header nav a", "a => a.getAttribute('href')") == "/learn"  # first in the nav
    page.click("a.start-here")
    page.wait_for_url("**/learn")
    show_step(page, "convolution")
    assert page.watch.errors == []


@pytest.mark.parametrize("step,link,section", [
    ("matrix", "#c4-link", "matrix"), ("pooling", "#c6-link", "pooling"), ("nin", "#c7-link", "nin"), ("fc", "#c8-link", "fc"),
])
def test_a_full_view_link_opens_the_section_it_explains(page, live_server, step, link, section):
    """The FC step's "full view" opened /pointwise at its top, on a greyscale pixel, four screens above the
    FC section the learner came for; the link names the section and the page keeps it in view while the
    sections above it fill in (the matrix product and the NiN check arrive after the first load)."""
    page.goto(live_server + f"/learn#{step}")
    show_step(page, step)
    href = page.get_attribute(link, "href")
    assert href.endswith(f"#{section}")
    page.goto(live_server + href)
    ready(page)
    page.wait_for_function("document.getElementById('matmul-check').textContent !== ''"
                           " && document.getElementById('nin-check').textContent !== ''")
    page.wait_for_timeout(300)  # one more layout after the last section is filled
    top, height = page.evaluate(f"[document.getElementById('{section}').getBoundingClientRect().top, innerHeight]")
    assert -2 <= top < height / 3, top  # near the top (the last sections cannot scroll all the way up)
    assert page.watch.errors == []


def test_a_number_out_of_range_is_explained_beside_its_field_and_the_quiz_judges_its_own(page, live_server):
    """/learn has no status line: field_check.js writes beside the field, without repeating its label; the
    quiz's answers are judged by the API ("Not quite (you wrote -5)"), so field_check leaves them alone
    (it had put "How many MACs … input? must be …" into the middle of the question)."""
    page.goto(live_server + "/learn#fc")
    show_step(page, "fc")
    page.fill("#c8-size", "99")
    page.press("#c8-size", "Enter")
    page.wait_for_function("document.getElementById('c8-size-error')?.textContent.includes('must be')")
    top = page.get_attribute("#c8-size", "max")
    assert page.inner_text("#c8-size-error") == f"must be a whole number from {page.get_attribute('#c8-size', 'min')} to {top} (you typed 99)."
    page.goto(live_server + "/learn#check")
    show_step(page, "check")
    page.fill("#q-macs", "-5")
    page.press("#q-macs", "Enter")
    page.wait_for_function("document.getElementById('check').textContent.includes('you wrote -5')")
    assert page.locator("#q-macs-error").count() == 0
    assert page.watch.errors == []


def full_links(page) -> dict:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('section.step .full a')].map(
        (a) => [a.id, {href: a.getAttribute('href'), shown: a.offsetParent !== null && !a.closest('[hidden]')}]))""")


def test_a_full_view_link_is_right_before_its_step_has_loaded(page, live_server):
    """The steps load lazily, and their "Open in the full view" links were a bare /conv (or /pointwise)
    until then, e.g. for a reader tabbing ahead. A link is now built from its step's own state at once,
    or hidden until its step has loaded; after every step has loaded, no link shown early has changed."""
    page.goto(live_server + "/learn")
    ready(page)
    early = full_links(page)
    assert loads(page, "fc") == 0 and loads(page, "check") == 0  # (lazy: not near the screen yet)
    for step in STEPS:
        show_step(page, step)
    late = full_links(page)
    assert all(v["shown"] for v in late.values()), late
    for a, v in early.items():
        if v["shown"]:
            assert v["href"] == late[a]["href"], (a, v, late[a])
    for a in ["c1-link", "c2-link", "c4-link", "c6-link", "c8-link", "c9-link"]:  # built from the state alone
        assert early[a]["shown"], a
    pixel = re.search(r"pixel \((\d+), (\d+)\)", page.inner_text("#c2-out-cap")).groups()
    page.goto(live_server + early["c2-link"]["href"])  # taken early, it opens the step's own pixel
    ready(page)
    assert page.input_value("#out-channels") == "2"
    assert page.inner_text("#position-label").endswith(f"output ({pixel[0]}, {pixel[1]})")
