"""The home page in real Chromium: it renders a live convolution, offline, without console errors."""
from __future__ import annotations

import httpx

from tests.conftest import ready, screenshot


def test_index_renders_demo_offline(page, live_server):
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-demo-ready='1']", timeout=15000)
    assert page.locator("#demo .main-svg").count() > 0  # Plotly drew the heatmap
    assert page.locator(".sample img").count() >= 4
    caption = page.locator("#demo-caption").inner_text()
    assert "[1×96×96]" in caption and "82,944 MACs" in caption  # 96·96·9, from the API's cost
    widths = page.eval_on_selector_all(".sample img", "imgs => imgs.map(i => i.naturalWidth)")
    assert all(w > 0 for w in widths)  # every preview image really loaded
    screenshot(page, "index")
    assert page.watch.errors == []
    assert page.watch.foreign == []


def test_a_sample_card_opens_conv_on_that_sample(page, live_server):
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-demo-ready='1']", timeout=15000)
    names = page.eval_on_selector_all("#samples .sample", "cs => cs.map(c => c.dataset.name)")
    assert len(names) >= 4
    name = names[1]
    page.click(f"#samples .sample[data-name='{name}']")
    page.wait_for_url(f"**/conv?*in=sample%3A{name}*")
    ready(page)
    assert page.input_value("#input-kind") == f"sample:{name}"
    h, w = next(s["shape"] for s in httpx.get(live_server + "/api/samples").json() if s["name"] == name)[1:]
    assert f"×{h}×{w}]" in page.inner_text("#layer-message")  # /conv ran its layer on that sample (padding keeps H, W)
    assert page.watch.errors == []


def test_the_demo_says_what_its_colours_and_border_lines_are(page, live_server):
    """A class looking at the Sobel-x demo asked what blue and red mean and why there are lines down the
    left and right borders (the zero padding around a grey background). The page says both, with the
    padding the API reports, and the colour it names for positive is the one the scale draws on top."""
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-demo-ready='1']", timeout=15000)
    check = httpx.post(live_server + "/api/layer/check", json={"input": {"kind": "sample", "name": "edges"},
        "layer": {"padding": 1}, "weights": {"kind": "preset", "name": "sobel_x"}}).json()
    reading = page.inner_text("#demo-reading")
    assert "Blue: brighter to the right" in reading and "red" in reading
    assert f"padding {check['layer']['padding'][1][0]}" in reading and "left and right borders" in reading
    top = page.evaluate("document.getElementById('demo').data[0].colorscale.at(-1)[1]")  # "rgb(r, g, b)"
    r, g, b = (int(v) for v in top[top.index("(") + 1:-1].split(","))
    assert b > r  # positive is drawn blue
