"""The /conv defects of issue 11, one Chromium test each; every one of them failed on the page before
its fix (the old page was run against this file to see it go red)."""
from __future__ import annotations

import httpx
import pytest

from tests.conftest import ready
from tests.images import png_rgb
from tests.test_browser_conv import api_output, position, shown


def change(page, selector: str, value: str, loads: int):
    """Set a control as a user would (select or type, then leave it) and wait for the n-th load."""
    if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
        page.select_option(selector, value)
    else:
        page.fill(selector, value)
        page.dispatch_event(selector, "change")
    ready(page, loads)


def test_groups_caption_follows_the_layer(page, live_server):
    page.goto(live_server + "/conv")
    ready(page)
    assert "groups = 1" in page.inner_text("#stage")
    change(page, "#weights-kind", "preset:sobel_x", 2)  # depthwise: groups = 3
    page.wait_for_function("document.getElementById('connectivity-plot').querySelector('.main-svg')")
    text = page.inner_text("#stage")
    assert "groups = 1" not in text and "every output channel reads all" not in text
    assert "groups = 3" in text
    assert page.watch.errors == []


def test_upload_label_goes_when_a_sample_is_chosen(page, live_server, tmp_path):
    f = tmp_path / "dropped.png"
    f.write_bytes(png_rgb(20, 24))
    page.goto(live_server + "/conv")
    ready(page)
    page.set_input_files("#file-input", str(f))
    ready(page, 2)
    assert "dropped.png" in page.inner_text("#input-box")
    change(page, "#input-kind", "sample:edges", 3)
    assert "dropped.png" not in page.inner_text("#input-box")
    assert "[4×96×96]" in page.inner_text("#layer-message")
    change(page, "#input-kind", "upload", 4)  # back to the upload: its label comes back with it
    assert "dropped.png" in page.inner_text("#input-box")


def test_one_input_channel_is_not_a_range(page, live_server):
    page.goto(live_server + "/conv?w=preset%3Abox_blur&oc=1")
    ready(page)
    caption = page.inner_text("#input-caption")
    assert caption == "(input channel 1 feeds output channel 1)" and "1–1" not in caption


def test_a_1x1_kernel_sets_padding_0_visibly_and_it_stays_editable(page, live_server):
    page.goto(live_server + "/conv")
    ready(page)
    page.fill("#kernel-h", "1")
    page.fill("#kernel-w", "1")
    # Wait for the state, not for a count of loads: on a loaded machine the 1×3 load of the first fill
    # can still be finishing when the second one's answer is shown, so "the next load" is ambiguous.
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('[4×96×128]') && "
                           "document.getElementById('padding').value === '0' && location.search.includes('p=0') && "
                           "!/Σ = [^=]* \\+ /.test(document.getElementById('computation').textContent) && "  # 1 product
                           "!document.getElementById('computation').innerHTML.includes('pad')")
    assert "padding set to 0" in page.inner_text("#padding-note")
    assert shown(page)["label"]
    page.fill("#padding", "1")
    page.dispatch_event("#padding", "change")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('[4×98×130]')")
    page.wait_for_function("location.search.includes('p=1')")  # written once the load is drawn (shell.js)
    assert page.input_value("#padding") == "1"  # the user can still choose padding 1


@pytest.mark.parametrize("preset,padding,shape", [("greyscale", "0", "[1×96×128]"), ("sobel_x", "same", "[3×96×128]")])
def test_a_preset_sets_its_padding(page, live_server, preset, padding, shape):
    page.goto(live_server + "/conv")
    ready(page)
    change(page, "#weights-kind", f"preset:{preset}", 2)
    assert page.input_value("#padding") == padding
    assert shape in page.inner_text("#layer-message")
    assert page.inner_text("#padding-note").startswith(f"padding set to {padding}")


def test_the_animation_starts_where_the_input_has_detail(page, live_server):
    page.goto(live_server + "/conv")
    ready(page)
    body = {"input": {"kind": "sample", "name": "colour"}, "layer": {"padding": 1}, "region_size": 12}
    region = httpx.post(live_server + "/api/convolve", json=body).json()["region"]
    assert (region["row_start"], region["col_start"]) != (0, 0)
    assert position(page) == (region["row_start"], region["col_start"])
    assert page.locator("#input-plot .tap.pad").count() == 0  # the first window reads no padding


