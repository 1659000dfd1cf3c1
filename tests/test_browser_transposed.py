"""The transposed-convolution page in real Chromium, checked against the API's numbers."""
from __future__ import annotations

import httpx
import pytest

from app.encoding import decode_array
from tests.conftest import ready, screenshot, wait_in_page


def label(page) -> str:
    return page.locator("#position-label").text_content()


def total(page) -> dict:
    return page.evaluate("() => { const t = document.getElementById('total-line'); "
                         "return {value: Number(t.dataset.value), engine: Number(t.dataset.engine), text: t.textContent}; }")


def test_opens_on_a_bilinear_upsampling_of_a_sample_and_steps_both_readings(page, live_server):
    page.goto(live_server + "/transposed")
    ready(page)
    assert "output [1×192×192] from input [1×96×96]" in page.locator("#layer-message").text_content()
    assert label(page).startswith("1/36")
    # bilinear ×2: k = 4, s = 2, p = 1: each output value is covered by 2×2 stamps, so 4 input pixels
    assert page.locator("#scatter-input .tap").count() == 4
    assert page.locator("#scatter-output .stamp").count() == 4
    assert page.locator("#gather-input .tap").count() == 16  # the 4×4 window, zeros and padding included
    assert page.locator("#gather-input .tap.pad").count() == 12
    t = total(page)
    assert t["value"] == pytest.approx(t["engine"], abs=1e-6) and "scatter = gather = engine" in t["text"]
    page.keyboard.press("ArrowRight")
    assert label(page).startswith("2/36")
    out = decode_array(httpx.post(live_server + "/api/transposed", json={
        "input": {"kind": "sample", "name": "edges"}, "layer": {"stride": 2, "output_padding": 0, "dilation": 1},
        "weights": {"kind": "upsample", "name": "bilinear"}}).json()["output"])
    r, c = (int(v) for v in label(page).split("output (")[1].rstrip(")").split(", "))
    assert total(page)["engine"] == pytest.approx(float(out[0, r, c]), abs=1e-6)
    for w, h in ((1400, 900), (1280, 720), (800, 900)):
        page.set_viewport_size({"width": w, "height": h})
        screenshot(page, f"transposed_{w}x{h}")


def test_random_layer_with_output_padding_explains_the_ambiguous_shapes(page, live_server):
    page.goto(live_server + "/transposed?w=random&in=random:2,5,5,0,normal&s=2&p=1&op=1&co=3&kh=3&kw=3")
    ready(page)
    # a Conv2d(k=3, s=2, p=1) maps inputs of 9 and 10 to 5; output_padding 1 picks 10
    assert "{9, 10}" in page.locator("#restores").text_content()
    assert "output [3×10×10]" in page.locator("#layer-message").text_content()
    page.keyboard.press("End")
    t = total(page)
    assert t["value"] == pytest.approx(t["engine"], abs=1e-5)
    # an output_padding not below the stride or the dilation is refused with the rule, not a 500
    page.fill("#output-padding", "2")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('smaller than the stride')")
    assert page.locator("#btn-play").is_disabled()


