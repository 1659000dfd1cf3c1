"""The transposed-convolution page in real Chromium, checked against the API's numbers."""
from __future__ import annotations

import httpx
import pytest

from app.encoding import decode_array
from tests.conftest import ready, screenshot


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