def test_drag_on_the_whole_input_moves_the_region(page, live_server):
    page.goto(live_server + "/conv")
    ready(page)
    before = position(page)
    gd = page.locator("#overview-plot")
    gd.scroll_into_view_if_needed()
    pt = page.evaluate("""() => { const gd = document.getElementById('overview-plot'), xa = gd._fullLayout.xaxis,
        ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
        const at = (row, col) => ({x: r.left + xa._offset + xa.l2p(col), y: r.top + ya._offset + ya.l2p(row)});
        return {a: at(70, 20), b: at(80, 30)}; }""")
    page.mouse.move(pt["a"]["x"], pt["a"]["y"])
    page.mouse.down()
    page.mouse.move(pt["b"]["x"], pt["b"]["y"], steps=4)
    page.mouse.up()
    page.wait_for_function("document.getElementById('position-label').textContent.includes('output (74, 24)')")
    assert position(page) != before
    assert "rr=74" in page.url and "rc=24" in page.url


def test_a_shared_link_keeps_the_channel_and_the_region(page, live_server):
    page.goto(live_server + "/conv")
    ready(page)
    page.click("#channels-plot figure[data-channel='2']")
    page.wait_for_function("document.getElementById('oc-label').textContent === '2'")
    page.fill("#region-row", "40")
    page.fill("#region-col", "50")
    page.wait_for_function("document.getElementById('position-label').textContent.includes('output (40, 50)')")
    page.click("h1")
    page.keyboard.press("ArrowRight")
    url = page.url
    assert "oc=2" in url and "rr=40" in url and "rc=50" in url and "t=1" in url
    page.goto(url)
    ready(page)
    assert page.inner_text("#oc-label") == "2"
    assert position(page) == (40, 51)
    assert shown(page)["value"] == pytest.approx(float(api_output(live_server)[2, 40, 51]), abs=1e-5)


def test_a_1x1_layer_links_to_pointwise_with_the_same_input_and_weights(page, live_server):
    page.goto(live_server + "/conv?kh=1&kw=1&p=0&ws=5&co=2")
    ready(page)
    link = page.get_attribute("#pointwise-href", "href")
    assert link.startswith("/pointwise?") and "in=sample%3Acolour" in link and "ws=5" in link and "co=2" in link
    page.click("#pointwise-href")
    page.wait_for_url("**/pointwise?*")
    page.wait_for_function("Number(document.body.dataset.ready || 0) >= 1", timeout=20000)
    assert page.input_value("#weights-seed") == "5" and page.input_value("#out-channels") == "2"
    page.goto(live_server + "/conv")
    ready(page)
    assert page.locator("#pointwise-link").is_hidden()  # a 3×3 layer is not one


def test_play_is_one_tab_and_enter_away(page, live_server):
    page.goto(live_server + "/conv")
    ready(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the player"
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.id === 'btn-play'")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('btn-play').getAttribute('aria-label') === 'pause'")


def test_rapid_changes_end_on_the_last_one(page, live_server):
    """Instant controls: every change is sent at once; answers a newer change superseded are dropped,
    so the page ends on the last value, whatever order the answers came back in."""
    page.goto(live_server + "/conv")
    ready(page)
    page.evaluate("""() => { const el = document.getElementById('kernel-h');
        for (const v of ['5', '7', '1', '9', '5']) { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); } }""")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('[4×94×128]')")  # 5×3, padding 1
    ready(page, 2)
    page.wait_for_timeout(500)  # any late answer of an older change would land here
    assert "[4×94×128]" in page.inner_text("#layer-message")
    assert page.locator("#input-plot .tap").count() == 3 * 5 * 3  # a 5×3 window on 3 channels
    assert page.watch.errors == []