def test_clicking_the_output_moves_the_animated_region(page, live_server):
    page.goto(live_server + "/transposed")
    ready(page)
    page.locator("#output-canvas").scroll_into_view_if_needed()
    box = page.locator("#output-canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 10.5 / 192, box["y"] + box["height"] * 20.5 / 192)
    page.wait_for_function("document.getElementById('position-label').textContent.includes('output (17, 7)')")
    assert "rr=17" in page.url and "rc=7" in page.url


def rows_overlap(a, b) -> bool:
    return a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


@pytest.mark.parametrize("width,height", [(1400, 900), (1280, 720), (800, 900)])
def test_both_readings_break_only_before_an_operator(browser, live_server, width, height):
    """At 1400×900 the gather's products table wrapped under "window ⊙ kernel =", leaving "=" at a line's
    end; each stamp's "= 0.188" wrapped alone onto the next line; and "Σ = 0.55" stood twice, once for the
    channel and once for all of them, with nothing to tell them apart."""
    from tests.conftest import page_at

    with page_at(browser, live_server, width, height) as page:
        page.goto(live_server + "/transposed")
        ready(page)
        chan = page.locator("#computation .chan").first
        tables = chan.locator("table").all()
        ops = [chan.locator(".op", has_text=op).bounding_box() for op in ("⊙", "=")]
        for op, after in zip(ops, [t.bounding_box() for t in tables[1:]]):
            assert rows_overlap(op, after) and op["x"] + op["width"] <= after["x"] + 1, (op, after)
        for stamp in page.locator("#computation .stamp").all():  # no term split inside itself
            terms = stamp.locator(".term").all()
            assert len(terms) == 3 and all(t.bounding_box()["height"] < 24 for t in terms), stamp.inner_text()
        sums = page.locator("#computation .both .small, #computation .both .total").all_inner_texts()
        assert len([s for s in sums if s.startswith("Σ =")]) == 0, sums  # each Σ says what it sums
        assert page.watch.errors == []


def test_a_channel_the_layer_does_not_have_is_named_not_a_crash(page, live_server):
    """The bilinear layer has one input and one output channel: "input channel shown" 3 threw "Cannot read
    properties of undefined (reading 'length')", and output channel 5 went silently back to 0. Both fields
    now say how many channels there are."""
    page.goto(live_server + "/transposed")
    ready(page)
    for field, name in (("in-channel", "input channel shown"), ("channel", "output channel")):
        page.fill(f"#{field}", "3")
        page.press(f"#{field}", "Tab")
        page.wait_for_function(f"document.getElementById('{field}').getAttribute('aria-invalid') === 'true'")
        assert f"{name} must be a whole number from 0 to 0 (you typed 3)" in page.inner_text("#layer-message")
        page.fill(f"#{field}", "0")
        page.press(f"#{field}", "Tab")
    assert page.watch.errors == []


@pytest.mark.parametrize("width,height", [(1400, 900), (1280, 720), (800, 900)])
def test_the_weights_choice_is_read_whole(browser, live_server, width, height):
    """The aside cut the chosen weights at 1400×900: "bilinear upsampling (one kernel per channe". The
    options fit; "one kernel per channel" is said in the note under them."""
    import functools

    ctx = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = ctx.new_page()
        page.wait_for_function = functools.partial(wait_in_page, page)  # the CSP forbids Playwright's own
        page.goto(live_server + "/transposed")
        ready(page)
        for value in ("bilinear", "nearest", "random"):
            page.select_option("#weights-kind", value)
            fits = page.evaluate("""() => { const s = document.getElementById('weights-kind'), span = document.createElement('span');
                span.style.font = getComputedStyle(s).font; span.style.whiteSpace = 'pre';
                span.textContent = s.options[s.selectedIndex].textContent; document.body.append(span);
                const need = span.getBoundingClientRect().width; span.remove();
                return [need, s.clientWidth - 16]; }""")  # 16 px: the select's arrow
            assert fits[0] <= fits[1], (value, fits)
        page.select_option("#weights-kind", "bilinear")
        page.wait_for_function("document.getElementById('layer-note').textContent.includes('one kernel per channel')")
    finally:
        ctx.close()


def test_a_change_is_one_request_and_a_shared_link_restores_it(page, live_server):
    """A control change sends one POST /api/transposed/view (the page sent the check, the run and the trace
    one after another); a click on the output traces the new square alone; the URL, reloaded, shows the
    same layer, square and step. The square is where the server puts it (the page no longer derives it)."""
    from tests.test_browser_change import CHANGE, RECORD

    page.goto(live_server + "/transposed?w=random")
    ready(page)
    page.evaluate(RECORD)
    change = page.evaluate(CHANGE, ["kernel-h", "5"])
    assert change["requests"] == ["/api/transposed/view"]
    assert "kh=5" in page.url and "rr=" not in page.url
    body = {"input": {"kind": "sample", "name": "edges"}, "weights": {"kind": "random", "seed": 0},
            "layer": {"stride": 2, "output_padding": 0, "dilation": 1, "padding": 1, "out_channels": 2,
                      "kernel_size": [5, 3], "groups": 1}}
    busiest = httpx.post(live_server + "/api/transposed/view", json={**body, "trace": {"size": 6}}).json()["trace"]
    r = busiest["region"]
    assert label(page) == f"1/36 · output ({r['row_start']}, {r['col_start']})"
    page.evaluate(RECORD)
    page.locator("#output-canvas").scroll_into_view_if_needed()
    box = page.locator("#output-canvas").bounding_box()
    c, h, w = httpx.post(live_server + "/api/transposed/check", json=body).json()["output_shape"]
    page.mouse.click(box["x"] + box["width"] * (w - 0.5) / w, box["y"] + box["height"] * (h - 0.5) / h)  # bottom right
    page.wait_for_function(f"document.getElementById('position-label').textContent.includes('output ({h - 6}, {w - 6})')")
    moved = page.evaluate("() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)"
                          ".filter((p) => p.startsWith('/api/'))")
    assert moved == ["/api/transposed/trace"]  # the square moved inside the output: the server placed it
    assert f"rr={h - 1 - 3}" in page.url and f"rc={w - 1 - 3}" in page.url
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert label(page) == f"3/36 · output ({h - 6}, {w - 4})"
    page.wait_for_function("location.search.includes('t=2')")
    page.goto(page.url)  # the shared link
    ready(page)
    assert page.input_value("#kernel-h") == "5"
    assert label(page) == f"3/36 · output ({h - 6}, {w - 4})"
    t = total(page)
    assert t["value"] == pytest.approx(t["engine"], abs=1e-5)
    page.reload()
    ready(page)
    assert label(page) == f"3/36 · output ({h - 6}, {w - 4})"
    page.evaluate(RECORD)
    bad = page.evaluate(CHANGE, ["output-padding", "2"])  # invalid: the verdict, with no failed request
    assert bad["requests"] == ["/api/transposed/view"]
    assert "smaller than the stride" in page.text_content("#layer-message")
    assert page.watch.errors == []
