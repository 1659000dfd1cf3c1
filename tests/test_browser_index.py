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