def test_a_new_input_starts_where_it_has_detail(page, live_server):
    """The region a user moved belongs to that input: choosing another input lets the server pick again."""
    page.goto(live_server + "/conv?rr=0&rc=0")
    ready(page)
    assert position(page) == (0, 0)
    change(page, "#input-kind", "sample:edges", 2)
    body = {"input": {"kind": "sample", "name": "edges"}, "layer": {"padding": 1}, "region_size": 12}
    region = httpx.post(live_server + "/api/convolve", json=body).json()["region"]
    assert position(page) == (region["row_start"], region["col_start"]) != (0, 0)
    assert "rr=" not in page.url


def test_groups_offers_only_what_the_api_allows_after_an_invalid_link(page, live_server):
    """A link asking for groups = 2 on 3 input channels shows it as not allowed; choosing 1 leaves only
    the API's choices (the control is rebuilt only when they change, never left stale)."""
    page.goto(live_server + "/conv?g=2")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('groups=2 must divide')")
    assert page.eval_on_selector_all("#groups option", "os => os.map(o => o.textContent)") == ["1", "2 (not allowed)"]
    page.select_option("#groups", "1")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('[4×96×128]')")
    ready(page)
    assert page.eval_on_selector_all("#groups option", "os => os.map(o => o.textContent)") == ["1"]


def test_a_negative_factor_is_written_in_parentheses(page, live_server):
    """The written-out sum read "0×-0.036": a negative factor is now bracketed, "0×(−0.036)"."""
    page.goto(f"{live_server}/conv")
    ready(page)
    text = page.inner_text("#computation")
    assert "Σ = " in text and "×(" in text  # Kaiming weights at seed 0 include negatives
    assert "×-" not in text and "×−" not in text, text[:400]


@pytest.mark.parametrize("size", [1, 2, 12])
def test_region_ticks_are_whole_output_indices(page, live_server, size):
    """A 1-pixel region's map read 59.6, 59.8, 60 on its row axis (/learn step 1's full-view link): every
    tick the region map writes is a whole output index inside the region, as are the output map's."""
    page.goto(f"{live_server}/conv?in=sample%3Aedges&p=1&w=preset%3Asobel_x&rr=60&rc=22&rs={size}&t=0")
    ready(page)
    page.wait_for_function(f"document.getElementById('region-caption').textContent.includes('rows 60–{60 + size - 1}')")
    for plot, rows, cols in [("region-plot", range(60, 60 + size), range(22, 22 + size)), ("output-plot", range(96), range(128))]:
        ticks = page.evaluate(f"document.getElementById('{plot}')._heatmap.geom.geoms[0].ticks")
        assert ticks["x"] and ticks["y"], (plot, ticks)
        for axis, allowed in [("y", rows), ("x", cols)]:
            assert all(t.isdigit() and int(t) in allowed for t in ticks[axis]), (plot, axis, ticks[axis])


@pytest.mark.parametrize("kernel", [5, 3])
def test_a_small_layer_opened_from_network_starts_inside_the_input(page, live_server, kernel):
    """A layer of the built-in model with an 8×8 output, opened from /network: the busiest 12×12 region
    is the whole output (the API's region below), so the animation began at output (0, 0), a window
    mostly in padding. The server now picks the positions whose windows read no padding (one request), and
    the page starts there."""
    from urllib.parse import parse_qs, urlparse

    rows = httpx.get(live_server + "/api/models/digits").json()["layers"]
    row = next(r for r in rows if r["op"] == "Conv" and r["kernel"] == [kernel, kernel] and r["out_shape"][2:] == [8, 8])
    page.goto(live_server + "/network?ik=test&ti=7")
    ready(page)
    page.click(f'button.open-layer[data-layer="{row["name"]}"]')
    page.wait_for_url("**/conv?**")
    ready(page)
    q = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
    _, model, input_id, layer_name = q["in"].split(":", 3)
    body = {"input": {"kind": "activation", "model": model, "input": input_id, "layer": layer_name},
            "layer": {"stride": int(q["s"]), "padding": int(q["p"]), "dilation": int(q["d"]), "groups": int(q["g"]),
                      "bias": q["b"] == "1", "flip": False, "activation": "none"},
            "weights": {"kind": "layer", "model": model, "layer": row["name"]}}
    whole = {"channel": 0, "row_start": 0, "row_stop": 8, "col_start": 0, "col_stop": 8}  # a 12×12 region: all of it
    every = httpx.post(live_server + "/api/trace", json={**body, "region": whole}).json()["traces"]
    inside = [(t["row"], t["col"]) for t in every if not any(map(any, t["is_padding"]))]
    first, last = min(inside), max(inside)
    api = httpx.post(live_server + "/api/convolve", json={**body, "region_size": 12}).json()["region"]
    assert (api["row_start"], api["row_stop"] - 1) == (first[0], last[0])  # the server picks the windows with no padding
    assert (api["col_start"], api["col_stop"] - 1) == (first[1], last[1])
    assert page.inner_text("#position-label").endswith(f"output ({first[0]}, {first[1]})")
    assert page.inner_text("#region-caption") == f"channel 0, rows {first[0]}–{last[0]}, cols {first[1]}–{last[1]}"
    assert page.locator("#input-plot .tap").count() > 0 and page.locator("#input-plot .tap.pad").count() == 0
    assert "rr=" not in page.url and "rs=" not in page.url  # the server's choice, not the user's
    assert page.watch.errors == []


def rows_overlap(a, b) -> bool:
    return a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


@pytest.mark.parametrize("width,height", [(1280, 720), (1400, 900), (800, 900)])
def test_the_written_out_equation_breaks_only_before_an_operator(browser, live_server, width, height):
    """At 1280×720 the products table wrapped under "window ⊙ weights =", leaving "=" at the end of a
    line with nothing after it. Each operator now sits on the line of the table it leads to, left of it:
    "window ⊙ weights" then "= products" (or all on one line where they fit)."""
    from tests.conftest import page_at
    from tests.quality import quality_problems

    with page_at(browser, live_server, width, height, bypass_csp=True) as page:  # axe is injected
        page.goto(live_server + "/conv")
        ready(page)
        chan = page.locator("#computation .chan").first
        tables = [chan.locator(f"table:has(caption:text-is('{c}'))").bounding_box() for c in ("window", "weights", "products")]
        ops = [chan.locator(".op", has_text=op).bounding_box() for op in ("⊙", "=")]
        for op, after in zip(ops, tables[1:]):
            assert rows_overlap(op, after) and op["x"] + op["width"] <= after["x"] + 1, (op, after)
        assert rows_overlap(tables[0], tables[1])  # window ⊙ weights on one line at these widths
        if width == 1280:  # the column is too narrow for all three: "= products" on the next line
            assert tables[2]["y"] >= tables[1]["y"] + tables[1]["height"] - 1
        assert page.watch.errors == [] and quality_problems(page) == []


@pytest.mark.parametrize("kernel,page_path", [(3, "conv"), (1, "pointwise")])
def test_a_layer_page_links_back_to_its_network(page, live_server, kernel, page_path):
    """/conv and /pointwise opened on a model's layer had no way back but the browser's Back: a link
    under the title opens /network on that model, with the input it was showing (a test image here)."""
    rows = httpx.get(live_server + "/api/models/digits").json()["layers"]
    row = next(r for r in rows if r["op"] == "Conv" and r["kernel"] == [kernel, kernel] and r["in_shape"][1] > 1)
    page.goto(live_server + "/network?ik=test&ti=7")
    ready(page)
    page.click(f'button.open-layer[data-layer="{row["name"]}"]')
    page.wait_for_url(f"**/{page_path}?**")
    ready(page)
    page.wait_for_function("document.querySelector('#network-back a')?.textContent.includes('Digits')")
    back = page.locator("#network-back a")
    assert back.is_visible() and back.bounding_box()["y"] < 300  # under the title, on the first screen
    back.click()
    page.wait_for_url("**/network?m=digits&ik=test&ti=7")
    ready(page)
    assert page.input_value("#model") == "digits"
    assert page.input_value("#input-kind") == "test" and page.input_value("#test-index") == "7"
    assert page.locator(f'button.open-layer[data-layer="{row["name"]}"]').count() == 1  # that model's layers
    assert page.watch.errors == []


def test_a_page_not_on_a_models_layer_has_no_network_link(page, live_server):
    page.goto(live_server + "/conv")
    ready(page)
    assert page.locator("#network-back").count() == 0
